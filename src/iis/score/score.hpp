// The Inherent Interpretability Score: accuracy retention, the trapezoid area, chance
// correction, and mean/std over seeds (docs/design.md §6).
#pragma once

#include <cstdint>
#include <vector>

namespace iis::score {

// ARR(r) = interpretable accuracy / standard accuracy. Accuracies are fractions in [0, 1];
// throws iis::Error if `standard_accuracy` is not positive.
double accuracy_retention(double accuracy, double standard_accuracy);

// Chance-corrected retention: (accuracy - 1/C) / (standard_accuracy - 1/C). Throws iis::Error
// if the standard accuracy is not above chance or `num_classes` < 2.
double chance_corrected_retention(double accuracy, double standard_accuracy, int64_t num_classes);

// The area under a retention curve by the trapezoid rule: Σ (a_i + a_{i+1})/2 · (r_{i+1} − r_i)
// over the points sorted by ratio. `ratios` and `retention` have the same length (≥ 1; a
// single point has area 0); ratios must be distinct.
double trapezoid_area(const std::vector<double>& ratios, const std::vector<double>& retention);

// IIS from accuracies: the trapezoid area of accuracy_retention over `ratios`.
double iis(const std::vector<double>& ratios, const std::vector<double>& accuracies,
           double standard_accuracy);

// Chance-corrected IIS: the trapezoid area of chance_corrected_retention over `ratios`.
double iis_chance_corrected(const std::vector<double>& ratios,
                            const std::vector<double>& accuracies, double standard_accuracy,
                            int64_t num_classes);

// Mean and sample standard deviation (n − 1 in the denominator; 0 for a single value).
struct MeanStd {
  double mean = 0;
  double std = 0;
};
MeanStd mean_std(const std::vector<double>& values);

}  // namespace iis::score
