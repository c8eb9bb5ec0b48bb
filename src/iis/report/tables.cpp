// summary.csv, summary.json and the terminal summary of `iis report`, drawn from the report's
// columns (report_columns).
#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "iis/report/detail/outputs.hpp"

using nlohmann::json;

namespace iis::report {
namespace detail {

std::string number(double v, const char* format) { return results::format_number(v, format); }

std::string ratio_name(double r) { return number(r, "%g"); }

// Every ratio any row has, ascending.
std::vector<double> all_ratios(const std::vector<ReportRow>& rows) {
  std::set<double> ratios;
  for (const auto& row : rows)
    for (const auto& r : row.ratios) ratios.insert(r.ratio);
  return {ratios.begin(), ratios.end()};
}

const RatioAccuracy* at_ratio(const ReportRow& row, double ratio) {
  for (const auto& r : row.ratios)
    if (r.ratio == ratio) return &r;
  return nullptr;
}

std::string summary_csv(const std::vector<ReportRow>& rows) {
  return results::to_csv(report_columns(all_ratios(rows)), rows);
}

json summary_json(const ReportResult& result, const std::string& run_dir) {
  json correlations = json::object();
  for (const auto& [type, c] : result.correlations)
    correlations[type] = {
        {"n", c.n},
        {"n_chance_corrected", c.n_chance_corrected},
        {"n_fine_tuned_left_out", c.n_fine_tuned},
        {"pearson", results::number_or_null(c.pearson)},
        {"spearman", results::number_or_null(c.spearman)},
        {"pearson_chance_corrected", results::number_or_null(c.pearson_chance_corrected)},
        {"spearman_chance_corrected", results::number_or_null(c.spearman_chance_corrected)},
        {"between", "standard_accuracy and iis across backbones"}};
  const json rows = results::to_json_rows(report_columns(all_ratios(result.rows)), result.rows);
  return {{"run_dir", run_dir}, {"rows", rows}, {"correlations", correlations}};
}

}  // namespace detail

namespace {

std::string terminal_correlation(const std::string& group, const CorrelationSummary& c) {
  auto coefficient = [](double v) {
    return std::isnan(v) ? std::string("n/a") : detail::number(v, "%+.3f");
  };
  std::ostringstream out;
  out << group << ", " << c.n << " backbones: accuracy vs IIS Pearson " << coefficient(c.pearson)
      << " Spearman " << coefficient(c.spearman) << "; vs chance-corrected IIS";
  if (c.n_chance_corrected != c.n) out << " (" << c.n_chance_corrected << " above chance)";
  out << " Pearson " << coefficient(c.pearson_chance_corrected) << " Spearman "
      << coefficient(c.spearman_chance_corrected);
  if (c.n < kMinBackbones) out << " (correlations need " << kMinBackbones << " or more)";
  if (c.n_fine_tuned > 0)
    out << " (" << c.n_fine_tuned << " fine-tuned backbones left out: finetune.csv compares them)";
  return out.str() + "\n";
}

}  // namespace

std::string terminal_summary(const ReportResult& result) {
  std::ostringstream out;
  out << results::to_text(detail::report_columns({}), result.rows);
  for (const auto& r : result.rows)
    for (const auto& w : r.warnings)
      out << "warning: " << r.backbone << " (" << r.concept_type << "): " << w << "\n";
  for (const auto& group : groups_in_order(result.rows)) {
    const auto c = result.correlations.find(group);
    if (c != result.correlations.end()) out << terminal_correlation(group, c->second);
  }
  return out.str();
}

}  // namespace iis::report
