// The results schema against a real `iis fit` of each concept type: reading what it wrote and
// writing it again gives the same JSON, so the schema holds every key the fit writes.
#include <torch/torch.h>

#include "fit/fit_fixture.hpp"
#include "iis/results/results.hpp"

namespace iis::results {
namespace {

using nlohmann::json;

class ResultsOfFit : public fit::test_fixture::GeneratedFitTest {
 protected:
  void SetUp() override {
    GeneratedFitTest::SetUp();
    torch::manual_seed(3);
    auto dirs = torch::randn({3, 8});
    write_splits(dirs, 3, 2.0, 240, 90);
    write_elements(dirs.repeat({20, 1}) + 0.5 * torch::randn({60, 8}));
    options.num_concepts = 4;
    options.ratios = {0, 0.5, 0.9};  // 0.9 keeps no concept of 4: a warning
    options.epochs = 2;
    options.batch_size = 64;
    options.seeds = {0, 1};
  }

  // Fits, then checks the round trip of results.json and of every seed.json.
  void expect_round_trip() {
    fit::run_fit(options);
    const std::string path = dir / "out/results.json";
    json file = json::parse(core::read_text(path));
    const FitResults read = read_results(path);
    json again = to_json(read);
    EXPECT_EQ(again.at("schema_version"), file.value("schema_version", 0));
    file.erase("schema_version");
    again.erase("schema_version");
    EXPECT_EQ(again.dump(1), file.dump(1));
    for (uint64_t seed : options.seeds) {
      const std::string seed_path = dir / ("out/seeds/" + std::to_string(seed) + "/seed.json");
      EXPECT_EQ(to_json(read_seed_results(seed_path)).dump(1),
                json::parse(core::read_text(seed_path)).dump(1));
    }
    EXPECT_EQ(read.concept_type, options.concept_type);
    EXPECT_EQ(read.seeds, options.seeds);
    EXPECT_FALSE(read.warnings.empty());
  }
};

TEST_F(ResultsOfFit, Prototype) {
  expect_round_trip();
  EXPECT_EQ(read_results(dir / "out/results.json").per_seed[0].concept_select, "random");
}

TEST_F(ResultsOfFit, PrototypeWithHoldoutSelection) {
  options.select_on = "holdout";
  expect_round_trip();
  const auto r = read_results(dir / "out/results.json");
  EXPECT_TRUE(r.per_seed[1].curves.ratios[0].holdout_top1.has_value());
  EXPECT_GT(r.per_seed[1].rows.holdout, 0);
}

TEST_F(ResultsOfFit, Cluster) {
  options.concept_type = "cluster";
  expect_round_trip();
  const auto r = read_results(dir / "out/results.json");
  ASSERT_TRUE(r.kmeans.has_value());
  EXPECT_EQ(r.kmeans->size(), 2u);
  EXPECT_EQ(r.settings.kmeans->max_iter, options.concept_options.kmeans.max_iter);
}

TEST_F(ResultsOfFit, End2End) {
  options.concept_type = "end2end";
  expect_round_trip();
  const auto r = read_results(dir / "out/results.json");
  ASSERT_TRUE(r.per_seed[0].end2end.has_value());
  EXPECT_EQ(r.per_seed[0].end2end->concepts_used.size(), options.ratios.size());
  EXPECT_EQ(r.settings.temperature, options.concept_options.end2end.temperature);
}

}  // namespace
}  // namespace iis::results
