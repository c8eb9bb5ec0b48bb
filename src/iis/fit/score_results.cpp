// `iis score`: reading results.json files and rendering them as a table, CSV and JSON.
#include "iis/fit/score_results.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "iis/core/error.hpp"
#include "iis/results/results.hpp"
#include "iis/results/table.hpp"

namespace iis::fit {

using nlohmann::json;
using results::Column;

namespace {

std::vector<double> all_ratios(const std::vector<ScoreRow>& rows) {
  std::set<double> set;
  for (const auto& r : rows) set.insert(r.ratios.begin(), r.ratios.end());
  return {set.begin(), set.end()};
}

double top1_at(const ScoreRow& row, double ratio) {
  for (size_t i = 0; i < row.ratios.size(); ++i) {
    if (row.ratios[i] == ratio) return row.top1[i];
  }
  return NAN;
}

// A figure of the table: its mean, and its standard deviation shown after it as "± std"
// where there is a spread (CSV and JSON: a column of its own).
struct Figure {
  const char* name;
  const char* header;
  double ScoreRow::*mean;
  double ScoreRow::*std;
  const char* format;  // printf format of the value × scale, mean and std
  const char* std_format;
  double scale;
  const char* missing;  // where the mean is null
};

const Figure kFigures[] = {
    {"standard_accuracy", "accuracy", &ScoreRow::standard_accuracy,
     &ScoreRow::standard_accuracy_std, "%.2f%%", "%.2f", 100, ""},
    {"iis", "IIS", &ScoreRow::iis, &ScoreRow::iis_std, "%.4f", "%.4f", 1, ""},
    // Undefined at or below chance: n/a (null in JSON), as `iis report` shows it.
    {"iis_chance_corrected", "IIS (chance-corr.)", &ScoreRow::iis_chance_corrected,
     &ScoreRow::iis_chance_corrected_std, "%.4f", "%.4f", 1, "n/a"},
};

void add_figure(std::vector<Column<ScoreRow>>& columns, const Figure& f) {
  auto mean = results::column<ScoreRow>(
      f.name, f.header, [m = f.mean](const ScoreRow& r) { return results::number_or_null(r.*m); });
  mean.format = f.format;
  mean.scale = f.scale;
  mean.missing = f.missing;
  mean.spread = std::string(f.name) + "_std";
  columns.push_back(mean);
  auto std = results::column<ScoreRow>(
      mean.spread, "",
      [s = f.std](const ScoreRow& r) {
        return r.has_spread() ? results::number_or_null(r.*s) : json();
      },
      results::kCsv | results::kJson);
  std.format = f.std_format;
  std.scale = f.scale;
  columns.push_back(std);
}

// The columns of the table, CSV and JSON, with one accuracy column per ratio of any row.
std::vector<Column<ScoreRow>> score_columns(const std::vector<double>& ratios) {
  std::vector<Column<ScoreRow>> columns;
  columns.push_back(results::column<ScoreRow>("results", "results",
                                              [](const ScoreRow& r) { return json(r.file); }));
  columns.back().json_name = "file";
  for (const auto& figure : kFigures) add_figure(columns, figure);
  columns.push_back(results::column<ScoreRow>(
      "seeds", "seeds", [](const ScoreRow& r) { return r.seeds > 0 ? json(r.seeds) : json(); }));
  for (double ratio : ratios) {
    const std::string r = results::format_number(ratio, "%g");
    columns.push_back(results::column<ScoreRow>(
        "top1@" + r, "r=" + r,
        [ratio](const ScoreRow& row) { return results::number_or_null(top1_at(row, ratio)); },
        results::kCsv | results::kText));
    columns.back().format = "%.2f";
    columns.back().scale = 100;
  }
  columns.push_back(results::column<ScoreRow>(
      "ratios", "",
      [](const ScoreRow& row) {
        json list = json::array();
        for (size_t i = 0; i < row.ratios.size(); ++i)
          list.push_back(
              json{{"ratio", row.ratios[i]}, {"top1", results::number_or_null(row.top1[i])}});
        return list;
      },
      results::kJson));
  return columns;
}

ScoreRow score_row(const results::FitResults& fit, const std::string& file) {
  ScoreRow row;
  row.file = file;
  row.standard_accuracy = fit.standard_accuracy;
  row.standard_accuracy_std = fit.standard_accuracy_std;
  row.iis = fit.iis;
  row.iis_std = fit.iis_std;
  row.iis_chance_corrected = fit.iis_chance_corrected;
  row.iis_chance_corrected_std = fit.iis_chance_corrected_std;
  row.seeds = static_cast<int64_t>(results::seed_count(fit));
  std::vector<std::pair<double, double>> points;
  for (const auto& r : fit.ratios) points.emplace_back(r.ratio, r.top1);
  std::sort(points.begin(), points.end());
  for (const auto& [ratio, top1] : points) {
    row.ratios.push_back(ratio);
    row.top1.push_back(top1);
  }
  return row;
}

}  // namespace

ScoreRow read_score_row(const std::string& json_text, const std::string& file) {
  return score_row(results::parse_results(json_text, file), file);
}

ScoreTable run_score(const ScoreOptions& options) {
  IIS_CHECK_HINT(!options.results.empty(), "iis score needs at least one RESULTS.json",
                 "e.g. iis score out/results.json");
  ScoreTable table;
  for (const auto& file : options.results)
    table.rows.push_back(score_row(results::read_results(file), file));
  return table;
}

std::string ScoreTable::to_text() const {
  return results::to_text(score_columns(all_ratios(rows)), rows) +
         "accuracies in %; r = sparsity ratio (share of concepts dropped)\n";
}

std::string ScoreTable::to_csv() const {
  return results::to_csv(score_columns(all_ratios(rows)), rows);
}

json ScoreTable::to_json() const {
  return {{"results", results::to_json_rows(score_columns(all_ratios(rows)), rows)}};
}

}  // namespace iis::fit
