// run_predict against the fit it loads: accuracy on the fit's own validation rows equals the
// fit's top-1 bit for bit (every concept type, every seed and ratio), the default ratio rule,
// preds.csv, and features of another backbone refused.
#include "iis/predict/predict.hpp"

#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "fit/fit_fixture.hpp"

namespace iis::predict {
namespace {

using nlohmann::json;

// A 4-class problem in D = 24, 2 seeds; 2500 validation rows, more than one chunk of the heads.
class PredictTest : public fit::test_fixture::GeneratedFitTest {
 protected:
  void SetUp() override {
    GeneratedFitTest::SetUp();
    torch::manual_seed(5);
    auto dirs = torch::zeros({4, 24});
    for (int i = 0; i < 4; ++i) dirs[i][i] = 1;
    write_splits(dirs, 4, 1.2, 900, 2500);
    write_elements(torch::cat({dirs, torch::randn({56, 24})}));
    options.num_concepts = 40;
    options.ratios = {0, 0.5, 0.9};
    options.epochs = 3;
    options.batch_size = 128;
    options.seeds = {0, 3};
  }

  PredictOptions predict_options(double ratio, int64_t seed) const {
    PredictOptions p;
    p.fit = options.out;
    p.choice = {ratio, seed};
    p.source.features = options.val_features;
    p.source.labels = options.val_labels;
    p.out = dir / "preds.csv";
    return p;
  }

  // Every seed and ratio: predict's accuracies are the fit's figures, to the last bit.
  void expect_fit_accuracies() {
    const auto r = results::read_results(dir / "out/results.json");
    for (const auto& seed : r.per_seed) {
      for (size_t i = 0; i < r.ratios.size(); ++i) {
        const auto p = run_predict(predict_options(r.ratios[i].ratio, seed.seed));
        ASSERT_TRUE(p.accuracy.has_value());
        EXPECT_EQ(*p.accuracy, seed.ratios[i].top1) << "seed " << seed.seed << " ratio " << i;
        EXPECT_EQ(*p.standard_accuracy, seed.standard.top1);
        EXPECT_EQ(*p.retention, seed.ratios[i].top1 / seed.standard.top1);
      }
    }
  }
};

TEST_F(PredictTest, PrototypeAccuracyOnValidationIsTheFitsTop1) {
  fit::run_fit(options);
  expect_fit_accuracies();
}

TEST_F(PredictTest, ClusterAccuracyOnValidationIsTheFitsTop1) {
  options.concept_type = "cluster";
  fit::run_fit(options);
  expect_fit_accuracies();
}

TEST_F(PredictTest, End2EndAccuracyOnValidationIsTheFitsTop1) {
  options.concept_type = "end2end";
  fit::run_fit(options);
  expect_fit_accuracies();
}

TEST_F(PredictTest, PredsCsvAgreesWithTheAccuracyItReports) {
  fit::run_fit(options);
  const auto p = run_predict(predict_options(0.5, 3));
  std::ifstream csv(p.csv);
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "row,predicted,probability,standard_predicted,standard_probability,kept,label");
  int64_t rows = 0, hits = 0, std_hits = 0;
  const int64_t keep = heads::kept_concepts(40, 0.5, heads::ThresholdRule::Strict);
  while (std::getline(csv, line)) {
    std::istringstream in(line);
    std::vector<std::string> f;
    for (std::string x; std::getline(in, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 7u) << line;
    EXPECT_EQ(std::stoll(f[0]), rows);
    EXPECT_GT(std::stod(f[2]), 0.25 - 1e-9);  // the top of 4 probabilities
    EXPECT_LE(std::stod(f[2]), 1.0);
    EXPECT_EQ(std::stoll(f[5]), keep);
    hits += f[1] == f[6];
    std_hits += f[3] == f[6];
    ++rows;
  }
  EXPECT_EQ(rows, 2500);
  EXPECT_EQ(static_cast<double>(hits) / 2500, *p.accuracy);
  EXPECT_EQ(static_cast<double>(std_hits) / 2500, *p.standard_accuracy);
  const json summary = json::parse(core::read_text(p.json));
  EXPECT_EQ(summary["accuracy"].get<double>(), *p.accuracy);
  EXPECT_EQ(summary["seed"], 3);
  EXPECT_EQ(summary["ratio"], 0.5);
}

TEST(DefaultRatio, LargestRatioKeepingTheRetention) {
  results::FitResults r;
  for (auto [ratio, arr] : std::vector<std::pair<double, double>>{
           {0, 1.01}, {0.5, 0.97}, {0.7, 0.95}, {0.9, 0.949}, {0.95, 0.96}})
    r.ratios.push_back({ratio, 0, 0, 0, 0, 0, 0, 0, 0, arr});
  std::string why;
  EXPECT_EQ(default_ratio(r, 0.95, why), 4u);  // 0.95 keeps 0.96 even though 0.9 does not
  EXPECT_NE(why.find("ratio 0.95"), std::string::npos) << why;
  r.ratios.pop_back();
  EXPECT_EQ(default_ratio(r, 0.95, why), 2u);  // exactly 0.95 counts
  EXPECT_EQ(default_ratio(r, 1.5, why), 0u);
  EXPECT_NE(why.find("smallest"), std::string::npos) << why;
}

TEST_F(PredictTest, UnknownRatioOrSeedIsRefusedNamingTheFlag) {
  options.seeds = {0};
  fit::run_fit(options);
  EXPECT_THROW(
      {
        try {
          run_predict(predict_options(0.3, 0));
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("--ratio 0.3"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  EXPECT_THROW(run_predict(predict_options(0.5, 7)), Error);
}

// Writes PREFIX.features.npy and PREFIX.embed.json as `iis embed` would name them.
void write_embedded(const std::string& prefix, const torch::Tensor& x, const std::string& backbone,
                    const std::string& preprocessing = "p1") {
  io::save_npy(prefix + ".features.npy", x);
  std::ofstream(prefix + ".embed.json") << json{
      {"backbone", "native:" + backbone},
      {"backbone_fingerprint", backbone},
      {"preprocessing", preprocessing},
      {"preprocessing_fingerprint",
       preprocessing}}.dump();
}

TEST_F(PredictTest, FeaturesOfAnotherBackboneAreRefused) {
  options.seeds = {0};
  const auto val = io::load_npy(options.val_features) + 1e-3;  // not the fit's own file
  write_embedded(dir / "train", io::load_npy(options.train_features), "mlp");
  options.train_features = dir / "train.features.npy";
  fit::run_fit(options);
  auto p = predict_options(0.5, 0);
  p.source.features = dir / "same.features.npy";
  write_embedded(dir / "same", val, "mlp");
  EXPECT_TRUE(run_predict(p).warnings.empty());
  write_embedded(dir / "other", val, "resnet8");
  p.source.features = dir / "other.features.npy";
  try {
    run_predict(p);
    ADD_FAILURE() << "features of another backbone were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("backbone_fingerprint differs"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("native:resnet8"), std::string::npos) << e.what();
  }
  write_embedded(dir / "crop", val, "mlp", "p2");
  p.source.features = dir / "crop.features.npy";
  EXPECT_THROW(run_predict(p), Error);   // same backbone, other preprocessing
  p.source.features = dir / "bare.npy";  // no embed.json: refused unless told
  io::save_npy(p.source.features, val);
  EXPECT_THROW(run_predict(p), Error);
  p.source.skip_fingerprint_check = true;
  EXPECT_EQ(run_predict(p).warnings.size(), 1u);
}

}  // namespace
}  // namespace iis::predict
