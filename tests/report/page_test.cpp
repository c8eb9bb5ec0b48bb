// Tests index.html and the terminal summary of `iis report`: settings, spreads, notes, order.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "fabricate.hpp"
#include "iis/core/files.hpp"
#include "iis/report/report.hpp"
#include "test_support.hpp"

namespace iis::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test_data::fabricated;
using test_data::with_fit_settings;
using test_data::write;

// Three prototype backbones and one cluster backbone with `iis fit`'s settings and `seeds`.
void fit_like_run(const std::string& run, const json& seeds = {0, 1, 2}) {
  write(run + "/fit/weak-net/prototype/results.json",
        with_fit_settings(fabricated(0.5, 0.80, 0.60, 0.2, "prototype"), seeds));
  write(run + "/fit/mid-net/prototype/results.json",
        with_fit_settings(fabricated(0.6, 0.85, 0.70, 0.1, "prototype"), seeds));
  write(run + "/fit/best-net/prototype/results.json",
        with_fit_settings(fabricated(0.8, 0.95, 0.90, 0.0, "prototype"), seeds));
  json cluster = with_fit_settings(fabricated(0.8, 0.9, 0.85, 0.05, "cluster"), seeds);
  cluster["settings"].erase("concept_select");
  write(run + "/fit/best-net/cluster/results.json", cluster);
}

std::string report_page(const std::string& run, ReportResult* result = nullptr) {
  ReportOptions options;
  options.run_dir = run;
  options.figures = false;
  ReportResult r = run_report(options);
  if (result) *result = r;
  return core::read_text(run + "/index.html");
}

// The page lists what the scores depend on, from results.json, and links the run's files.
TEST(Page, SettingsAreListed) {
  test::TempDir dir;
  fit_like_run(dir / "run");
  std::string html = report_page(dir / "run");
  EXPECT_NE(html.find("<h2>Settings</h2>"), std::string::npos) << html;
  for (const std::string cell : {"<td>10000</td>", "<td>2000</td>", "<td>10</td>", "<td>200</td>",
                                 "<td>0, 0.5, 0.9</td>", "<td>strict</td>", "<td>30</td>",
                                 "<td>0, 1, 2</td>", "<td>0.01</td>", "<td>stratified</td>"})
    EXPECT_NE(html.find(cell), std::string::npos) << cell;
  EXPECT_NE(html.find("best validation epoch"), std::string::npos);
  EXPECT_EQ(html.find("config.yaml"), std::string::npos);  // not in this run folder

  core::write_text_atomic(dir / "run/config.yaml", "out: run\n");
  core::write_text_atomic(dir / "run/stages.json", "{}\n");
  html = report_page(dir / "run");
  EXPECT_NE(html.find("href=\"config.yaml\""), std::string::npos);
  EXPECT_NE(html.find("href=\"stages.json\""), std::string::npos);
}

// With one seed there is no spread to show: no "± 0.000" on the page or in the terminal,
// and the CSV and JSON leave the standard deviation empty.
TEST(Page, OneSeedShowsNoSpread) {
  test::TempDir dir;
  fit_like_run(dir / "run", {0});
  ReportResult result;
  const std::string html = report_page(dir / "run", &result);
  EXPECT_EQ(html.find("&plusmn; 0.0"), std::string::npos);
  EXPECT_NE(html.find("<td>0.850</td>"), std::string::npos);
  EXPECT_EQ(terminal_summary(result).find("±"), std::string::npos) << terminal_summary(result);
  const json summary = json::parse(core::read_text(dir / "run/summary.json"));
  EXPECT_TRUE(summary["rows"][0]["iis_std"].is_null());
  EXPECT_EQ(summary["rows"][0]["seeds"].get<int>(), 1);
  const std::string csv = core::read_text(dir / "run/summary.csv");
  EXPECT_NE(csv.find("weak-net,prototype,0.5,0.8,,0.6,"), std::string::npos) << csv;

  fit_like_run(dir / "three", {0, 1, 2});
  EXPECT_NE(report_page(dir / "three").find("0.850 &plusmn; 0.010"), std::string::npos);
}

// An IIS or a retention above 1 is explained on the page, naming where it happened.
TEST(Page, ValuesAboveOneAreExplained) {
  test::TempDir dir;
  fit_like_run(dir / "run");
  EXPECT_EQ(report_page(dir / "run").find("beat the standard linear probe"), std::string::npos);
  json control = with_fit_settings(fabricated(0.56, 1.02, 1.03, -0.1, "prototype"));
  write(dir / "run/fit/control/prototype/results.json", control);
  const std::string html = report_page(dir / "run");
  const auto note = html.find("beat the standard linear probe");
  ASSERT_NE(note, std::string::npos) << html;
  EXPECT_NE(html.find("control", note - 400), std::string::npos);
}

// Table cells never wrap: IIS ± std stays on one line and names do not break at hyphens.
TEST(Page, TableCellsDoNotWrap) {
  test::TempDir dir;
  fit_like_run(dir / "run");
  const std::string html = report_page(dir / "run");
  EXPECT_NE(html.find("td{white-space:nowrap}"), std::string::npos) << html.substr(0, 800);
}

// Figures come in the order of the table (prototype, cluster, end2end), not by name.
TEST(Page, FiguresFollowTheTableOrder) {
  if (find_executable("gnuplot").empty()) GTEST_SKIP() << "gnuplot (gnuplot-nox) not installed";
  test::TempDir dir;
  fit_like_run(dir / "run");
  json mid = with_fit_settings(fabricated(0.6, 0.8, 0.7, 0.1, "cluster"));
  mid["settings"].erase("concept_select");
  write(dir / "run/fit/mid-net/cluster/results.json", mid);
  ReportOptions options;
  options.run_dir = dir / "run";
  run_report(options);
  const std::string html = core::read_text(dir / "run/index.html");
  const auto prototype = html.find("figures/retention_prototype.png");
  const auto cluster = html.find("figures/retention_cluster.png");
  ASSERT_NE(prototype, std::string::npos);
  ASSERT_NE(cluster, std::string::npos);
  EXPECT_LT(prototype, cluster);
  EXPECT_LT(html.find("<td class=\"name\">prototype</td><td>3"),
            html.find("<td class=\"name\">cluster</td><td>2"));  // correlations too
}

}  // namespace
}  // namespace iis::report
