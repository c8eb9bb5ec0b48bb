// `iis score`: reading results.json files and rendering them as a table, CSV or JSON.
#include "iis/fit/score_results.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"

namespace iis::fit {

using nlohmann::json;

namespace {

constexpr const char* kHint = "is it a results.json written by `iis fit`? Re-run the fit";

double number(const json& j, const char* key, const std::string& file, bool required) {
  if (!j.contains(key) || j[key].is_null()) {
    IIS_CHECK_HINT(!required, file << " has no \"" << key << "\"", kHint);
    return NAN;
  }
  IIS_CHECK_HINT(j[key].is_number(), file << ": \"" << key << "\" is not a number", kHint);
  return j[key].get<double>();
}

std::string format(double v, const char* spec) {
  if (!std::isfinite(v)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof(buf), spec, v);
  return buf;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

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

}  // namespace

ScoreRow read_score_row(const std::string& json_text, const std::string& file) {
  json j;
  with_context("reading " + file, [&] { j = json::parse(json_text); });
  IIS_CHECK_HINT(j.is_object(), file << " is not a JSON object", kHint);
  ScoreRow row;
  row.file = file;
  row.standard_accuracy = number(j, "standard_accuracy", file, true);
  row.standard_accuracy_std = number(j, "standard_accuracy_std", file, false);
  row.iis = number(j, "iis", file, true);
  row.iis_std = number(j, "iis_std", file, false);
  row.iis_chance_corrected = number(j, "iis_chance_corrected", file, false);
  row.iis_chance_corrected_std = number(j, "iis_chance_corrected_std", file, false);
  if (j.contains("seeds") && j["seeds"].is_array()) {
    row.seeds = static_cast<int64_t>(j["seeds"].size());
  }
  IIS_CHECK_HINT(j.contains("ratios") && j["ratios"].is_array() && !j["ratios"].empty(),
                 file << " has no \"ratios\" list", kHint);
  std::vector<std::pair<double, double>> points;
  for (const auto& r : j["ratios"]) {
    IIS_CHECK_HINT(r.is_object(), file << ": an entry of \"ratios\" is not an object", kHint);
    points.emplace_back(number(r, "ratio", file, true), number(r, "top1", file, true));
  }
  std::sort(points.begin(), points.end());
  for (const auto& [ratio, top1] : points) {
    row.ratios.push_back(ratio);
    row.top1.push_back(top1);
  }
  return row;
}

ScoreTable run_score(const ScoreOptions& options) {
  IIS_CHECK_HINT(!options.results.empty(), "iis score needs at least one RESULTS.json",
                 "e.g. iis score out/results.json");
  ScoreTable table;
  for (const auto& file : options.results) {
    std::string text;
    with_context("reading " + file, [&] { text = core::read_text(file); });
    table.rows.push_back(read_score_row(text, file));
  }
  return table;
}

std::string ScoreTable::to_text() const {
  const auto ratios = all_ratios(rows);
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> head{"results", "accuracy", "IIS", "IIS (chance-corr.)", "seeds"};
  for (double r : ratios) head.push_back("r=" + format(r, "%g"));
  cells.push_back(head);
  for (const auto& row : rows) {
    std::vector<std::string> line{row.file, format(100 * row.standard_accuracy, "%.2f%%"),
                                  format(row.iis, "%.4f"), format(row.iis_chance_corrected, "%.4f"),
                                  std::to_string(row.seeds)};
    if (row.seeds > 1) {
      line[1] += " ± " + format(100 * row.standard_accuracy_std, "%.2f");
      line[2] += " ± " + format(row.iis_std, "%.4f");
      line[3] += " ± " + format(row.iis_chance_corrected_std, "%.4f");
    }
    for (double r : ratios) line.push_back(format(100 * top1_at(row, r), "%.2f"));
    cells.push_back(line);
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& line : cells) {
    for (size_t c = 0; c < line.size(); ++c) {
      // Count code points, not bytes, so "±" does not skew the columns.
      size_t n = 0;
      for (unsigned char ch : line[c]) n += (ch & 0xC0) != 0x80;
      width[c] = std::max(width[c], n);
    }
  }
  std::ostringstream out;
  for (const auto& line : cells) {
    for (size_t c = 0; c < line.size(); ++c) {
      size_t n = 0;
      for (unsigned char ch : line[c]) n += (ch & 0xC0) != 0x80;
      out << line[c] << std::string(width[c] - n + (c + 1 < line.size() ? 2 : 0), ' ');
    }
    out << "\n";
  }
  out << "accuracies in %; r = sparsity ratio (share of concepts dropped)\n";
  return out.str();
}

std::string ScoreTable::to_csv() const {
  const auto ratios = all_ratios(rows);
  std::ostringstream out;
  out << "results,standard_accuracy,standard_accuracy_std,iis,iis_std,iis_chance_corrected,"
         "iis_chance_corrected_std,seeds";
  for (double r : ratios) out << ",top1@" << format(r, "%g");
  out << "\n";
  auto num = [](double v) { return std::isfinite(v) ? format(v, "%.6g") : std::string(); };
  for (const auto& row : rows) {
    out << csv_field(row.file) << "," << num(row.standard_accuracy) << ","
        << num(row.standard_accuracy_std) << "," << num(row.iis) << "," << num(row.iis_std) << ","
        << num(row.iis_chance_corrected) << "," << num(row.iis_chance_corrected_std) << ","
        << row.seeds;
    for (double r : ratios) out << "," << num(top1_at(row, r));
    out << "\n";
  }
  return out.str();
}

json ScoreTable::to_json() const {
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  json out{{"results", json::array()}};
  for (const auto& row : rows) {
    json r{{"file", row.file},
           {"standard_accuracy", num(row.standard_accuracy)},
           {"standard_accuracy_std", num(row.standard_accuracy_std)},
           {"iis", num(row.iis)},
           {"iis_std", num(row.iis_std)},
           {"iis_chance_corrected", num(row.iis_chance_corrected)},
           {"iis_chance_corrected_std", num(row.iis_chance_corrected_std)},
           {"seeds", row.seeds},
           {"ratios", json::array()}};
    for (size_t i = 0; i < row.ratios.size(); ++i) {
      r["ratios"].push_back(json{{"ratio", row.ratios[i]}, {"top1", num(row.top1[i])}});
    }
    out["results"].push_back(r);
  }
  return out;
}

}  // namespace iis::fit
