// End-to-end tests of run_fit with --concept-type cluster: k-means centres as concepts.
#include <torch/torch.h>

#include "iis/concepts/kmeans.hpp"
#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/fit/fit.hpp"
#include "iis/io/npy.hpp"
#include "test_support.hpp"

namespace iis::fit {
namespace {

using nlohmann::json;

// A 3-class problem in D = 16; the 300 elements form 6 tight groups around class directions.
class FitClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core::set_progress_mode(core::ProgressMode::Quiet);
    torch::manual_seed(5);
    auto dirs = torch::randn({6, 16});
    auto make = [&](int64_t n, const std::string& x, const std::string& y) {
      auto labels = torch::randint(0, 3, {n}, torch::kInt64);
      io::save_npy(dir / x, dirs.index_select(0, labels) * 3 + torch::randn({n, 16}));
      io::save_npy(dir / y, labels);
    };
    make(450, "train_x.npy", "train_y.npy");
    make(150, "val_x.npy", "val_y.npy");
    elements = dirs.repeat({50, 1}) + 0.05 * torch::randn({300, 16});
    io::save_npy(dir / "elements.npy", elements);
    options.train_features = dir / "train_x.npy";
    options.train_labels = dir / "train_y.npy";
    options.val_features = dir / "val_x.npy";
    options.val_labels = dir / "val_y.npy";
    options.concepts = dir / "elements.npy";
    options.out = dir / "out";
    options.concept_type = "cluster";
    options.num_concepts = 6;
    options.ratios = {0, 0.5};
    options.epochs = 2;
    options.batch_size = 128;
  }

  json results() const { return json::parse(core::read_text(dir / "out/results.json")); }

  test::TempDir dir;
  torch::Tensor elements;
  FitOptions options;
};

TEST_F(FitClusterTest, SavesUnitKMeansCentresAndNamesTheType) {
  run_fit(options);
  auto r = results();
  EXPECT_EQ(r["concept_type"], "cluster");
  EXPECT_EQ(r["settings"]["concept_type"], "cluster");
  EXPECT_FALSE(r["settings"].contains("concept_select"));
  EXPECT_EQ(r["settings"]["kmeans"]["max_iter"], 300);
  ASSERT_EQ(r["kmeans"].size(), 1u);
  EXPECT_TRUE(r["kmeans"][0]["converged"].get<bool>());

  // concepts.npy is cluster_concepts() of the elements with the seed's k-means settings.
  torch::Tensor saved = io::load_npy(dir / "out/concepts.npy");
  concepts::KMeansOptions k;
  k.k = 6;
  k.seed = 0;
  concepts::KMeansResult details;
  torch::Tensor expected = concepts::cluster_concepts(elements, k, &details);
  EXPECT_TRUE(torch::allclose(saved, expected, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(saved.norm(2, 1), torch::ones({6}), 1e-5, 1e-5));
  EXPECT_NEAR(r["kmeans"][0]["inertia"].get<double>(), details.inertia, 1e-9 * details.inertia);
  // The 6 tight groups are found: the within-cluster spread is the noise alone.
  EXPECT_LT(details.inertia, 300 * 16 * 0.05 * 0.05 * 1.5);
  torch::Tensor element_concept = io::load_npy(dir / "out/seeds/0/element_concept.npy");
  EXPECT_TRUE(torch::equal(element_concept, details.labels));
}

TEST_F(FitClusterTest, MoreSeedsKeepTheFirstSeedsConcepts) {
  run_fit(options);
  const auto first = io::load_npy(dir / "out/concepts.npy");
  options.seeds = {0, 1};
  run_fit(options);  // seed 0 is reused (same k-means settings), seed 1 is new
  auto r = results();
  ASSERT_EQ(r["kmeans"].size(), 2u);
  EXPECT_TRUE(torch::equal(io::load_npy(dir / "out/seeds/0/concepts.npy"), first));
}

TEST_F(FitClusterTest, BadOptionsNameTheFlag) {
  options.concept_type = "clusters";
  EXPECT_IIS_ERROR(run_fit(options), "--concept-type");
  options.concept_type = "cluster";
  options.kmeans_max_iter = 0;
  EXPECT_IIS_ERROR(run_fit(options), "--kmeans-max-iter");
  options.kmeans_max_iter = 300;
  options.kmeans_tol = -1;
  EXPECT_IIS_ERROR(run_fit(options), "--kmeans-tol");
  options.kmeans_tol = 1e-4;
  options.kmeans_max_elements = 4;
  EXPECT_IIS_ERROR(run_fit(options), "--kmeans-max-elements");
  options.kmeans_max_elements = 20000;
  options.num_concepts = 301;
  EXPECT_IIS_ERROR(run_fit(options), "--num-concepts");
}

}  // namespace
}  // namespace iis::fit
