// index.html of `iis report`: the tables, notes, correlations, settings and figures.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "iis/report/detail/outputs.hpp"

namespace fs = std::filesystem;

namespace iis::report::detail {

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

namespace {

// Links to the run's config.yaml and stages.json (written by `iis run`) where they exist.
std::string run_files(const std::string& run_dir, const std::string& out_dir) {
  std::string links;
  for (const char* name : {"config.yaml", "stages.json"}) {
    const fs::path file = fs::path(run_dir) / name;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) continue;
    const std::string href = fs::relative(file, out_dir).generic_string();
    links += std::string(links.empty() ? "" : ", ") + "<a href=\"" + html_escape(href) + "\">" +
             name + "</a>";
  }
  return links.empty() ? "" : " Run files: " + links + ".";
}

std::string page_head(const std::string& run_dir, const std::string& out_dir) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>iis report: "
    << html_escape(run_dir) << "</title>\n<style>\n"
    << "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:2em;max-width:1200px}\n"
    << "table{border-collapse:collapse;margin:1em 0}th,td{padding:.3em .7em;text-align:right;"
    << "border-bottom:1px solid #ddd}th{background:#f4f4f4}td.name{text-align:left}\n"
    << "td{white-space:nowrap}caption{text-align:left;font-style:italic}\n"
    << "img{max-width:100%;height:auto;border:1px solid #eee;margin:.5em 0}\n"
    << ".scroll{overflow-x:auto;max-width:100%}.nb{white-space:nowrap}\n"
    << "p,li,code{overflow-wrap:anywhere}</style></head><body>\n"
    << "<h1>Inherent Interpretability Score</h1>\n<p>Run: <code>" << html_escape(run_dir)
    << "</code>. IIS is the area under the accuracy-retention curve acc(r)/acc(standard) over "
       "the sparsity ratios; mean &plusmn; std over seeds. The chance-corrected IIS uses "
       "accuracies above chance (acc&minus;1/C), so a representation that carries no "
       "information cannot score high. Table: <a href=\"summary.csv\">summary.csv</a>, "
       "<a href=\"summary.json\">summary.json</a>."
    << run_files(run_dir, out_dir) << "</p>\n";
  return h.str();
}

// One column per distinct set of settings (in table order), one line per setting.
std::string settings_table(const std::vector<ReportRow>& rows) {
  using Settings = std::vector<std::pair<std::string, std::string>>;
  std::vector<Settings> columns;
  std::vector<std::vector<std::string>> groups;  // the groups of each column
  std::vector<int> backbones;
  std::vector<std::string> names;  // every setting, in first-seen order
  for (const auto& r : rows) {
    if (r.settings.empty()) continue;
    auto at = std::find(columns.begin(), columns.end(), r.settings) - columns.begin();
    if (at == static_cast<long>(columns.size())) {
      columns.push_back(r.settings), groups.emplace_back(), backbones.push_back(0);
    }
    auto& g = groups[at];
    if (std::find(g.begin(), g.end(), r.group_name()) == g.end()) g.push_back(r.group_name());
    ++backbones[at];
    for (const auto& [name, value] : r.settings)
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  if (columns.empty()) return "";
  std::ostringstream h;
  h << "<h2>Settings</h2>\n<div class=\"scroll\"><table><tr><th>setting</th>";
  for (size_t c = 0; c < columns.size(); ++c) {
    std::string label;
    for (const auto& g : groups[c]) label += (label.empty() ? "" : ", ") + g;
    h << "<th>" << html_escape(label) << " (" << backbones[c] << ")</th>";
  }
  h << "</tr>\n";
  for (const auto& name : names) {
    h << "<tr><td class=\"name\">" << html_escape(name) << "</td>";
    for (const auto& column : columns) {
      auto it = std::find_if(column.begin(), column.end(),
                             [&](const auto& s) { return s.first == name; });
      h << "<td>" << (it == column.end() ? "&mdash;" : html_escape(it->second)) << "</td>";
    }
    h << "</tr>\n";
  }
  h << "</table></div>\n";
  return h.str();
}

// The scores of the rows with exactly `ratios`, in the page's columns.
std::string scores_table(const std::vector<ReportRow>& rows, const std::vector<double>& ratios) {
  const auto columns = report_columns(ratios);
  const auto shown = results::shown_in(columns, results::kPage);
  std::ostringstream h;
  h << "<tr>";
  for (const auto* c : shown)
    h << "<th>" << (c->page_header.empty() ? html_escape(c->header) : c->page_header) << "</th>";
  h << "</tr>\n";
  for (const auto& row : rows) {
    if (all_ratios({row}) != ratios) continue;
    h << "<tr>";
    for (const auto* c : shown)
      h << (c->value(row).is_string() ? "<td class=\"name\">" : "<td>")
        << results::cell(columns, *c, row, " &plusmn; ", html_escape) << "</td>";
    h << "</tr>\n";
  }
  return h.str();
}

// One table per set of ratios (in table order), so no row has empty ratio cells.
std::string scores_tables(const std::vector<ReportRow>& rows) {
  std::vector<std::vector<double>> sets;
  for (const auto& r : rows)
    if (std::find(sets.begin(), sets.end(), all_ratios({r})) == sets.end())
      sets.push_back(all_ratios({r}));
  std::ostringstream h;
  h << "<h2>Scores</h2>\n";
  for (const auto& ratios : sets) {
    h << "<div class=\"scroll\"><table>";
    if (sets.size() > 1) {
      h << "<caption>ratios";
      for (size_t i = 0; i < ratios.size(); ++i) h << (i ? ", " : " ") << ratio_name(ratios[i]);
      h << "</caption>";
    }
    h << scores_table(rows, ratios) << "</table></div>\n";
  }
  return h.str();
}

// Where a row goes above 1: its IIS, and its largest retention with the ratio.
std::string above_one(const ReportRow& row) {
  std::string out;
  if (row.iis > 1) out = "IIS " + number(row.iis, "%.3f");
  const auto arr = row.retention();
  size_t top = 0;
  for (size_t k = 1; k < arr.size(); ++k)
    if (arr[k] > arr[top]) top = k;
  if (!arr.empty() && arr[top] > 1)
    out += (out.empty() ? "" : ", ") + std::string("retention up to ") + number(arr[top], "%.3f") +
           " (r = " + ratio_name(row.ratios[top].ratio) + ")";
  return out;
}

// What values above 1 mean, naming where they occur; nothing when none does.
std::string above_one_note(const std::vector<ReportRow>& rows) {
  std::string where;
  for (const auto& row : rows) {
    const std::string a = above_one(row);
    if (!a.empty())
      where += (where.empty() ? "" : "; ") + html_escape(row.backbone) + " (" +
               html_escape(row.concept_type) + "): " + a;
  }
  if (where.empty()) return "";
  return "<p><b>Above 1:</b> " + where +
         ". A retention above 1 means that at that ratio the sparse concept head beat the "
         "standard linear probe of the same representation (an IIS above 1: on average over "
         "the ratios). IIS is relative to the representation's own accuracy, so a weak "
         "standard probe leaves room for this; read IIS together with the accuracy.</p>\n";
}

// What `iis fit` warned about, per backbone and concept type; nothing when it warned of nothing.
std::string warnings_list(const std::vector<ReportRow>& rows) {
  std::ostringstream h;
  for (const auto& row : rows)
    for (const auto& w : row.warnings)
      h << "<li><b class=\"nb\">" << html_escape(row.backbone) << "</b> ("
        << html_escape(row.concept_type) << "): " << html_escape(w) << "</li>\n";
  if (h.str().empty()) return "";
  return "<h2>Warnings</h2>\n<ul>\n" + h.str() + "</ul>\n";
}

std::string correlation_row(const std::string& group, const CorrelationSummary& c) {
  auto cell = [](double v) { return std::isnan(v) ? std::string("n/a") : number(v, "%+.3f"); };
  std::ostringstream h;
  h << "<tr><td class=\"name\">" << html_escape(group) << "</td><td>" << c.n;
  if (c.n_chance_corrected != c.n) h << " (" << c.n_chance_corrected << " above chance)";
  if (c.n < kMinBackbones) h << " &mdash; needs " << kMinBackbones << " or more";
  if (c.n_fine_tuned > 0) h << " (" << c.n_fine_tuned << " fine-tuned left out)";
  h << "</td><td>" << cell(c.pearson) << "</td><td>" << cell(c.spearman) << "</td><td>"
    << cell(c.pearson_chance_corrected) << "</td><td>" << cell(c.spearman_chance_corrected)
    << "</td></tr>\n";
  return h.str();
}

std::string correlations_table(const ReportResult& result) {
  std::ostringstream h;
  h << "<h2>Correlation with accuracy across backbones</h2>\n<div class=\"scroll\"><table><tr>"
    << "<th>concepts</th><th>n</th><th>Pearson (IIS)</th><th>Spearman (IIS)</th>"
    << "<th>Pearson (chance-corrected)</th><th>Spearman (chance-corrected)</th></tr>\n";
  for (const auto& group : groups_in_order(result.rows)) {
    const auto c = result.correlations.find(group);
    if (c != result.correlations.end()) h << correlation_row(group, c->second);
  }
  h << "</table></div>\n";
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
                       const std::vector<std::string>& figures, const std::string& out_dir,
                       const LinkedPages& pages) {
  return page_head(run_dir, out_dir) + scores_tables(result.rows) + above_one_note(result.rows) +
         warnings_list(result.rows) + correlations_table(result) + finetune_html(run_dir, out_dir) +
         linked_pages_html(pages) + settings_table(result.rows) +
         figures_section(figures, out_dir) + "</body></html>\n";
}

}  // namespace iis::report::detail
