// The Inherent Interpretability Score and its helpers.
#include "iis/score/score.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "iis/core/error.hpp"

namespace iis::score {

double accuracy_retention(double accuracy, double standard_accuracy) {
  IIS_CHECK_HINT(standard_accuracy > 0,
                 "the standard head's accuracy is " << standard_accuracy
                                                    << ", so accuracy retention is undefined",
                 "check that the training and validation labels describe the same classes");
  return accuracy / standard_accuracy;
}

double chance_corrected_retention(double accuracy, double standard_accuracy, int64_t num_classes) {
  IIS_CHECK(num_classes >= 2, "chance correction needs at least 2 classes, got " << num_classes);
  const double chance = 1.0 / static_cast<double>(num_classes);
  IIS_CHECK_HINT(standard_accuracy > chance,
                 "the standard head's accuracy " << standard_accuracy << " is not above chance "
                                                 << chance << " (" << num_classes << " classes)",
                 "the representation carries no class signal; chance-corrected IIS is undefined");
  return (accuracy - chance) / (standard_accuracy - chance);
}

double trapezoid_area(const std::vector<double>& ratios, const std::vector<double>& retention) {
  IIS_CHECK(ratios.size() == retention.size(),
            "trapezoid: " << ratios.size() << " ratios but " << retention.size() << " values");
  IIS_CHECK(!ratios.empty(), "trapezoid: no points");
  std::vector<std::pair<double, double>> points;
  for (size_t i = 0; i < ratios.size(); ++i) points.emplace_back(ratios[i], retention[i]);
  std::sort(points.begin(), points.end());
  double area = 0;
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    IIS_CHECK(points[i].first != points[i + 1].first,
              "trapezoid: ratio " << points[i].first << " appears twice");
    area += (points[i].second + points[i + 1].second) / 2 * (points[i + 1].first - points[i].first);
  }
  return area;
}

double iis(const std::vector<double>& ratios, const std::vector<double>& accuracies,
           double standard_accuracy) {
  std::vector<double> arr;
  for (double a : accuracies) arr.push_back(accuracy_retention(a, standard_accuracy));
  return trapezoid_area(ratios, arr);
}

double iis_chance_corrected(const std::vector<double>& ratios,
                            const std::vector<double>& accuracies, double standard_accuracy,
                            int64_t num_classes) {
  std::vector<double> arr;
  for (double a : accuracies) {
    arr.push_back(chance_corrected_retention(a, standard_accuracy, num_classes));
  }
  return trapezoid_area(ratios, arr);
}

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd out;
  if (values.empty()) return out;
  const double n = static_cast<double>(values.size());
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  if (values.size() > 1) {
    double ss = 0;
    for (double v : values) ss += (v - out.mean) * (v - out.mean);
    out.std = std::sqrt(ss / (n - 1));
  }
  return out;
}

}  // namespace iis::score
