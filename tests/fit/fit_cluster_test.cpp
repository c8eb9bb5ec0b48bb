// End-to-end tests of run_fit with --concept-type cluster: k-means centres as concepts.
#include <torch/torch.h>

#include "fit_fixture.hpp"
#include "iis/concepts/kmeans.hpp"

namespace iis::fit {
namespace {

using nlohmann::json;

// A 3-class problem in D = 16; the 300 elements form 6 tight groups around class directions.
class FitClusterTest : public test_fixture::GeneratedFitTest {
 protected:
  void SetUp() override {
    GeneratedFitTest::SetUp();
    torch::manual_seed(5);
    auto dirs = torch::randn({6, 16});
    write_splits(dirs, 3, 3.0, 450, 150);
    elements = dirs.repeat({50, 1}) + 0.05 * torch::randn({300, 16});
    write_elements(elements);
    options.concept_type = "cluster";
    options.num_concepts = 6;
    options.ratios = {0, 0.5};
    options.epochs = 2;
    options.batch_size = 128;
  }

  torch::Tensor elements;
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
  options.concept_options.kmeans.max_iter = 0;
  EXPECT_IIS_ERROR(run_fit(options), "--kmeans-max-iter");
  options.concept_options.kmeans.max_iter = 300;
  options.concept_options.kmeans.tol = -1;
  EXPECT_IIS_ERROR(run_fit(options), "--kmeans-tol");
  options.concept_options.kmeans.tol = 1e-4;
  options.concept_options.kmeans.max_elements = 4;
  EXPECT_IIS_ERROR(run_fit(options), "--kmeans-max-elements");
  options.concept_options.kmeans.max_elements = 20000;
  options.num_concepts = 301;
  EXPECT_IIS_ERROR(run_fit(options), "--num-concepts");
}

}  // namespace
}  // namespace iis::fit
