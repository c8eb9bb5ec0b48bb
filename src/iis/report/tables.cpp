// summary.csv, summary.json and the terminal summary of `iis report`.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "iis/report/detail/outputs.hpp"

using nlohmann::json;

namespace iis::report {
namespace detail {
namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

json nan_as_null(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

// The chance-corrected IIS is undefined at or below chance: "n/a" in the CSV and the terminal.
std::string chance_corrected(double v, const char* format) {
  return std::isnan(v) ? "n/a" : number(v, format);
}

}  // namespace

std::string number(double v, const char* format) {
  if (std::isnan(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

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
  const auto ratios = all_ratios(rows);
  std::ostringstream out;
  out << "backbone,concept_type,standard_accuracy,iis,iis_std,iis_chance_corrected";
  for (double r : ratios) out << ",top1_r" << ratio_name(r);
  out << ",source\n";
  for (const auto& row : rows) {
    out << csv_field(row.backbone) << "," << csv_field(row.concept_type) << ","
        << number(row.standard_accuracy) << "," << number(row.iis) << ","
        << (row.has_spread() ? number(row.iis_std) : "") << ","
        << chance_corrected(row.iis_chance_corrected, "%.6g");
    for (double r : ratios) {
      const auto* a = at_ratio(row, r);
      out << "," << (a ? number(a->top1) : "");
    }
    out << "," << csv_field(row.source) << "\n";
  }
  return out.str();
}

json summary_json(const ReportResult& result, const std::string& run_dir) {
  json rows = json::array();
  for (const auto& row : result.rows) {
    json ratios = json::array();
    const auto arr = row.retention();
    for (size_t k = 0; k < row.ratios.size(); ++k) {
      const auto& a = row.ratios[k];
      ratios.push_back({{"ratio", a.ratio},
                        {"top1", a.top1},
                        {"top5", nan_as_null(a.top5)},
                        {"top1_std", nan_as_null(a.top1_std)},
                        {"retention", nan_as_null(arr[k])}});
    }
    json accuracy = json::object();
    for (const auto& a : row.ratios) accuracy[ratio_name(a.ratio)] = a.top1;
    rows.push_back({{"backbone", row.backbone},
                    {"concept_type", row.concept_type},
                    {"standard_accuracy", row.standard_accuracy},
                    {"iis", row.iis},
                    {"iis_std", row.has_spread() ? json(row.iis_std) : json(nullptr)},
                    {"seeds", row.seeds > 0 ? json(row.seeds) : json(nullptr)},
                    {"group", row.group_name()},
                    {"iis_chance_corrected", nan_as_null(row.iis_chance_corrected)},
                    {"accuracy_at_ratio", accuracy},
                    {"ratios", ratios},
                    {"source", row.source},
                    {"warnings", row.warnings}});
  }
  json correlations = json::object();
  for (const auto& [type, c] : result.correlations)
    correlations[type] = {{"n", c.n},
                          {"n_chance_corrected", c.n_chance_corrected},
                          {"pearson", nan_as_null(c.pearson)},
                          {"spearman", nan_as_null(c.spearman)},
                          {"pearson_chance_corrected", nan_as_null(c.pearson_chance_corrected)},
                          {"spearman_chance_corrected", nan_as_null(c.spearman_chance_corrected)},
                          {"between", "standard_accuracy and iis across backbones"}};
  return {{"run_dir", run_dir}, {"rows", rows}, {"correlations", correlations}};
}

}  // namespace detail

namespace {

// One row of the terminal table; no "± std" where a single seed leaves no spread.
std::string terminal_row(const ReportRow& r) {
  const std::string iis =
      r.has_spread() ? detail::number(r.iis, "%8.3f") + " ± " + detail::number(r.iis_std, "%.3f")
                     : detail::number(r.iis, "%8.3f") + "        ";
  char line[512];
  std::snprintf(line, sizeof(line), "%-28s %-10s %7.1f%% %s %8s\n", r.backbone.c_str(),
                r.concept_type.c_str(), 100 * r.standard_accuracy, iis.c_str(),
                detail::chance_corrected(r.iis_chance_corrected, "%.3f").c_str());
  return line;
}

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
  return out.str() + "\n";
}

}  // namespace

std::string terminal_summary(const ReportResult& result) {
  std::ostringstream out;
  char line[512];
  const bool spread = std::any_of(result.rows.begin(), result.rows.end(),
                                  [](const ReportRow& r) { return r.has_spread(); });
  std::snprintf(line, sizeof(line),
                spread ? "%-28s %-10s %8s %15s %8s\n" : "%-28s %-10s %8s %8s %17s\n", "backbone",
                "concepts", "accuracy", spread ? "IIS (± std)" : "IIS", "IIS-cc");
  out << line;
  for (const auto& r : result.rows) out << terminal_row(r);
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
