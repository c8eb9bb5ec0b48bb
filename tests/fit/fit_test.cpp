// End-to-end tests of run_fit on generated .npy files: outputs, resume, and every bad input.
#include "iis/fit/fit.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <functional>

#include "fit_fixture.hpp"

namespace iis::fit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A 4-class problem in D = 24 whose classes lie along 4 of the 30 element vectors.
class FitTest : public test_fixture::GeneratedFitTest {
 protected:
  void SetUp() override {
    GeneratedFitTest::SetUp();
    torch::manual_seed(11);
    auto dirs = torch::zeros({4, 24});
    for (int i = 0; i < 4; ++i) dirs[i][i] = 1;
    write_splits(dirs, 4, 3.0, 600, 200);
    write_elements(torch::cat({dirs, torch::randn({26, 24})}));
    io::save_npy(dir / "element_labels.npy", torch::arange(30, torch::kInt64) % 3);
    options.num_concepts = 20;
    options.concept_options.select = "first";
    options.ratios = {0, 0.5, 0.9};
    options.epochs = 3;
    options.batch_size = 128;
  }
};

TEST_F(FitTest, WritesResultsCurvesConceptsAndHeads) {
  auto summary = run_fit(options);
  auto r = results();
  EXPECT_EQ(r, results::to_json(summary.results));
  EXPECT_EQ(r["concept_type"], "prototype");
  EXPECT_EQ(r["num_classes"], 4);
  EXPECT_GT(r["standard_accuracy"].get<double>(), 0.8);
  ASSERT_EQ(r["ratios"].size(), 3u);
  // kept follows the strict rule: K − floor(K·r) − 1.
  EXPECT_EQ(r["ratios"][0]["kept"], 19);
  EXPECT_EQ(r["ratios"][1]["kept"], 9);
  EXPECT_EQ(r["ratios"][2]["kept"], 1);
  // IIS is the trapezoid of the reported accuracies over the standard accuracy.
  double iis = 0;
  const double std_acc = r["standard_accuracy"].get<double>();
  for (size_t i = 0; i + 1 < 3; ++i) {
    const double a = r["ratios"][i]["top1"].get<double>() / std_acc;
    const double b = r["ratios"][i + 1]["top1"].get<double>() / std_acc;
    iis += (a + b) / 2 *
           (r["ratios"][i + 1]["ratio"].get<double>() - r["ratios"][i]["ratio"].get<double>());
  }
  EXPECT_NEAR(r["iis"].get<double>(), iis, 1e-12);
  EXPECT_TRUE(r["iis_chance_corrected"].is_number());
  EXPECT_EQ(r["iis_std"].get<double>(), 0.0);
  // Per-epoch curves: 3 epochs for each head.
  EXPECT_EQ(r["per_seed"][0]["curves"]["ratios"][1]["val_top1"].size(), 3u);
  // Files.
  auto concepts = io::load_npy(dir / "out/concepts.npy");
  EXPECT_EQ(concepts.sizes(), (std::vector<int64_t>{20, 24}));
  auto expected = io::load_npy(dir / "elements.npy").narrow(0, 0, 20);
  expected = expected / expected.norm(2, 1, true);
  EXPECT_TRUE(torch::allclose(concepts, expected, 1e-5, 1e-6));
  EXPECT_EQ(io::load_npy(dir / "out/seeds/0/heads/weight.npy").sizes(),
            (std::vector<int64_t>{3, 4, 20}));
  EXPECT_EQ(io::load_npy(dir / "out/seeds/0/heads/standard_weight.npy").sizes(),
            (std::vector<int64_t>{4, 24}));
  auto curve = core::read_text(dir / "out/curve.csv");
  EXPECT_EQ(std::count(curve.begin(), curve.end(), '\n'), 4);
  auto epochs = core::read_text(dir / "out/epochs.csv");
  EXPECT_EQ(std::count(epochs.begin(), epochs.end(), '\n'), 1 + 3 * (1 + 3));
}

// K = 20 with the strict rule keeps nothing at r = 0.95 and 0.98: a warning on stderr and in
// results.json names them and the K that keeps a concept everywhere (51).
TEST_F(FitTest, RatiosKeepingNoConceptAreWarnedAbout) {
  options.ratios = {0, 0.9, 0.95, 0.98};
  options.epochs = 1;
  core::set_progress_mode(core::ProgressMode::Plain);
  testing::internal::CaptureStderr();
  run_fit(options);
  const std::string err = testing::internal::GetCapturedStderr();
  core::set_progress_mode(core::ProgressMode::Quiet);
  auto r = results();
  EXPECT_EQ(r["ratios"][2]["kept"], 0);
  ASSERT_EQ(r["warnings"].size(), 1u);
  const std::string w = r["warnings"][0];
  EXPECT_NE(w.find("--num-concepts 20 with --threshold strict keeps no concept at ratios 0.95, "
                   "0.98"),
            std::string::npos)
      << w;
  EXPECT_NE(w.find("--num-concepts 51 or more"), std::string::npos) << w;
  EXPECT_NE(err.find("warning: " + w), std::string::npos) << err;
  // Every ratio keeps a concept: no warning, an empty list.
  options.num_concepts = 30;
  options.ratios = {0, 0.9};
  options.out = dir / "out2";
  run_fit(options);
  auto quiet = json::parse(core::read_text(dir / "out2/results.json"));
  EXPECT_TRUE(quiet["warnings"].is_array());
  EXPECT_TRUE(quiet["warnings"].empty());
}

TEST_F(FitTest, SeedsGiveMeanAndStdAndRerunsReuseFinishedSeeds) {
  options.seeds = {0, 1};
  options.concept_options.select = "random";
  run_fit(options);
  auto r = results();
  ASSERT_EQ(r["per_seed"].size(), 2u);
  const double a = r["per_seed"][0]["iis"].get<double>(), b = r["per_seed"][1]["iis"].get<double>();
  EXPECT_NEAR(r["iis"].get<double>(), (a + b) / 2, 1e-12);
  EXPECT_NEAR(r["iis_std"].get<double>(), std::fabs(a - b) / std::sqrt(2.0), 1e-12);
  // Same inputs and settings: the finished seeds are reused and the numbers are identical.
  const auto stamp = fs::last_write_time(dir / "out/seeds/1/seed.json");
  run_fit(options);
  EXPECT_EQ(fs::last_write_time(dir / "out/seeds/1/seed.json"), stamp);
  EXPECT_EQ(results()["iis"], r["iis"]);
  // Different settings retrain, in the same folder, with --force.
  options.epochs = 2;
  EXPECT_IIS_ERROR(run_fit(options), "epochs: 3 there, 2 here");
  options.force = true;
  run_fit(options);
  EXPECT_EQ(results()["per_seed"][0]["curves"]["ratios"][0]["val_top1"].size(), 2u);
}

// A folder of other settings (same inputs) is refused, naming what differs; --force replaces
// it and removes what the new run does not write (the other seeds, the other concept files).
TEST_F(FitTest, OutputOfOtherSettingsIsRefusedUnlessForced) {
  options.seeds = {0, 1};
  run_fit(options);
  const auto before = core::read_text(dir / "out/results.json");
  FitOptions other = options;
  other.seeds = {0};
  other.concept_type = "cluster";
  EXPECT_IIS_ERROR(run_fit(other), "concept_type: prototype there, cluster here");
  other = options;
  other.num_concepts = 10;
  EXPECT_IIS_ERROR(run_fit(other), "num_concepts: 20 there, 10 here");
  EXPECT_EQ(core::read_text(dir / "out/results.json"), before);
  // The same settings with fewer seeds resume: seed 0 is reused.
  other = options;
  other.seeds = {0};
  const auto stamp = fs::last_write_time(dir / "out/seeds/0/seed.json");
  run_fit(other);
  EXPECT_EQ(fs::last_write_time(dir / "out/seeds/0/seed.json"), stamp);
  EXPECT_TRUE(fs::exists(dir / "out/seeds/1/seed.json"));  // still of these settings
  // --force with other settings: nothing of the earlier run is left.
  other.concept_type = "cluster";
  other.force = true;
  run_fit(other);
  EXPECT_EQ(results()["concept_type"], "cluster");
  EXPECT_FALSE(fs::exists(dir / "out/seeds/1"));
  EXPECT_FALSE(fs::exists(dir / "out/seeds/0/concept_index.npy"));
  EXPECT_TRUE(fs::exists(dir / "out/seeds/0/element_concept.npy"));
  // --force with the same settings keeps the finished seeds it lists, drops the others.
  other.seeds = {0, 1};
  other.force = false;
  run_fit(other);
  other.seeds = {1};
  other.force = true;
  const auto stamp1 = fs::last_write_time(dir / "out/seeds/1/seed.json");
  run_fit(other);
  EXPECT_EQ(fs::last_write_time(dir / "out/seeds/1/seed.json"), stamp1);
  EXPECT_FALSE(fs::exists(dir / "out/seeds/0"));
}

TEST_F(FitTest, SameSeedSameNumbers) {
  run_fit(options);
  auto first = results();
  core::remove_tree(dir / "out");
  run_fit(options);
  auto second = results();
  EXPECT_EQ(first["ratios"], second["ratios"]);
  EXPECT_EQ(first["per_seed"][0]["curves"], second["per_seed"][0]["curves"]);
}

TEST_F(FitTest, StratifiedIsTheDefaultWithConceptLabels) {
  options.concept_options.select = "";
  options.concept_labels = dir / "element_labels.npy";
  run_fit(options);
  EXPECT_EQ(results()["settings"]["concept_select"], "stratified");
  auto index = io::load_npy(dir / "out/seeds/0/concept_index.npy");
  auto per_class = torch::bincount(index % 3, {}, 3);
  EXPECT_LE((per_class.max() - per_class.min()).item<int64_t>(), 1);
}

// Every bad input: one clear error and nothing written.
TEST_F(FitTest, BadInputsWriteNothing) {
  auto expect_error = [&](const std::function<void(FitOptions&)>& change,
                          const std::string& message) {
    FitOptions o = options;
    change(o);
    EXPECT_IIS_ERROR(run_fit(o), message);
    EXPECT_FALSE(fs::exists(o.out)) << message;
  };
  auto write = [&](const std::string& name, const torch::Tensor& t) {
    io::save_npy(dir / name, t);
    return dir / name;
  };
  auto train_x = io::load_npy(dir / "train_x.npy");
  auto nan_x = train_x.clone();
  nan_x[5][3] = NAN;
  auto inf_x = train_x.clone();
  inf_x[7][0] = INFINITY;
  expect_error([&](FitOptions& o) { o.train_features = write("nan.npy", nan_x); }, "NaN or Inf");
  expect_error([&](FitOptions& o) { o.val_features = write("inf.npy", inf_x.narrow(0, 0, 200)); },
               "NaN or Inf");
  auto val_y = io::load_npy(dir / "val_y.npy");
  auto big = val_y.clone();
  big[3] = 7;
  expect_error([&](FitOptions& o) { o.val_labels = write("big.npy", big); },
               "label 7 at row 3 is out of range");
  auto negative = val_y.clone();
  negative[2] = -1;
  expect_error([&](FitOptions& o) { o.val_labels = write("neg.npy", negative); }, "negative");
  auto fractional = val_y.to(torch::kFloat32);
  fractional[4] = 1.5;
  expect_error([&](FitOptions& o) { o.val_labels = write("frac.npy", fractional); },
               "not an integer");
  expect_error([&](FitOptions& o) { o.num_classes = 3; }, "out of range");
  // Concept labels name classes too: one outside [0, 4) would become a stratum of its own.
  auto element_labels = torch::arange(30, torch::kInt64) % 4;
  element_labels[7] = 4;
  expect_error(
      [&](FitOptions& o) {
        o.concept_labels = write("elabels.npy", element_labels);
        o.concept_options.select = "stratified";
      },
      "--concept-labels " + (dir / "elabels.npy") + ": label 4 at row 7 is out of range");
  expect_error([&](FitOptions& o) { o.train_labels = write("short.npy", val_y); },
               "--train-labels has 200 labels but --train-features has 600 rows");
  expect_error(
      [&](FitOptions& o) {
        o.concepts = write("narrow.npy", torch::randn({30, 23}));
      },
      "--concepts has dimension 23 but the features have 24");
  expect_error(
      [&](FitOptions& o) {
        o.val_features = write("v23.npy", torch::randn({200, 23}));
      },
      "--val-features has dimension 23");
  expect_error([&](FitOptions& o) { o.num_concepts = 31; }, "more than the 30 concepts");
  expect_error(
      [&](FitOptions& o) {
        o.train_features = write("empty.npy", torch::zeros({0, 24}));
      },
      "--train-features");
  expect_error(
      [&](FitOptions& o) {
        o.concepts = write("noelem.npy", torch::zeros({0, 24}));
      },
      "--concepts");
  expect_error([&](FitOptions& o) { o.ratios = {0, 0.5, 1.0}; }, "1 is outside [0, 1)");
  expect_error([&](FitOptions& o) { o.ratios = {-0.1, 0.5}; }, "outside [0, 1)");
  expect_error([&](FitOptions& o) { o.ratios = {0, 0.5, 0.5}; }, "appears twice");
  expect_error([&](FitOptions& o) { o.ratios = {0, 0.7, 0.5}; }, "--ratios must rise");
  expect_error([&](FitOptions& o) { o.lrs = {0.01, -1}; }, "--lrs");
  expect_error([&](FitOptions& o) { o.epochs = 0; }, "--epochs must be ≥ 1");
  expect_error([&](FitOptions& o) { o.seeds = {1, 1}; }, "--seeds lists a seed twice");
  expect_error([&](FitOptions& o) { o.threshold = "loose"; }, "--threshold");
  expect_error([&](FitOptions& o) { o.select_on = "test"; }, "--select-on");
  expect_error([&](FitOptions& o) { o.device = "tpu"; }, "--device must be cpu, cuda or cuda:N");
  if (!torch::cuda::is_available()) {
    expect_error([&](FitOptions& o) { o.device = "cuda:1"; },
                 "--device cuda:1: CUDA is not available here");
  }
  expect_error([&](FitOptions& o) { o.concept_options.select = "stratified"; },
               "needs --concept-labels");
  expect_error([&](FitOptions& o) { o.holdout_fraction = 1.0; }, "--holdout-fraction");
  expect_error([&](FitOptions& o) { o.train_features = dir / "missing.npy"; }, "missing.npy");
}

// The class count implied by the training labels is checked before anything of its size is
// allocated or written: one stray label names its file and row; --num-classes overrides.
TEST_F(FitTest, ClassCountMustBeBackedByTheLabels) {
  auto train_y = io::load_npy(dir / "train_y.npy");
  auto with_label = [&](int64_t row, int64_t label) {
    auto y = train_y.clone();
    y[row] = label;
    io::save_npy(dir / "stray.npy", y);
    FitOptions o = options;
    o.train_labels = dir / "stray.npy";
    return o;
  };
  auto expect_error = [&](const FitOptions& o, const std::string& message) {
    EXPECT_IIS_ERROR(run_fit(o), message);
    EXPECT_FALSE(fs::exists(o.out)) << message;
  };
  const std::string stray = dir / "stray.npy";
  expect_error(with_label(17, 5000000), "--train-labels " + stray +
                                            ": label 5000000 at row 17 would make 5000001 "
                                            "classes, more than the 100000 classes");
  expect_error(with_label(3, int64_t{1} << 40), "label 1099511627776 at row 3 would make");
  expect_error(with_label(5, 700),
               "label 700 at row 5 would make 701 classes, more than the 600 "
               "training rows");
  FitOptions gap = with_label(9, 11);  // labels 0..3 and 11: 12 classes, 5 of them seen
  expect_error(gap, "label 11 at row 9 would make 12 classes, while only 5 distinct labels occur");
  FitOptions huge = options;
  huge.num_classes = 1 << 20;
  expect_error(huge, "--num-classes must be in [2, 100000]");
  gap.num_classes = 12;  // stated outright: accepted
  run_fit(gap);
  EXPECT_EQ(results()["num_classes"], 12);
}

// A hold-out share that leaves nothing to train on is refused before anything is written.
TEST_F(FitTest, HoldoutLeavingNoRowsWritesNothing) {
  options.select_on = "holdout";
  options.holdout_fraction = 0.9999;
  EXPECT_IIS_ERROR(run_fit(options), "--holdout-fraction 0.9999 leaves no training rows of 600");
  EXPECT_FALSE(fs::exists(options.out));
}

TEST_F(FitTest, ExistingOutputOfOtherInputsIsRefused) {
  run_fit(options);
  const auto before = core::read_text(dir / "out/results.json");
  torch::manual_seed(5);
  io::save_npy(dir / "other_x.npy", torch::randn({600, 24}));
  FitOptions other = options;
  other.train_features = dir / "other_x.npy";
  EXPECT_IIS_ERROR(run_fit(other), "holds results of different inputs");
  EXPECT_EQ(core::read_text(dir / "out/results.json"), before);
  other.force = true;  // replaces them
  run_fit(other);
  EXPECT_NE(results()["inputs_key"], json::parse(before)["inputs_key"]);
  // A non-empty folder that is not an iis fit output is refused too.
  fs::create_directories(dir / "busy");
  core::write_text_atomic(dir / "busy/notes.txt", "mine");
  other = options;
  other.out = dir / "busy";
  EXPECT_IIS_ERROR(run_fit(other), "holds no earlier `iis fit` output");
  EXPECT_FALSE(fs::exists(dir / "busy/results.json"));
  other.force = true;  // --force never removes what `iis fit` did not write
  EXPECT_IIS_ERROR(run_fit(other), "holds no earlier `iis fit` output");
  EXPECT_EQ(core::read_text(dir / "busy/notes.txt"), "mine");
}

TEST_F(FitTest, HoldoutSelectionAndOtherThresholds) {
  options.select_on = "holdout";
  options.threshold = "exact";
  options.lrs = {0.01, 0.03};
  run_fit(options);
  auto r = results();
  EXPECT_EQ(r["ratios"][0]["kept"], 20);
  EXPECT_EQ(r["ratios"][2]["kept"], 2);
  EXPECT_EQ(r["per_seed"][0]["rows"]["holdout"], 60);
  EXPECT_EQ(r["per_seed"][0]["rows"]["train"], 540);
  EXPECT_TRUE(r["per_seed"][0]["curves"]["ratios"][0].contains("holdout_top1"));
  EXPECT_EQ(r["per_seed"][0]["curves"]["ratios"].size(), 6u);  // 3 ratios × 2 lrs
}

}  // namespace
}  // namespace iis::fit
