// run_fit with --concept-type text on generated data with planted concepts: what results.json
// and the seed folder record, the retention curve, and the bad inputs of the type.
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "fit_fixture.hpp"

namespace iis::fit {
namespace {

using nlohmann::json;

// Classes are the largest of 4 latent factors z, which the representation holds; CLIP sees z
// and 4 factors u the representation does not hold. Concepts: z0-z3 (kept), u0-u3 (dropped by
// the interpretability cut-off), never0-1 (CLIP never activates them: the CLIP cut-off).
class FitTextTest : public test_fixture::GeneratedFitTest {
 protected:
  void SetUp() override {
    GeneratedFitTest::SetUp();
    torch::manual_seed(11);
    const auto mix = torch::randn({4, 16});
    auto make = [&](int64_t rows, const std::string& split) {
      const auto z = torch::randn({rows, 4});
      const auto u = torch::randn({rows, 4});
      io::save_npy(dir / (split + "_x.npy"),
                   torch::matmul(z, mix) + 0.05 * torch::randn({rows, 16}));
      io::save_npy(dir / (split + "_y.npy"), z.argmax(1));
      io::save_npy(dir / (split + "_clip.npy"), torch::cat({z, u, torch::zeros({rows, 2})}, 1));
    };
    make(2000, "train");
    make(600, "val");
    io::save_npy(dir / "text.npy", torch::eye(10));
    std::ofstream(dir / "names.txt") << "z0\nz1\nz2\nz3\nu0\nu1\nu2\nu3\nnever0\nnever1\n";
    options.train_features = dir / "train_x.npy";
    options.train_labels = dir / "train_y.npy";
    options.val_features = dir / "val_x.npy";
    options.val_labels = dir / "val_y.npy";
    options.out = dir / "out";
    options.concept_type = "text";
    auto& t = options.concept_options.text;
    t.clip_train_features = dir / "train_clip.npy";
    t.clip_val_features = dir / "val_clip.npy";
    t.text_features = dir / "text.npy";
    t.concept_names = dir / "names.txt";
    t.proj_steps = 2000;
    t.proj_lr = 1e-2;
    options.ratios = {0, 0.5};
    options.epochs = 10;
    options.batch_size = 256;
    options.seeds = {0};
  }
};

TEST_F(FitTextTest, KeepsThePredictableConceptsAndScoresOnThem) {
  run_fit(options);
  const json r = results();
  EXPECT_EQ(r["concept_type"], "text");
  EXPECT_EQ(r["num_concepts"], 4);
  EXPECT_FALSE(r["settings"].contains("num_concepts"));
  EXPECT_EQ(r["settings"]["text"]["clip_cutoff"], 0.25);
  const json& t = r["text_concepts"];
  EXPECT_EQ(t["kept"], json({"z0", "z1", "z2", "z3"}));
  ASSERT_EQ(t["dropped_by_clip_cutoff"].size(), 2u);
  EXPECT_EQ(t["dropped_by_clip_cutoff"][0]["name"], "never0");
  ASSERT_EQ(t["dropped_by_interpretability_cutoff"].size(), 4u);
  // Per ratio and class, the concepts of largest weight; class c is "z_c is the largest".
  ASSERT_EQ(t["top_concepts"].size(), 2u);
  ASSERT_EQ(t["top_concepts"][0].size(), 4u);
  for (int c = 0; c < 4; ++c)
    EXPECT_EQ(t["top_concepts"][0][c][0]["name"], "z" + std::to_string(c)) << c;
  // The classes are a function of the kept concepts: both heads classify well, and keeping half
  // of the four concepts per row costs accuracy but keeps most of it.
  EXPECT_GT(r["standard_accuracy"].get<double>(), 0.85);
  EXPECT_GT(r["ratios"][0]["arr"].get<double>(), 0.9);
  EXPECT_GT(r["ratios"][1]["arr"].get<double>(), 0.5);
  for (const char* input :
       {"clip_train_features", "clip_val_features", "text_features", "concept_names"})
    EXPECT_TRUE(r["inputs"].contains(input)) << input;
  EXPECT_FALSE(r["inputs"].contains("concepts"));
  EXPECT_EQ(core::read_text(dir / "out/seeds/0/concept_names.txt"), "z0\nz1\nz2\nz3\n");
  EXPECT_EQ(io::load_npy(dir / "out/concepts.npy").sizes(), (torch::IntArrayRef{4, 16}));
  // What iis report and iis score read: the schema takes a text fit's file (no settings K).
  const results::FitResults back = results::read_results(dir / "out/results.json");
  EXPECT_EQ(back.text_concepts->kept.size(), 4u);
  EXPECT_FALSE(back.settings.num_concepts.has_value());
}

// K is what the filters keep (4): a ratio at which the rule keeps none of them is warned about.
TEST_F(FitTextTest, WarnsAboutRatiosTheKeptConceptsCannotServe) {
  options.ratios = {0, 0.9};
  run_fit(options);
  const json r = results();
  ASSERT_EQ(r["warnings"].size(), 1u);
  EXPECT_NE(r["warnings"][0].get<std::string>().find(
                "the 4 concepts the filters kept, with --threshold strict, leave no concept at "
                "ratio 0.9"),
            std::string::npos)
      << r["warnings"][0];
}

// --final-layer saga: the interpretable heads are the elastic net solved per ratio (one head
// per ratio whatever --lrs lists), recorded with their solves; the standard head is unchanged.
TEST_F(FitTextTest, SagaFinalLayerSolvesOneHeadPerRatio) {
  options.lrs = {0.01, 0.02};
  run_fit(options);
  const json adam = results();
  options.concept_options.text.final_layer = "saga";
  options.concept_options.text.saga.max_epochs = 200;
  options.force = true;
  run_fit(options);
  const json r = results();
  EXPECT_EQ(r["settings"]["text"]["final_layer"], "saga");
  EXPECT_EQ(r["settings"]["text"]["saga"]["lambda"], 0.0007);
  EXPECT_EQ(r["standard_accuracy"], adam["standard_accuracy"]);
  const json& solves = r["text_concepts"]["saga"];
  ASSERT_EQ(solves.size(), 2u);
  ASSERT_EQ(r["ratios"].size(), 2u);
  const json seed = json::parse(core::read_text(dir / "out/seeds/0/seed.json"));
  ASSERT_EQ(seed["curves"]["ratios"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(solves[i]["ratio"], options.ratios[i]);
    EXPECT_GT(solves[i]["nonzero_share"].get<double>(), 0.0);
    EXPECT_LE(solves[i]["nonzero_share"].get<double>(), 1.0);
    EXPECT_EQ(seed["ratios"][i]["epoch"], solves[i]["epochs"]);
    EXPECT_EQ(seed["curves"]["ratios"][i]["train_loss"].size(), solves[i]["epochs"].get<size_t>());
  }
  EXPECT_GT(r["ratios"][0]["arr"].get<double>(), 0.9);
  // The saved heads are y = z: no affine part.
  const auto gamma = io::load_npy(dir / "out/seeds/0/heads/gamma.npy");
  const auto beta = io::load_npy(dir / "out/seeds/0/heads/beta.npy");
  EXPECT_TRUE(torch::equal(gamma, torch::ones_like(gamma)));
  EXPECT_TRUE(torch::equal(beta, torch::zeros_like(beta)));
  options.select_on = "holdout";
  EXPECT_IIS_ERROR(run_fit(options), "--select-on holdout does not apply to --final-layer saga");
}

// The embed records beside the CLIP files (PREFIX.embed.json) must name one archive.
TEST_F(FitTextTest, RefusesImageAndTextFeaturesOfDifferentClipArchives) {
  auto record = [&](const std::string& prefix, const std::string& from, const std::string& fp) {
    std::filesystem::copy_file(dir / from, dir / (prefix + ".features.npy"));
    std::ofstream(dir / (prefix + ".embed.json")) << json{{"backbone_fingerprint", fp}}.dump();
    return dir / (prefix + ".features.npy");
  };
  auto& t = options.concept_options.text;
  t.clip_train_features = record("clip_train", "train_clip.npy", "aaaa1111");
  t.clip_val_features = record("clip_val", "val_clip.npy", "aaaa1111");
  t.text_features = record("concepts", "text.npy", "bbbb2222");
  EXPECT_IIS_ERROR(run_fit(options), "--text-features " + t.text_features +
                                         " was embedded with another CLIP archive than "
                                         "--clip-train-features");
  std::ofstream(dir / "concepts.embed.json") << json{{"backbone_fingerprint", "aaaa1111"}}.dump();
  EXPECT_NO_THROW(run_fit(options));
}

TEST_F(FitTextTest, BadInputsNameTheirFlag) {
  auto o = options;
  o.concept_options.text.concept_names.clear();
  EXPECT_IIS_ERROR(run_fit(o), "--concept-names is required with --concept-type text");
  std::ofstream(dir / "short.txt") << "z0\nz1\n";
  o = options;
  o.concept_options.text.concept_names = dir / "short.txt";
  EXPECT_IIS_ERROR(run_fit(o), "has 2 lines but --text-features has 10 rows");
  io::save_npy(dir / "wide.npy", torch::eye(10, 12));
  o = options;
  o.concept_options.text.text_features = dir / "wide.npy";
  EXPECT_IIS_ERROR(run_fit(o), "--text-features has width 12 but the CLIP image features have 10");
  o = options;
  o.concept_options.text.clip_val_features = dir / "train_clip.npy";
  EXPECT_IIS_ERROR(run_fit(o), "--clip-val-features has 2000 rows but --val-features has 600");
  o = options;
  o.concept_type = "prototype";
  EXPECT_IIS_ERROR(run_fit(o), "--concepts is required");
}

}  // namespace
}  // namespace iis::fit
