// Tables of results: one list of columns (name, header, value, format) from which a table's
// CSV, JSON, aligned text and page cells are all drawn.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace iis::results {

// Where a column appears.
enum Output : unsigned {
  kCsv = 1u,   // a CSV column
  kJson = 2u,  // a key of each row's JSON object
  kText = 4u,  // a column of the aligned text table (the terminal)
  kPage = 8u,  // a column of the HTML table
  kEverywhere = kCsv | kJson | kText | kPage,
};

// How a column shows its values, apart from where they come from.
struct ColumnFormat {
  std::string name;    // the CSV header, and the JSON key unless json_name is set
  std::string header;  // the header of the text and HTML tables
  unsigned outputs = kEverywhere;
  // Text and HTML: printf format of value × scale (whole numbers print as they are).
  const char* format = "%g";
  double scale = 1;
  // CSV, text and HTML where the value is null: "" (not recorded) or "n/a" (undefined).
  const char* missing = "";
  // The column whose value follows this one's as "± x" in text and HTML, where not null.
  std::string spread;
  std::string json_name;
  std::string page_header;  // the HTML header where it is not `header` (HTML, not escaped)

  const std::string& json_key() const { return json_name.empty() ? name : json_name; }
};

// A column of a table of `Row`s.
template <class Row>
struct Column : ColumnFormat {
  // The value: a number, a string, null where missing, or (JSON only) any JSON.
  std::function<nlohmann::json(const Row&)> value;
  // The HTML cell where it shows more than the escaped text (else unset).
  std::function<std::string(const Row&)> html;
};

// A column: `name`, `header`, the value getter; the rest is set on the result.
template <class Row>
Column<Row> column(std::string name, std::string header,
                   std::function<nlohmann::json(const Row&)> value,
                   unsigned outputs = kEverywhere) {
  Column<Row> c;
  c.name = std::move(name);
  c.header = std::move(header);
  c.value = std::move(value);
  c.outputs = outputs;
  return c;
}

// A number as JSON; null where it is NaN or infinite (as JSON has no such numbers).
nlohmann::json number_or_null(double v);

// `s` as one CSV field: quoted where it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s);

// `v` printed with a printf `format`; "" for NaN.
std::string format_number(double v, const char* format);

// A value as a CSV cell: numbers as %.6g, strings quoted where needed, null as `missing`.
std::string csv_cell(const nlohmann::json& value, const ColumnFormat& column);

// A value as a text cell: numbers in the column's format and scale, null as `missing`.
std::string text_cell(const nlohmann::json& value, const ColumnFormat& column);

// Lines of cells as aligned columns (widths in code points, two spaces apart), each line
// ending in "\n".
std::string aligned(const std::vector<std::vector<std::string>>& lines);

// The columns of `columns` shown in `output`, in order.
template <class Row>
std::vector<const Column<Row>*> shown_in(const std::vector<Column<Row>>& columns, Output output) {
  std::vector<const Column<Row>*> out;
  for (const auto& c : columns)
    if (c.outputs & output) out.push_back(&c);
  return out;
}

// The CSV: a header line of names, then one line per row.
template <class Row>
std::string to_csv(const std::vector<Column<Row>>& columns, const std::vector<Row>& rows) {
  const auto shown = shown_in(columns, kCsv);
  std::string out;
  for (size_t c = 0; c < shown.size(); ++c) out += (c ? "," : "") + shown[c]->name;
  out += "\n";
  for (const auto& row : rows) {
    for (size_t c = 0; c < shown.size(); ++c)
      out += (c ? "," : "") + csv_cell(shown[c]->value(row), *shown[c]);
    out += "\n";
  }
  return out;
}

// One JSON object per row, a key per JSON column.
template <class Row>
nlohmann::json to_json_rows(const std::vector<Column<Row>>& columns, const std::vector<Row>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto* c : shown_in(columns, kJson)) j[c->json_key()] = c->value(row);
    out.push_back(j);
  }
  return out;
}

// The cell of column `c` for `row`: its text, then "<plus_minus>spread" where the spread
// column's value is not null. With `escape` (HTML), each part escaped, or the column's html.
template <class Row>
std::string cell(const std::vector<Column<Row>>& columns, const Column<Row>& c, const Row& row,
                 const std::string& plus_minus,
                 const std::function<std::string(const std::string&)>& escape = nullptr) {
  if (escape && c.html) return c.html(row);
  auto shown = [&](const std::string& text) { return escape ? escape(text) : text; };
  std::string out = shown(text_cell(c.value(row), c));
  for (const auto& s : columns) {
    if (c.spread.empty() || s.name != c.spread) continue;
    const nlohmann::json spread = s.value(row);
    if (!spread.is_null()) out += plus_minus + shown(text_cell(spread, s));
  }
  return out;
}

// The aligned text table: a header line, then one line per row.
template <class Row>
std::string to_text(const std::vector<Column<Row>>& columns, const std::vector<Row>& rows) {
  const auto shown = shown_in(columns, kText);
  std::vector<std::vector<std::string>> lines(1);
  for (const auto* c : shown) lines[0].push_back(c->header);
  for (const auto& row : rows) {
    lines.emplace_back();
    for (const auto* c : shown) lines.back().push_back(cell(columns, *c, row, " ± "));
  }
  return aligned(lines);
}

}  // namespace iis::results
