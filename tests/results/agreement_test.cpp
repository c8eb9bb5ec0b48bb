// `iis report` and `iis score` read results.json through one schema and agree: a fit at or
// below chance (chance-corrected figures null) is n/a in their tables and null in their JSON.
#include <cmath>
#include <sstream>

#include "every_field.hpp"
#include "iis/fit/score_results.hpp"
#include "iis/report/report.hpp"
#include "test_support.hpp"

namespace iis::results {
namespace {

using nlohmann::json;

// A results.json (its backbone named by its folder) with these figures.
FitResults fit_of(double accuracy, double iis, double chance_corrected) {
  FitResults r = test_data::every_field();
  r.backbone.reset();
  r.settings.backbone.reset();
  r.settings.concept_type.reset();
  r.concept_type = "prototype";
  r.standard_accuracy = accuracy;
  r.iis = iis;
  r.iis_chance_corrected = chance_corrected;
  r.iis_chance_corrected_std = std::isnan(chance_corrected) ? NAN : 0.01;
  for (auto& ratio : r.ratios) {
    ratio.top1 = accuracy * (1 - 0.1 * ratio.ratio);
    if (std::isnan(chance_corrected)) ratio.arr_chance_corrected = NAN;
  }
  return r;
}

void write(const std::string& path, const FitResults& r) {
  core::make_dirs(std::filesystem::path(path).parent_path().string());
  core::write_text_atomic(path, to_json(r).dump(1));
}

// The line of `csv` that starts with `prefix`.
std::string line_of(const std::string& csv, const std::string& prefix) {
  std::istringstream lines(csv);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(prefix, 0) == 0) return line;
  return "";
}

TEST(Agreement, AtChanceBothShowNotApplicable) {
  test::TempDir dir;
  write(dir / "run/fit/weak/prototype/results.json", fit_of(0.6, 0.8, 0.7));
  write(dir / "run/fit/strong/prototype/results.json", fit_of(0.9, 0.9, 0.85));
  const std::string at_chance = dir / "run/fit/chance/prototype/results.json";
  write(at_chance, fit_of(0.1, 1.02, NAN));
  ASSERT_TRUE(json::parse(core::read_text(at_chance))["iis_chance_corrected"].is_null());
  ASSERT_TRUE(
      json::parse(core::read_text(at_chance))["ratios"][0]["arr_chance_corrected"].is_null());

  report::ReportOptions options;
  options.run_dir = dir / "run";
  options.figures = false;
  const report::ReportResult result = report::run_report(options);
  ASSERT_EQ(result.rows[0].backbone, "chance");
  EXPECT_TRUE(std::isnan(result.rows[0].iis_chance_corrected));
  const json summary = json::parse(core::read_text(dir / "run/summary.json"));
  EXPECT_TRUE(summary["rows"][0]["iis_chance_corrected"].is_null());
  EXPECT_EQ(summary["correlations"]["prototype"]["n_chance_corrected"], 2);
  const std::string report_line = line_of(core::read_text(dir / "run/summary.csv"), "chance,");
  EXPECT_NE(report_line.find(",n/a,"), std::string::npos) << report_line;
  EXPECT_NE(core::read_text(dir / "run/index.html").find("<td>n/a</td>"), std::string::npos);
  EXPECT_NE(line_of(report::terminal_summary(result), "chance").find("n/a"), std::string::npos)
      << report::terminal_summary(result);

  fit::ScoreOptions score;
  score.results = {at_chance, dir / "run/fit/weak/prototype/results.json"};
  const fit::ScoreTable table = fit::run_score(score);
  EXPECT_TRUE(std::isnan(table.rows[0].iis_chance_corrected));
  EXPECT_TRUE(table.to_json()["results"][0]["iis_chance_corrected"].is_null());
  EXPECT_TRUE(table.to_json()["results"][0]["iis_chance_corrected_std"].is_null());
  EXPECT_EQ(table.to_json()["results"][1]["iis_chance_corrected"], 0.7);
  const std::string score_line = line_of(table.to_csv(), at_chance + ",");
  EXPECT_NE(score_line.find(",n/a,"), std::string::npos) << score_line;
  EXPECT_NE(line_of(table.to_text(), at_chance).find("n/a"), std::string::npos) << table.to_text();
  EXPECT_EQ(table.to_text().find("nan"), std::string::npos) << table.to_text();
}

// With one seed neither shows a standard deviation; with two, both do.
TEST(Agreement, SpreadOnlyWithSeveralSeeds) {
  test::TempDir dir;
  FitResults one = fit_of(0.6, 0.8, 0.7);
  one.settings.seeds = std::vector<uint64_t>{0};
  one.seeds = {0};
  write(dir / "run/fit/one/prototype/results.json", one);
  write(dir / "run/fit/two/prototype/results.json", fit_of(0.7, 0.9, 0.8));
  report::ReportOptions options;
  options.run_dir = dir / "run";
  options.figures = false;
  report::run_report(options);
  const json rows = json::parse(core::read_text(dir / "run/summary.json"))["rows"];
  fit::ScoreOptions score;
  score.results = {dir / "run/fit/one/prototype/results.json",
                   dir / "run/fit/two/prototype/results.json"};
  const json scored = fit::run_score(score).to_json()["results"];
  EXPECT_TRUE(rows[0]["iis_std"].is_null());
  EXPECT_TRUE(scored[0]["iis_std"].is_null());
  EXPECT_EQ(rows[1]["iis_std"], one.iis_std);
  EXPECT_EQ(scored[1]["iis_std"], one.iis_std);
}

}  // namespace
}  // namespace iis::results
