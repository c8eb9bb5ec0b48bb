// The columns of the report's scores table: summary.csv, summary.json, the page's tables and
// the terminal table are all drawn from this one list.
#include "iis/report/detail/outputs.hpp"

namespace iis::report::detail {
namespace {

using nlohmann::json;
using Column = results::Column<ReportRow>;
using results::kCsv;
using results::kJson;
using results::kPage;

// The concept type, and under it what sets its group apart when it has several.
std::string concepts_cell(const ReportRow& row) {
  const std::string& group = row.group_name();
  if (group == row.concept_type || group.rfind(row.concept_type, 0) != 0) return html_escape(group);
  return html_escape(row.concept_type) + "<br><small>" +
         html_escape(group.substr(row.concept_type.size() + 1)) + "</small>";
}

// Per ratio: the accuracies and the retention (summary.json "ratios").
json ratio_list(const ReportRow& row) {
  json ratios = json::array();
  const auto arr = row.retention();
  for (size_t k = 0; k < row.ratios.size(); ++k) {
    const auto& a = row.ratios[k];
    ratios.push_back({{"ratio", a.ratio},
                      {"top1", a.top1},
                      {"top5", results::number_or_null(a.top5)},
                      {"top1_std", results::number_or_null(a.top1_std)},
                      {"retention", results::number_or_null(arr[k])}});
  }
  return ratios;
}

json accuracy_at_ratio(const ReportRow& row) {
  json accuracy = json::object();
  for (const auto& a : row.ratios) accuracy[ratio_name(a.ratio)] = a.top1;
  return accuracy;
}

// A number column shown with `format` (× `scale`) in the text and on the page.
Column figure(const std::string& name, const std::string& header, double ReportRow::*field,
              const char* format, double scale = 1) {
  Column c = results::column<ReportRow>(
      name, header, [field](const ReportRow& r) { return results::number_or_null(r.*field); });
  c.format = format;
  c.scale = scale;
  return c;
}

// The top-1 accuracy at `ratio`; null where the row has none.
Column accuracy_at(double ratio) {
  const std::string name = ratio_name(ratio);
  Column c = results::column<ReportRow>(
      "top1_r" + name, "acc @ r=" + name,
      [ratio](const ReportRow& r) {
        const auto* a = at_ratio(r, ratio);
        return a ? json(a->top1) : json();
      },
      kCsv | kPage);
  c.page_header = "acc&nbsp;@<br>r=" + name;
  c.format = "%.1f";
  c.scale = 100;
  return c;
}

}  // namespace

std::vector<Column> report_columns(const std::vector<double>& ratios) {
  std::vector<Column> c;
  c.push_back(results::column<ReportRow>("backbone", "backbone",
                                         [](const ReportRow& r) { return json(r.backbone); }));
  c.push_back(results::column<ReportRow>("concept_type", "concepts",
                                         [](const ReportRow& r) { return json(r.concept_type); }));
  c.back().html = concepts_cell;
  c.push_back(
      figure("standard_accuracy", "accuracy", &ReportRow::standard_accuracy, "%.1f %%", 100));
  c.push_back(figure("iis", "IIS", &ReportRow::iis, "%.3f"));
  c.back().spread = "iis_std";
  c.push_back(figure("iis_std", "", &ReportRow::iis_std, "%.3f"));
  c.back().value = [](const ReportRow& r) { return r.has_spread() ? json(r.iis_std) : json(); };
  c.back().outputs = kCsv | kJson;
  c.push_back(results::column<ReportRow>(
      "seeds", "", [](const ReportRow& r) { return r.seeds > 0 ? json(r.seeds) : json(); }, kJson));
  c.push_back(results::column<ReportRow>(
      "group", "", [](const ReportRow& r) { return json(r.group_name()); }, kJson));
  // Undefined at or below chance: n/a in the CSV, the page and the terminal, null in JSON.
  c.push_back(figure("iis_chance_corrected", "chance-corrected IIS",
                     &ReportRow::iis_chance_corrected, "%.3f"));
  c.back().missing = "n/a";
  for (double r : ratios) c.push_back(accuracy_at(r));
  c.push_back(results::column<ReportRow>("accuracy_at_ratio", "", accuracy_at_ratio, kJson));
  c.push_back(results::column<ReportRow>("ratios", "", ratio_list, kJson));
  c.push_back(results::column<ReportRow>(
      "source", "source", [](const ReportRow& r) { return json(r.source); }, kCsv | kJson));
  c.push_back(results::column<ReportRow>(
      "warnings", "", [](const ReportRow& r) { return json(r.warnings); }, kJson));
  return c;
}

}  // namespace iis::report::detail
