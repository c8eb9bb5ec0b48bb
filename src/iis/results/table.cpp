// Cells of results tables: CSV quoting, number formats and aligned text columns.
#include "iis/results/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace iis::results {

using nlohmann::json;

namespace {

// Null, or a number that is not finite: shown as the column's `missing`.
bool is_missing(const json& v) {
  return v.is_null() || (v.is_number_float() && !std::isfinite(v.get<double>()));
}

std::string whole_number(const json& v) {
  return v.is_number_unsigned() ? std::to_string(v.get<uint64_t>())
                                : std::to_string(v.get<int64_t>());
}

// Characters a terminal shows for `s` (UTF-8 continuation bytes do not count).
size_t code_points(const std::string& s) {
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

}  // namespace

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string format_number(double v, const char* format) {
  if (std::isnan(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string csv_cell(const json& value, const ColumnFormat& column) {
  if (is_missing(value)) return column.missing;
  if (value.is_string()) return csv_field(value.get<std::string>());
  if (value.is_number_integer()) return whole_number(value);
  return format_number(value.get<double>(), "%.6g");
}

std::string text_cell(const json& value, const ColumnFormat& column) {
  if (is_missing(value)) return column.missing;
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return whole_number(value);
  return format_number(column.scale * value.get<double>(), column.format);
}

std::string aligned(const std::vector<std::vector<std::string>>& lines) {
  std::vector<size_t> width;
  for (const auto& line : lines) {
    width.resize(std::max(width.size(), line.size()), 0);
    for (size_t c = 0; c < line.size(); ++c) width[c] = std::max(width[c], code_points(line[c]));
  }
  std::string out;
  for (const auto& line : lines) {
    std::string text;
    for (size_t c = 0; c < line.size(); ++c) {
      text += line[c];
      if (c + 1 < line.size()) text += std::string(width[c] - code_points(line[c]) + 2, ' ');
    }
    out += text.substr(0, text.find_last_not_of(' ') + 1) + "\n";  // no trailing blanks
  }
  return out;
}

}  // namespace iis::results
