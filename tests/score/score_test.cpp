// Tests of the IIS formula, chance correction and seed statistics on hand-computed cases.
#include "iis/score/score.hpp"

#include <cmath>

#include "test_support.hpp"

namespace iis::score {
namespace {

TEST(Score, RetentionIsRatioOfAccuracies) {
  EXPECT_DOUBLE_EQ(accuracy_retention(0.45, 0.9), 0.5);
  EXPECT_IIS_ERROR(accuracy_retention(0.5, 0.0), "accuracy retention is undefined");
}

TEST(Score, TrapezoidOnHandComputedCurve) {
  // Points (0,1), (0.5,0.8), (0.9,0.4): 0.5*(1+0.8)/2 + 0.4*(0.8+0.4)/2 = 0.45 + 0.24 = 0.69.
  EXPECT_NEAR(trapezoid_area({0, 0.5, 0.9}, {1, 0.8, 0.4}), 0.69, 1e-12);
  // Unsorted input gives the same area: points are sorted by ratio first.
  EXPECT_NEAR(trapezoid_area({0.9, 0, 0.5}, {0.4, 1, 0.8}), 0.69, 1e-12);
  // A flat retention of 1 over the default ratios has area equal to the last ratio.
  std::vector<double> r{0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.98};
  EXPECT_NEAR(trapezoid_area(r, std::vector<double>(r.size(), 1.0)), 0.98, 1e-12);
  EXPECT_DOUBLE_EQ(trapezoid_area({0.3}, {0.7}), 0.0);
  EXPECT_IIS_ERROR(trapezoid_area({0.1, 0.1}, {1, 1}), "appears twice");
  EXPECT_IIS_ERROR(trapezoid_area({0.1}, {1, 1}), "1 ratios but 2 values");
}

TEST(Score, IisFromAccuracies) {
  // Standard 0.8; accuracies 0.8, 0.6, 0.4 at 0, 0.5, 1.0 → ARR 1, 0.75, 0.5.
  // Area = 0.5*(1+0.75)/2 + 0.5*(0.75+0.5)/2 = 0.4375 + 0.3125 = 0.75.
  EXPECT_NEAR(iis({0, 0.5, 1.0}, {0.8, 0.6, 0.4}, 0.8), 0.75, 1e-12);
}

TEST(Score, ChanceCorrection) {
  // 10 classes, chance 0.1: (0.55-0.1)/(1.0-0.1) = 0.5.
  EXPECT_NEAR(chance_corrected_retention(0.55, 1.0, 10), 0.5, 1e-12);
  // An accuracy at chance retains nothing above chance.
  EXPECT_NEAR(chance_corrected_retention(0.1, 0.9, 10), 0.0, 1e-12);
  // Standard 0.6, 4 classes (chance 0.25): accuracies 0.6, 0.425, 0.25 at 0, 0.5, 1 →
  // retention 1, 0.5, 0 → area 0.5*(1.5)/2 + 0.5*(0.5)/2 = 0.375 + 0.125 = 0.5,
  // while the plain IIS is 0.5*(1+0.70833)/2 + 0.5*(0.70833+0.41667)/2 = 0.70833.
  EXPECT_NEAR(iis_chance_corrected({0, 0.5, 1}, {0.6, 0.425, 0.25}, 0.6, 4), 0.5, 1e-12);
  EXPECT_NEAR(iis({0, 0.5, 1}, {0.6, 0.425, 0.25}, 0.6), 0.708333333333, 1e-9);
  EXPECT_IIS_ERROR(chance_corrected_retention(0.3, 0.25, 4), "not above chance");
  EXPECT_IIS_ERROR(chance_corrected_retention(0.3, 0.9, 1), "at least 2 classes");
}

TEST(Score, MeanAndSampleStd) {
  auto s = mean_std({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_NEAR(s.std, std::sqrt(5.0 / 3.0), 1e-12);  // Σ(x-2.5)² = 5, n-1 = 3
  auto one = mean_std({0.7});
  EXPECT_DOUBLE_EQ(one.mean, 0.7);
  EXPECT_DOUBLE_EQ(one.std, 0.0);
}

}  // namespace
}  // namespace iis::score
