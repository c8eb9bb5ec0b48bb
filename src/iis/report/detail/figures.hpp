// Internal: the figures of `iis report`, drawn by gnuplot from generated scripts.
#pragma once

#include <string>
#include <vector>

#include "iis/report/report.hpp"

namespace iis::report::detail {

// Draws, per concept type, the accuracy-retention curves of all backbones and IIS against
// accuracy (with the correlations written on it) into `figures_dir` as PNG and SVG, keeping
// the generated .gp scripts and .dat files beside them so a user can restyle a figure.
// `gnuplot` is the executable's path. Returns the image files written (PNG, SVG).
std::vector<std::string> draw_figures(const ReportResult& result, const std::string& figures_dir,
                                      const std::string& gnuplot);

// A name usable in a file name: letters, digits, '-', '_' and '.' kept, the rest '_'.
std::string file_stem(const std::string& name);

}  // namespace iis::report::detail
