// index.html of `iis report`: the table, the correlations and the figures.
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "iis/report/detail/outputs.hpp"

namespace fs = std::filesystem;

namespace iis::report::detail {
namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string page_head(const std::string& run_dir) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>iis report: "
    << html_escape(run_dir) << "</title>\n<style>\n"
    << "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:2em;max-width:1200px}\n"
    << "table{border-collapse:collapse;margin:1em 0}th,td{padding:.3em .7em;text-align:right;"
    << "border-bottom:1px solid #ddd}th{background:#f4f4f4}td.name{text-align:left}\n"
    << "img{max-width:100%;border:1px solid #eee;margin:.5em 0}</style></head><body>\n"
    << "<h1>Inherent Interpretability Score</h1>\n<p>Run: <code>" << html_escape(run_dir)
    << "</code>. IIS is the area under the accuracy-retention curve acc(r)/acc(standard) over "
       "the sparsity ratios; mean &plusmn; std over seeds. The chance-corrected IIS uses "
       "accuracies above chance (acc&minus;1/C), so a representation that carries no "
       "information cannot score high. Table: <a href=\"summary.csv\">summary.csv</a>, "
       "<a href=\"summary.json\">summary.json</a>.</p>\n";
  return h.str();
}

std::string scores_table(const std::vector<ReportRow>& rows) {
  const auto ratios = all_ratios(rows);
  std::ostringstream h;
  h << "<h2>Scores</h2>\n<table><tr><th>backbone</th><th>concepts</th><th>accuracy</th>"
    << "<th>IIS</th><th>chance-corrected IIS</th>";
  for (double r : ratios) h << "<th>acc @ r=" << ratio_name(r) << "</th>";
  h << "</tr>\n";
  for (const auto& row : rows) {
    const bool cc = !std::isnan(row.iis_chance_corrected);
    h << "<tr><td class=\"name\">" << html_escape(row.backbone) << "</td><td class=\"name\">"
      << html_escape(row.concept_type) << "</td><td>"
      << number(100 * row.standard_accuracy, "%.1f %%") << "</td><td>" << number(row.iis, "%.3f")
      << " &plusmn; " << number(row.iis_std, "%.3f") << "</td><td>"
      << (cc ? number(row.iis_chance_corrected, "%.3f") : "n/a") << "</td>";
    for (double r : ratios) {
      const auto* a = at_ratio(row, r);
      h << "<td>" << (a ? number(100 * a->top1, "%.1f") : "") << "</td>";
    }
    h << "</tr>\n";
  }
  h << "</table>\n";
  return h.str();
}

// What `iis fit` warned about, per backbone and concept type; nothing when it warned of nothing.
std::string warnings_list(const std::vector<ReportRow>& rows) {
  std::ostringstream h;
  for (const auto& row : rows)
    for (const auto& w : row.warnings)
      h << "<li><b>" << html_escape(row.backbone) << "</b> (" << html_escape(row.concept_type)
        << "): " << html_escape(w) << "</li>\n";
  if (h.str().empty()) return "";
  return "<h2>Warnings</h2>\n<ul>\n" + h.str() + "</ul>\n";
}

std::string correlations_table(const std::map<std::string, CorrelationSummary>& correlations) {
  std::ostringstream h;
  h << "<h2>Correlation with accuracy across backbones</h2>\n<table><tr>"
    << "<th>concepts</th><th>n</th><th>Pearson (IIS)</th><th>Spearman (IIS)</th>"
    << "<th>Pearson (chance-corrected)</th><th>Spearman (chance-corrected)</th></tr>\n";
  auto cell = [](double v) { return std::isnan(v) ? std::string("n/a") : number(v, "%+.3f"); };
  for (const auto& [type, c] : correlations) {
    h << "<tr><td class=\"name\">" << html_escape(type) << "</td><td>" << c.n;
    if (c.n_chance_corrected != c.n) h << " (" << c.n_chance_corrected << " above chance)";
    h << "</td><td>" << cell(c.pearson) << "</td><td>" << cell(c.spearman) << "</td><td>"
      << cell(c.pearson_chance_corrected) << "</td><td>" << cell(c.spearman_chance_corrected)
      << "</td></tr>\n";
  }
  h << "</table>\n";
  return h.str();
}

std::string figures_section(const std::vector<std::string>& figures, const std::string& out_dir) {
  if (figures.empty()) return "";
  std::ostringstream h;
  h << "<h2>Figures</h2>\n<p>Click a figure for its SVG.</p>\n";
  for (const auto& f : figures) {
    if (fs::path(f).extension() != ".png") continue;
    const std::string png = fs::relative(f, out_dir).generic_string();
    const std::string svg = fs::path(png).replace_extension(".svg").generic_string();
    h << "<p><a href=\"" << html_escape(svg) << "\"><img src=\"" << html_escape(png)
      << "\" width=\"900\"></a></p>\n";
  }
  return h.str();
}

}  // namespace

std::string index_html(const ReportResult& result, const std::string& run_dir,
                       const std::vector<std::string>& figures, const std::string& out_dir) {
  return page_head(run_dir) + scores_table(result.rows) + warnings_list(result.rows) +
         correlations_table(result.correlations) + figures_section(figures, out_dir) +
         "</body></html>\n";
}

}  // namespace iis::report::detail
