// Correlation coefficients across backbones: Pearson on values, Spearman on average ranks.
#pragma once

#include <vector>

namespace iis::report {

// Ranks 1..n of `values` (ascending); tied values share the mean of the ranks they span,
// e.g. {10, 20, 20, 30} → {1, 2.5, 2.5, 4}.
std::vector<double> average_ranks(const std::vector<double>& values);

// Pearson's r of two equally long series. NaN when n < 2 or either series is constant
// (the coefficient is undefined there, and a report must not invent one).
double pearson(const std::vector<double>& x, const std::vector<double>& y);

// Spearman's rho: Pearson's r of the average ranks (ties handled as above). NaN as above.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace iis::report
