// Tests of results tables: one list of columns drawn as CSV, JSON, aligned text and HTML cells.
#include "iis/results/table.hpp"

#include <cmath>

#include "test_support.hpp"

namespace iis::results {
namespace {

using nlohmann::json;

struct Row {
  std::string name;
  double score = 0, spread = 0;
  double corrected = 0;  // NaN: undefined
};

std::vector<Column<Row>> columns() {
  std::vector<Column<Row>> c;
  c.push_back(column<Row>("name", "name", [](const Row& r) { return json(r.name); }));
  c.push_back(column<Row>("score", "score", [](const Row& r) { return number_or_null(r.score); }));
  c.back().format = "%.1f %%";
  c.back().scale = 100;
  c.back().spread = "score_std";
  c.push_back(column<Row>(
      "score_std", "", [](const Row& r) { return r.spread > 0 ? json(r.spread) : json(); },
      kCsv | kJson));
  c.back().format = "%.1f";
  c.back().scale = 100;
  c.push_back(
      column<Row>("corrected", "corr.", [](const Row& r) { return number_or_null(r.corrected); }));
  c.back().missing = "n/a";
  c.back().json_name = "chance_corrected";
  c.push_back(column<Row>(
      "kept", "kept", [](const Row&) { return json(int64_t{40}); }, kText));
  return c;
}

const std::vector<Row> kRows = {{"a,\"b\"", 0.5, 0.01, 0.25}, {"c±", 0.75, 0, NAN}};

TEST(Table, CsvQuotesAndShowsMissingValues) {
  EXPECT_EQ(to_csv(columns(), kRows),
            "name,score,score_std,corrected\n"
            "\"a,\"\"b\"\"\",0.5,0.01,0.25\n"
            "c±,0.75,,n/a\n");
}

TEST(Table, JsonHasNullWhereMissing) {
  const json rows = to_json_rows(columns(), kRows);
  EXPECT_EQ(
      rows[0],
      json({{"name", "a,\"b\""}, {"score", 0.5}, {"score_std", 0.01}, {"chance_corrected", 0.25}}));
  EXPECT_TRUE(rows[1]["score_std"].is_null());
  EXPECT_TRUE(rows[1]["chance_corrected"].is_null());
  EXPECT_FALSE(rows[1].contains("kept"));
}

// Columns aligned by code points ("±" is one), the spread after its value where there is one.
TEST(Table, TextIsAlignedWithSpreads) {
  EXPECT_EQ(to_text(columns(), kRows),
            "name   score         corr.  kept\n"
            "a,\"b\"  50.0 % ± 1.0  0.25   40\n"
            "c±     75.0 %        n/a    40\n");
}

TEST(Table, HtmlCellsAreEscapedPartByPart) {
  const auto c = columns();
  auto escape = [](const std::string& s) {
    std::string out;
    for (char ch : s) out += ch == '"' ? std::string("&quot;") : std::string(1, ch);
    return out;
  };
  EXPECT_EQ(cell(c, c[0], kRows[0], " &plusmn; ", escape), "a,&quot;b&quot;");
  EXPECT_EQ(cell(c, c[1], kRows[0], " &plusmn; ", escape), "50.0 % &plusmn; 1.0");
  auto with_html = c;
  with_html[0].html = [](const Row& r) { return "<b>" + r.name + "</b>"; };
  EXPECT_EQ(cell(with_html, with_html[0], kRows[1], " &plusmn; ", escape), "<b>c±</b>");
}

TEST(Table, NumbersAndFields) {
  EXPECT_EQ(format_number(NAN, "%.3f"), "");
  EXPECT_EQ(format_number(0.12345, "%.3f"), "0.123");
  EXPECT_TRUE(number_or_null(INFINITY).is_null());
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(aligned({{"a", "b"}, {"ccc", "d"}}), "a    b\nccc  d\n");
  EXPECT_EQ(aligned({{"a", "b", "c"}, {"ddd", "", ""}}), "a    b  c\nddd\n");
}

}  // namespace
}  // namespace iis::results
