// Tests Pearson and Spearman against hand-computed answers, ties by average ranks.
#include "iis/report/correlation.hpp"

#include <cmath>

#include "test_support.hpp"

namespace iis::report {
namespace {

// The textbook one-pass formula, independent of the two-pass code under test.
double pearson_by_sums(const std::vector<double>& x, const std::vector<double>& y) {
  double n = static_cast<double>(x.size()), sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    syy += y[i] * y[i];
    sxy += x[i] * y[i];
  }
  return (n * sxy - sx * sy) / std::sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
}

TEST(Correlation, AverageRanksShareTies) {
  EXPECT_EQ(average_ranks({10, 20, 20, 30}), (std::vector<double>{1, 2.5, 2.5, 4}));
  EXPECT_EQ(average_ranks({3, 1, 2}), (std::vector<double>{3, 1, 2}));
  EXPECT_EQ(average_ranks({5, 5, 5}), (std::vector<double>{2, 2, 2}));
  EXPECT_EQ(average_ranks({2, 1, 2, 1, 3}), (std::vector<double>{3.5, 1.5, 3.5, 1.5, 5}));
}

TEST(Correlation, PearsonMatchesHandComputedValue) {
  // acc deviations ±0.15, ±0.05; IIS deviations -0.0625, -0.0125, -0.0125, 0.0875:
  // Sxy = 0.0225, Sxx = 0.05, Syy = 0.011875 → r = 0.0225 / sqrt(0.05 · 0.011875).
  std::vector<double> acc{0.5, 0.6, 0.7, 0.8}, iis{0.80, 0.85, 0.85, 0.95};
  EXPECT_NEAR(pearson(acc, iis), 0.0225 / std::sqrt(0.05 * 0.011875), 1e-12);
  EXPECT_NEAR(pearson(acc, iis), 0.923380, 1e-6);
  EXPECT_NEAR(pearson(acc, iis), pearson_by_sums(acc, iis), 1e-12);
  // Exactly linear series give ±1; the sign follows the slope.
  EXPECT_NEAR(pearson({1, 2, 3}, {5, 7, 9}), 1.0, 1e-12);
  EXPECT_NEAR(pearson({1, 2, 3}, {9, 7, 5}), -1.0, 1e-12);
}

TEST(Correlation, SpearmanUsesAverageRanksForTies) {
  // Ranks {1,2,3,4} against {1,2.5,2.5,4}: Sxy = 4.5, Sxx = 5, Syy = 4.5 → 3/sqrt(10).
  std::vector<double> acc{0.5, 0.6, 0.7, 0.8}, iis{0.80, 0.85, 0.85, 0.95};
  EXPECT_NEAR(spearman(acc, iis), 3.0 / std::sqrt(10.0), 1e-12);
  // A monotone but non-linear relation: rho = 1 while r < 1.
  std::vector<double> x{1, 2, 3, 4, 5}, y{1, 4, 9, 100, 1000};
  EXPECT_NEAR(spearman(x, y), 1.0, 1e-12);
  EXPECT_LT(pearson(x, y), 0.9);
  // One swapped pair among 4: rho = 1 − 6·2/(4·15) = 0.8.
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {1, 3, 2, 4}), 0.8, 1e-12);
}

TEST(Correlation, UndefinedCasesAreNaN) {
  EXPECT_TRUE(std::isnan(pearson({1}, {2})));
  EXPECT_TRUE(std::isnan(pearson({1, 2, 3}, {4, 4, 4})));
  EXPECT_TRUE(std::isnan(spearman({1, 1}, {1, 2})));
  EXPECT_IIS_ERROR(pearson({1, 2}, {1}), "different lengths");
}

}  // namespace
}  // namespace iis::report
