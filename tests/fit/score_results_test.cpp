// Tests of `iis score`: reading results.json files into a table, CSV and JSON.
#include "iis/fit/score_results.hpp"

#include "iis/core/files.hpp"
#include "test_support.hpp"

namespace iis::fit {
namespace {

TEST(ScoreResults, TableCsvAndJson) {
  test::TempDir dir;
  core::write_text_atomic(dir / "a.json", R"({"standard_accuracy": 0.9, "iis": 0.95,
    "iis_std": 0.01, "iis_chance_corrected": 0.93, "seeds": [0, 1],
    "ratios": [{"ratio": 0.5, "top1": 0.85}, {"ratio": 0, "top1": 0.9}]})");
  core::write_text_atomic(dir / "b.json", R"({"standard_accuracy": 0.6, "iis": 0.8,
    "ratios": [{"ratio": 0, "top1": 0.6}, {"ratio": 0.9, "top1": 0.3}]})");
  ScoreOptions o;
  o.results = {dir / "a.json", dir / "b.json"};
  auto table = run_score(o);
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_EQ(table.rows[0].ratios, (std::vector<double>{0, 0.5}));  // sorted
  EXPECT_EQ(table.rows[0].seeds, 2);
  auto csv = table.to_csv();
  EXPECT_NE(csv.find("top1@0,top1@0.5,top1@0.9"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",0.9,0.85,\n"), std::string::npos) << csv;  // a has no 0.9 column value
  auto text = table.to_text();
  EXPECT_NE(text.find("0.9500 ± 0.0100"), std::string::npos) << text;
  EXPECT_NE(text.find("85.00"), std::string::npos) << text;
  auto j = table.to_json();
  EXPECT_EQ(j["results"][1]["iis"], 0.8);
  EXPECT_TRUE(j["results"][1]["iis_chance_corrected"].is_null());
}

TEST(ScoreResults, BadFiles) {
  test::TempDir dir;
  core::write_text_atomic(dir / "x.json", R"({"iis": 0.9, "ratios": []})");
  ScoreOptions o;
  o.results = {dir / "x.json"};
  EXPECT_IIS_ERROR(run_score(o), "has no \"standard_accuracy\"");
  o.results = {dir / "missing.json"};
  EXPECT_IIS_ERROR(run_score(o), "missing.json");
  core::write_text_atomic(dir / "y.json", "not json");
  o.results = {dir / "y.json"};
  EXPECT_IIS_ERROR(run_score(o), "y.json");
}

}  // namespace
}  // namespace iis::fit
