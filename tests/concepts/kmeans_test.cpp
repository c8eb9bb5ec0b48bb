// Tests of k-means (cluster concepts): recovery of separated clusters, determinism, errors,
// monotone objective, subsampling and the unit-length concepts.
#include "iis/concepts/kmeans.hpp"

#include <torch/torch.h>

#include <limits>
#include <map>
#include <set>

#include "iis/io/npy.hpp"
#include "test_support.hpp"

namespace iis::concepts {
namespace {

// `per_cluster` points around each of `k` well-separated means (spread 20, noise 0.1) in
// `d` dimensions, rows shuffled. Returns the points (M×D) and their true cluster (M).
std::pair<torch::Tensor, torch::Tensor> blobs(int64_t k, int64_t per_cluster, int64_t d,
                                              uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor means = torch::randn({k, d}) * 20;
  torch::Tensor truth = torch::arange(k).repeat_interleave(per_cluster);
  torch::Tensor points = means.index_select(0, truth) + 0.1 * torch::randn({k * per_cluster, d});
  torch::Tensor order = torch::randperm(k * per_cluster);
  return {points.index_select(0, order), truth.index_select(0, order)};
}

// True when `found` equals `truth` up to a renaming of the clusters (a bijection).
bool same_partition(const torch::Tensor& truth, const torch::Tensor& found) {
  std::map<int64_t, int64_t> forward, backward;
  for (int64_t i = 0; i < truth.size(0); ++i) {
    const int64_t t = truth[i].item<int64_t>(), f = found[i].item<int64_t>();
    if (forward.emplace(t, f).first->second != f) return false;
    if (backward.emplace(f, t).first->second != t) return false;
  }
  return true;
}

// Sum over rows of the squared distance to the nearest centre, in double, brute force.
double nearest_inertia(const torch::Tensor& X, const torch::Tensor& C) {
  torch::Tensor x = X.to(torch::kDouble), c = C.to(torch::kDouble);
  torch::Tensor d = (x.unsqueeze(1) - c.unsqueeze(0)).pow(2).sum(2);  // M×K
  return std::get<0>(d.min(1)).sum().item<double>();
}

TEST(KMeans, RecoversSeparatedClustersExactly) {
  for (uint64_t seed = 0; seed < 5; ++seed) {
    auto [points, truth] = blobs(/*k=*/12, /*per_cluster=*/40, /*d=*/16, /*seed=*/100 + seed);
    KMeansOptions options;
    options.k = 12;
    options.seed = seed;
    KMeansResult result = kmeans(points, options);
    EXPECT_TRUE(same_partition(truth, result.labels)) << "seed " << seed;
    EXPECT_TRUE(result.converged);
    // Each centre is its cluster's mean: within the noise of 40 points of the true mean.
    for (int64_t c = 0; c < 12; ++c) {
      torch::Tensor members = points.index_select(0, (result.labels == c).nonzero().squeeze(1));
      EXPECT_TRUE(torch::allclose(result.centres[c], members.mean(0), 1e-4, 1e-4));
    }
    EXPECT_NEAR(result.inertia, nearest_inertia(points, result.centres), 1e-4 * result.inertia);
  }
}

TEST(KMeans, DeterministicPerSeed) {
  torch::manual_seed(7);
  torch::Tensor points = torch::rand({1500, 24});
  KMeansOptions options;
  options.k = 30;
  options.seed = 42;
  KMeansResult a = kmeans(points, options), b = kmeans(points, options);
  EXPECT_TRUE(torch::equal(a.centres, b.centres));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.inertia, b.inertia);
  // Structureless data has many local optima: another seed lands elsewhere.
  options.seed = 43;
  KMeansResult c = kmeans(points, options);
  EXPECT_FALSE(torch::equal(a.centres, c.centres));
}

TEST(KMeans, ObjectiveNeverIncreases) {
  torch::manual_seed(3);
  torch::Tensor points = torch::rand({2000, 8});
  KMeansOptions options;
  options.k = 25;
  options.tol = 0;  // run until the labels stop changing
  KMeansResult result = kmeans(points, options);
  ASSERT_GT(result.inertia_trace.size(), 5u);
  for (size_t i = 1; i < result.inertia_trace.size(); ++i) {
    EXPECT_LE(result.inertia_trace[i], result.inertia_trace[i - 1] * (1 + 1e-6)) << "step " << i;
  }
  EXPECT_LE(result.inertia, result.inertia_trace.back() * (1 + 1e-6));
  EXPECT_LT(result.inertia, result.inertia_trace.front());
  EXPECT_TRUE(result.converged);
  // At convergence every row sits with its nearest centre.
  EXPECT_NEAR(result.inertia, nearest_inertia(points, result.centres), 1e-5 * result.inertia);
}

TEST(KMeans, MaxIterStops) {
  torch::manual_seed(3);
  torch::Tensor points = torch::rand({2000, 8});
  KMeansOptions options;
  options.k = 25;
  options.tol = 0;
  options.max_iter = 2;
  KMeansResult result = kmeans(points, options);
  EXPECT_EQ(result.iterations, 2);
  EXPECT_FALSE(result.converged);
}

TEST(KMeans, GreedySeedingIsNoWorseThanPlainOnAverage) {
  // The greedy k-means++ (2 + ln K trials) is what gives scikit-learn its inertia; averaged
  // over seeds it should beat the one-candidate seeding on structureless data.
  torch::manual_seed(11);
  torch::Tensor points = torch::randn({3000, 16});
  double greedy = 0, plain = 0;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    KMeansOptions options;
    options.k = 40;
    options.seed = seed;
    options.max_iter = 1;  // compare the seedings, not where Lloyd takes them
    greedy += kmeans(points, options).inertia_trace.front();
    options.local_trials = 1;
    plain += kmeans(points, options).inertia_trace.front();
  }
  EXPECT_LT(greedy, plain);
}

TEST(KMeans, SubsamplesAndLabelsEveryRow) {
  auto [points, truth] = blobs(/*k=*/5, /*per_cluster=*/600, /*d=*/8, /*seed=*/5);
  KMeansOptions options;
  options.k = 5;
  options.max_elements = 1000;
  KMeansResult result = kmeans(points, options);
  ASSERT_EQ(result.sample.size(0), 1000);
  std::set<int64_t> distinct;
  for (int64_t i = 0; i < 1000; ++i) distinct.insert(result.sample[i].item<int64_t>());
  EXPECT_EQ(distinct.size(), 1000u);
  ASSERT_EQ(result.labels.size(0), 3000);
  EXPECT_TRUE(same_partition(truth, result.labels));  // rows outside the sample too
  // The inertia is that of the clustered rows only.
  torch::Tensor sampled = points.index_select(0, result.sample);
  EXPECT_NEAR(result.inertia, nearest_inertia(sampled, result.centres), 1e-4 * result.inertia);
}

TEST(KMeans, FewerDistinctPointsThanClusters) {
  // 3 distinct points, 5 clusters: empty clusters are refilled without failing.
  torch::Tensor points =
      torch::tensor({0.f, 0.f, 1.f, 1.f, 5.f, 5.f}).reshape({3, 2}).repeat({4, 1});
  KMeansOptions options;
  options.k = 5;
  KMeansResult result = kmeans(points, options);
  EXPECT_TRUE(torch::isfinite(result.centres).all().item<bool>());
  EXPECT_NEAR(result.inertia, 0.0, 1e-9);
  EXPECT_TRUE((result.labels >= 0).logical_and(result.labels < 5).all().item<bool>());
}

TEST(KMeans, ClusterConceptsAreUnitCentres) {
  auto [points, truth] = blobs(/*k=*/6, /*per_cluster=*/30, /*d=*/10, /*seed=*/9);
  KMeansOptions options;
  options.k = 6;
  KMeansResult details;
  torch::Tensor concepts = cluster_concepts(points, options, &details);
  ASSERT_EQ(concepts.sizes(), (std::vector<int64_t>{6, 10}));
  EXPECT_EQ(concepts.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(concepts.norm(2, 1), torch::ones({6}), 1e-5, 1e-5));
  torch::Tensor direction = details.centres / details.centres.norm(2, 1, true);
  EXPECT_TRUE(torch::allclose(concepts, direction, 1e-5, 1e-5));
}

TEST(KMeans, BadInputGivesClearErrors) {
  KMeansOptions options;
  options.k = 6;
  EXPECT_IIS_ERROR(kmeans(torch::rand({5, 3}), options), "only 5 elements");
  EXPECT_IIS_ERROR(kmeans(torch::rand({0, 3}), options), "empty");
  EXPECT_IIS_ERROR(kmeans(torch::rand({10}), options), "M×D");
  torch::Tensor bad = torch::rand({10, 3});
  bad[7][1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_IIS_ERROR(kmeans(bad, options), "row 7");
  options.k = 0;
  EXPECT_IIS_ERROR(kmeans(torch::rand({10, 3}), options), "K must be >= 1");
  options.k = 6;
  options.max_iter = 0;
  EXPECT_IIS_ERROR(kmeans(torch::rand({10, 3}), options), "--kmeans-max-iter");
  options.max_iter = 300;
  options.tol = -1;
  EXPECT_IIS_ERROR(kmeans(torch::rand({10, 3}), options), "--kmeans-tol");
  options.tol = 1e-4;
  options.max_elements = 4;
  EXPECT_IIS_ERROR(kmeans(torch::rand({10, 3}), options), "--kmeans-max-elements");
}

TEST(KMeans, CommandWritesCentresAndLabels) {
  test::TempDir dir;
  auto [points, truth] = blobs(/*k=*/4, /*per_cluster=*/25, /*d=*/5, /*seed=*/2);
  io::save_npy(dir / "e.npy", points);
  KMeansCommandOptions options;
  options.elements = dir / "e.npy";
  options.out = dir / "c.npy";
  options.labels_out = dir / "l.npy";
  options.normalise = true;
  options.kmeans.k = 4;
  KMeansResult result = run_kmeans(options);
  torch::Tensor centres = io::load_npy(dir / "c.npy");
  EXPECT_TRUE(torch::allclose(centres.norm(2, 1), torch::ones({4}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(io::load_npy(dir / "l.npy"), result.labels));
  EXPECT_TRUE(same_partition(truth, result.labels));
}

}  // namespace
}  // namespace iis::concepts
