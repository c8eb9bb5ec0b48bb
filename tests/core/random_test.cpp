// Tests of the seeded generator and the counter-based stream: known answers of the standard
// algorithms, each integer mapping against its formula, and the properties callers rely on.
#include "iis/core/random.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "test_support.hpp"

namespace iis::core {
namespace {

TEST(Random, TheEngineIsTheStandardMersenneTwister) {
  // [rand.predef]: the 10000th output of a default-constructed mt19937_64 (seed 5489).
  SeededRandom rng(5489);
  uint64_t last = 0;
  for (int i = 0; i < 10000; ++i) last = rng.bits();
  EXPECT_EQ(last, 9981545732273789042ULL);
}

TEST(Random, EachIndexMapIsItsFormula) {
  for (uint64_t n :
       {uint64_t{1}, uint64_t{2}, uint64_t{7}, uint64_t{1000}, (uint64_t{1} << 40) + 3}) {
    SeededRandom rng(11);
    std::mt19937_64 engine(11);
    for (int i = 0; i < 200; ++i) {
      const uint64_t v = engine();
      EXPECT_EQ(rng.index(n, IndexMap::MultiplyShift),
                static_cast<uint64_t>((static_cast<unsigned __int128>(v) * n) >> 64));
      EXPECT_EQ(rng.index(n, IndexMap::Modulo), engine() % n);
      const double u = static_cast<double>(engine() >> 11) * 0x1.0p-53;
      EXPECT_EQ(rng.index(n, IndexMap::Scaled),
                std::min<uint64_t>(n - 1, static_cast<uint64_t>(u * static_cast<double>(n))));
      // Exact: a draw at or above the largest multiple of n is drawn again (rare for small n).
      const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
      uint64_t w;
      do w = engine();
      while (w >= limit);
      EXPECT_EQ(rng.index(n, IndexMap::Exact), w % n);
    }
  }
}

TEST(Random, UniformDrawsStayInTheirIntervals) {
  SeededRandom rng(3);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    const double a = rng.uniform(), b = rng.uniform_open();
    ASSERT_GE(a, 0.0);
    ASSERT_LT(a, 1.0);
    ASSERT_GT(b, 0.0);
    ASSERT_LT(b, 1.0);
    sum += a + b;
  }
  EXPECT_NEAR(sum / 200000, 0.5, 0.005);
}

TEST(Random, PermutationsAndSamplesHoldEachItemOnce) {
  for (IndexMap map :
       {IndexMap::Exact, IndexMap::MultiplyShift, IndexMap::Modulo, IndexMap::Scaled}) {
    SeededRandom rng(5);
    auto p = rng.permutation(100, map);
    std::vector<int64_t> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 100; ++i) ASSERT_EQ(sorted[i], i);
    EXPECT_NE(p, sorted);  // 1/100! to fail by chance
    std::vector<int64_t> items = sorted;
    rng.sample_front(items, 30, map);
    std::set<int64_t> drawn(items.begin(), items.begin() + 30);
    EXPECT_EQ(drawn.size(), 30u);
    std::sort(items.begin(), items.end());
    EXPECT_EQ(items, sorted);
  }
  EXPECT_TRUE(SeededRandom(1).permutation(0, IndexMap::Exact).empty());
}

// The permutation of the heads' shuffles (and of concept samples) must stay the one every
// published figure was trained with: Fisher–Yates from the end with multiply-shift.
TEST(Random, SeededPermutationKeepsTheHeadsSequence) {
  for (uint64_t seed : {0, 1, 42}) {
    for (int64_t n : {1, 2, 10, 1000}) {
      std::vector<int64_t> expected(n);
      for (int64_t i = 0; i < n; ++i) expected[i] = i;
      std::mt19937_64 engine(seed);
      for (int64_t i = n - 1; i > 0; --i) {
        std::swap(expected[i],
                  expected[(static_cast<unsigned __int128>(engine()) * (i + 1)) >> 64]);
      }
      EXPECT_EQ(seeded_permutation(n, seed), expected) << seed << " " << n;
    }
  }
}

TEST(Random, PurposesGiveDifferentStreams) {
  EXPECT_EQ(derive_seed(3, "shuffle", 2), derive_seed(3, "shuffle", 2));
  std::set<uint64_t> seeds{derive_seed(3, "shuffle", 2), derive_seed(3, "shuffle", 3),
                           derive_seed(4, "shuffle", 2), derive_seed(3, "holdout", 2),
                           derive_seed(3, "holdout")};
  EXPECT_EQ(seeds.size(), 5u);
  SeededRandom a(3, "gumbel", 1), b(derive_seed(3, "gumbel", 1));
  EXPECT_EQ(a.bits(), b.bits());
}

TEST(Random, TruncatedNormalStaysWithinTwoStd) {
  auto t = truncated_normal({200, 100}, 0.02, 7);
  EXPECT_EQ(t.scalar_type(), torch::kFloat32);
  EXPECT_LE(t.abs().max().item<float>(), 0.04f);
  EXPECT_NEAR(t.mean().item<double>(), 0.0, 0.001);
  // N(0, 1) truncated to ±2 has standard deviation 0.880.
  EXPECT_NEAR(t.std().item<double>(), 0.02 * 0.880, 0.0005);
  EXPECT_TRUE(torch::equal(t, truncated_normal({200, 100}, 0.02, 7)));
  EXPECT_FALSE(torch::equal(t, truncated_normal({200, 100}, 0.02, 8)));
}

TEST(Random, SplitMix64MatchesItsReferenceOutputs) {
  // The first two outputs of splitmix64 started at 0 (Vigna's reference implementation).
  EXPECT_EQ(splitmix64_at(0, 0), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(splitmix64_at(0, 1), 0x6E789E6AA1B965F4ULL);
}

// The extreme bit patterns map strictly inside (0, 1), so no Gumbel value is ever infinite
// (a draw of exactly 1.0 once turned a whole training run into NaN).
TEST(Random, CounterUniformDrawsStayStrictlyInsideTheUnitInterval) {
  for (uint64_t bits : {uint64_t{0}, ~uint64_t{0}, uint64_t{1} << 63, (uint64_t{1} << 41) - 1}) {
    const float u = uniform_open01(bits);
    EXPECT_GT(u, 0.0f) << bits;
    EXPECT_LT(u, 1.0f) << bits;
    EXPECT_TRUE(std::isfinite(-std::log(-std::log(u)))) << bits;
  }
  EXPECT_EQ(uniform_open01(~uint64_t{0}), 1.0f - 0x1.0p-24f);
}

TEST(Random, CounterUniformIsTheStreamAtEachPositionForAnyThreadCount) {
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  auto a = counter_uniform({70000}, 9);
  at::set_num_threads(2);
  auto b = counter_uniform({70000}, 9);
  at::set_num_threads(before);
  EXPECT_TRUE(torch::equal(a, b));
  const float* p = a.data_ptr<float>();
  for (int64_t i : {0, 1, 32767, 32768, 69999}) {
    EXPECT_EQ(p[i], uniform_open01(splitmix64_at(9, static_cast<uint64_t>(i)))) << i;
  }
}

TEST(Random, TorchSeedIsScopedToTheBuild) {
  torch::manual_seed(123);
  const auto expected_next = torch::randn({4});
  torch::manual_seed(123);
  torch::Tensor first, second;
  with_torch_seed(5, [&] { first = torch::randn({4}); });
  with_torch_seed(5, [&] { second = torch::randn({4}); });
  EXPECT_TRUE(torch::equal(first, second));
  // The caller's stream continues as if nothing had been drawn, also after a throw.
  EXPECT_THROW(with_torch_seed(6, [] { throw std::runtime_error("x"); }), std::runtime_error);
  EXPECT_TRUE(torch::equal(torch::randn({4}), expected_next));
}

}  // namespace
}  // namespace iis::core
