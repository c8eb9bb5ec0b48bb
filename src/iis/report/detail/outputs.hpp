// Internal: the files of `iis report` (summary.csv, summary.json, index.html), the columns
// they share and their number formats.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "iis/report/report.hpp"
#include "iis/results/table.hpp"

namespace iis::report::detail {

// `v` printed with a printf `format`; "" for NaN.
std::string number(double v, const char* format = "%.6g");

// A ratio as a column suffix and a JSON key: 0.5 → "0.5".
std::string ratio_name(double r);

// Every ratio any row has, ascending.
std::vector<double> all_ratios(const std::vector<ReportRow>& rows);

// The accuracy of `row` at `ratio`, or nullptr where the row has none.
const RatioAccuracy* at_ratio(const ReportRow& row, double ratio);

// The columns of the scores table, with an accuracy column per ratio in `ratios`: what
// summary.csv, summary.json, the page's tables and the terminal table show of a row.
std::vector<results::Column<ReportRow>> report_columns(const std::vector<double>& ratios);

// `s` with the characters HTML gives a meaning (< > & ") escaped.
std::string html_escape(const std::string& s);

// summary.csv: one line per row, one top1 column per ratio of any row.
std::string summary_csv(const std::vector<ReportRow>& rows);

// summary.json: rows (with retention per ratio) and correlations per concept type.
nlohmann::json summary_json(const ReportResult& result, const std::string& run_dir);

// The pages index.html links to: concept atlases (written by linked_pages) and explanations.
struct AtlasLink {
  std::string backbone, concept_type, href, ratio_reason;
};
struct LinkedPages {
  std::vector<AtlasLink> atlases;
  std::vector<std::pair<std::string, std::string>> explanations;  // name, href
  std::vector<std::string> warnings;
  std::vector<std::string> files;  // written
};

// Writes OUT/atlas/<backbone>/<concept type>/index.html for every row whose fit folder holds
// its seeds (when `atlas`), and finds RUN_DIR/explanations/*/index.html.
LinkedPages linked_pages(const ReportResult& result, const std::string& run_dir,
                         const std::string& out_dir, bool atlas);

// Their section of index.html; "" when there is nothing to link.
std::string linked_pages_html(const LinkedPages& pages);

// The section on RUN_DIR/finetune.json (the fine-tuning experiments of `iis run`): per
// experiment, each measure at the start, with the term, in the control and the difference of
// the gains; "" when the file is absent, a line saying so when it cannot be read.
std::string finetune_html(const std::string& run_dir, const std::string& out_dir);

// index.html: the table, the correlations and the figures (PNG paths under out_dir).
std::string index_html(const ReportResult& result, const std::string& run_dir,
                       const std::vector<std::string>& figures, const std::string& out_dir,
                       const LinkedPages& pages = {});

}  // namespace iis::report::detail
