// Figures of `iis report`: the data files and plot commands of each figure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <utility>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/report/detail/figures.hpp"
#include "iis/report/detail/gnuplot.hpp"

namespace fs = std::filesystem;

namespace iis::report::detail {
namespace {

// Viridis sampled from dark (weakest backbone) to light-yellow-green (strongest), so the
// colour order of the curves mirrors the accuracy order in every figure.
std::string accuracy_colour(size_t i, size_t n) {
  static const char* kViridis[] = {"#440154", "#482878", "#3e4a89", "#31688e", "#26828e",
                                   "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#e0c800"};
  const size_t k = sizeof(kViridis) / sizeof(kViridis[0]);
  if (n <= 1) return kViridis[3];
  const size_t idx = static_cast<size_t>(
      std::lround(static_cast<double>(i) * (k - 1) / static_cast<double>(n - 1)));
  return kViridis[std::min(idx, k - 1)];
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string coefficient(double v) { return std::isnan(v) ? "n/a" : fmt("%+.2f", v); }

// The data file of a figure as its script names it: beside the script, so the script
// redraws from its own folder wherever that folder is.
std::string data_file(const std::string& stem) {
  return literal(fs::path(stem).filename().string() + ".dat");
}

// Common look: light grid behind, open top/right, tics outward.
const char* kStyle =
    "set border 3 lw 1\nset tics nomirror out\nset grid back lc rgb '#e0e0e0' lw 1 dt 1\n"
    "set key box lc rgb '#bbbbbb' opaque samplen 2 spacing 1.1\n";

// The y-range of a retention plot: the data and the reference line at 1, with a margin of
// 5 % of the span (at least 0.02), widened to the 0.05 grid of the tics.
std::pair<double, double> retention_range(const std::vector<const ReportRow*>& rows) {
  double lo = 1.0, hi = 1.0;
  for (const auto* r : rows)
    for (double v : r->retention())
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  const double margin = std::max(0.02, 0.05 * (hi - lo));
  return {std::max(0.0, std::floor((lo - margin) * 20 + 1e-9) / 20),
          std::ceil((hi + margin) * 20 - 1e-9) / 20};
}

// A legend below the plot in a band of its own, so it never covers a curve: two columns
// when there are more than 3 entries and two fit side by side (entries of at most
// `kTwoColumnChars` characters), else one; the canvas grows when the legend needs more
// than 3 rows.
struct KeyBelow {
  double height_scale;
  std::string commands;
};
constexpr size_t kTwoColumnChars = 48;
KeyBelow key_below(const std::vector<std::string>& entries, const std::string& title) {
  // Heights in pixels of the 1000-pixel-high PNG; the SVG has the same proportions.
  const double kTop = 90, kTicsAndLabel = 130, kLine = 36, kPadding = 24, kBottom = 12,
               kMinPlot = 560;
  size_t longest = 0;
  for (const auto& e : entries) longest = std::max(longest, e.size());
  const bool two = entries.size() > 3 && longest <= kTwoColumnChars;
  const size_t rows = two ? (entries.size() + 1) / 2 : entries.size();
  const double key = (rows + 1) * kLine + kPadding;  // entries and the legend's title
  const double height = std::max(1000.0, kTop + kMinPlot + kTicsAndLabel + key + kBottom);
  std::ostringstream c;
  c << "set tmargin at screen " << fmt("%.4f", 1 - kTop / height) << "\n"
    << "set bmargin at screen " << fmt("%.4f", (kBottom + key + kTicsAndLabel) / height) << "\n"
    << "set key at screen 0.5, screen "
    << fmt("%.4f", (kBottom + key) / height)
    // reverse Left: samples first, names left-aligned; width -4: cairo's text is narrower
    // than gnuplot's estimate, which would push the second column off the canvas.
    << " center top vertical maxrows " << rows << " reverse Left width -4 title " << literal(title)
    << "\n";
  return {height / 1000, c.str()};
}

std::vector<std::string> retention_figure(const std::vector<const ReportRow*>& rows,
                                          const std::string& what, const std::string& stem,
                                          const std::string& gnuplot) {
  std::ostringstream data;
  for (size_t i = 0; i < rows.size(); ++i) {
    data << "# " << printable(rows[i]->backbone) << ": ratio retention top1\n";
    const auto arr = rows[i]->retention();
    for (size_t k = 0; k < arr.size(); ++k)
      data << rows[i]->ratios[k].ratio << " " << arr[k] << " " << rows[i]->ratios[k].top1 << "\n";
    data << "\n\n";
  }
  core::write_text_atomic(stem + ".dat", data.str());

  std::vector<std::string> titles;
  for (const auto* r : rows)
    titles.push_back(r->backbone + " (" + fmt("%.1f %%", 100 * r->standard_accuracy) + ", " +
                     fmt("%.3f", r->iis) + ")");
  const auto [lo, hi] = retention_range(rows);
  const KeyBelow key = key_below(titles, "backbone (accuracy, IIS)");
  std::ostringstream body;
  body << kStyle << "set title " << literal("Accuracy retention, " + what)
       << "\nset xlabel 'sparsity ratio r (share of concept activations set to zero)'\n"
       << "set ylabel 'accuracy retention  acc(r) / acc(standard)'\n"
       << "set xrange [0:1]\nset xtics 0.1\n"
       << "set yrange [" << fmt("%.2f", lo) << ":" << fmt("%.2f", hi) << "]\n"
       << "set arrow from 0,1 to 1,1 nohead dt 2 lc rgb '#777777' lw 1 back\n"
       << key.commands << "plot ";
  for (size_t i = 0; i < rows.size(); ++i) {
    body << (i ? ", \\\n     " : "") << data_file(stem) << " index " << i
         << " using 1:2 with linespoints lw 1.5 pt " << (5 + 2 * (i % 3)) << " ps 1.1 lc rgb '"
         << accuracy_colour(i, rows.size()) << "' title " << literal(titles[i]);
  }
  body << "\n";
  return draw(gnuplot, stem, body.str(), key.height_scale);
}

// The correlations as the scatter plot writes them, with n (and why there are none).
std::string correlation_text(const CorrelationSummary& c) {
  std::string n = "(n = " + std::to_string(c.n) + " backbones";
  if (c.n_chance_corrected != c.n)
    n += ", " + std::to_string(c.n_chance_corrected) + " above chance";
  if (c.n < kMinBackbones) n += ": correlations need " + std::to_string(kMinBackbones) + " or more";
  if (c.n_fine_tuned > 0)
    n += "; " + std::to_string(c.n_fine_tuned) + " fine-tuned drawn, left out";
  return literal_lines(
      {"IIS: Pearson r = " + coefficient(c.pearson) + ", Spearman ρ = " + coefficient(c.spearman),
       "chance-corrected IIS: r = " + coefficient(c.pearson_chance_corrected) +
           ", ρ = " + coefficient(c.spearman_chance_corrected),
       n + ")"});
}

std::vector<std::string> scatter_figure(const std::vector<const ReportRow*>& rows,
                                        const CorrelationSummary& c, const std::string& what,
                                        const std::string& stem, const std::string& gnuplot) {
  // One block per backbone, so each gets the colour and marker it has in the retention plot
  // and a legend entry instead of a label that could print over its neighbours.
  std::ostringstream data;
  bool spread = false;
  for (const auto* r : rows) {
    data << "# " << printable(r->backbone)
         << ": accuracy_percent iis iis_std iis_chance_corrected\n"
         << 100 * r->standard_accuracy << " " << r->iis << " " << r->iis_std << " "
         << r->iis_chance_corrected << "\n\n\n";
    spread = spread || r->has_spread();
  }
  core::write_text_atomic(stem + ".dat", data.str());

  const std::string d = data_file(stem);
  std::ostringstream body;
  body << kStyle << "set title " << literal("IIS against accuracy, " + what)
       << "\nset xlabel 'standard linear-probe accuracy (%)'\n"
       << "set ylabel 'inherent interpretability score'\n"
       << "set offsets graph 0.06, graph 0.06, graph 0.4, graph 0.06\n"
       << "set label 1 " << correlation_text(c) << " at graph 0.03, graph 0.95 left front\n"
       << "set key outside right center title "
       << literal_lines({spread ? "filled: IIS ± std" : "filled: IIS", "open: chance-corr."})
       << "\nplot ";
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string colour = accuracy_colour(i, rows.size());
    const int filled = 5 + 2 * static_cast<int>(i % 3);  // 5 square, 7 circle, 9 triangle
    // The open marker (chance-corrected) is twice the filled one's size: where the two
    // coincide it rings the filled marker instead of hiding under it. A single seed has no
    // spread to draw.
    body << (i ? ", \\\n     " : "") << d << " index " << i
         << (spread ? " using 1:2:3 with yerrorbars" : " using 1:2 with points") << " pt " << filled
         << " ps 1.5 lc rgb '" << colour << "' title " << literal(rows[i]->backbone)
         << ", \\\n     " << d << " index " << i << " using 1:4 with points pt " << filled - 1
         << " ps 3 lw 2 lc rgb '" << colour << "' notitle";
  }
  body << "\n";
  return draw(gnuplot, stem, body.str());
}

}  // namespace

std::string file_stem(const std::string& name) {
  std::string out;
  for (char c : name)
    out +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return out.empty() ? "_" : out;
}

std::vector<std::string> draw_figures(const ReportResult& result, const std::string& figures_dir,
                                      const std::string& gnuplot) {
  core::make_dirs(figures_dir);
  std::vector<std::string> files;
  for (const auto& group : groups_in_order(result.rows)) {  // the order of the table
    const auto correlation = result.correlations.find(group);
    if (correlation == result.correlations.end()) continue;
    std::vector<const ReportRow*> rows;  // already sorted by accuracy within the group
    for (const auto& r : result.rows)
      if (r.group_name() == group) rows.push_back(&r);
    const fs::path dir(figures_dir);
    // "prototype concepts", or "prototype concepts [concepts K 40]" for one of several groups.
    const std::string& type = rows.front()->concept_type;
    const bool suffix = group.compare(0, type.size(), type) == 0;
    const std::string what = type + " concepts" + (suffix ? group.substr(type.size()) : "");
    for (auto& f :
         retention_figure(rows, what, (dir / ("retention_" + file_stem(group))).string(), gnuplot))
      files.push_back(f);
    for (auto& f :
         scatter_figure(rows, correlation->second, what,
                        (dir / ("iis_vs_accuracy_" + file_stem(group))).string(), gnuplot))
      files.push_back(f);
  }
  return files;
}

}  // namespace iis::report::detail
