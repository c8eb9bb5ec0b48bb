// Tests `iis report` on fabricated results.json files whose correlations are known.
#include "iis/report/report.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fabricate.hpp"
#include "iis/core/files.hpp"
#include "test_support.hpp"

namespace iis::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace test_data;

const json* find_row(const json& rows, const std::string& backbone, const std::string& ct) {
  for (const auto& r : rows)
    if (r["backbone"] == backbone && r["concept_type"] == ct) return &r;
  return nullptr;
}

TEST(Report, TableAndCorrelationsFromFabricatedResults) {
  test::TempDir dir;
  const std::string run = dir / "run";
  fabricate_run(run);
  ReportOptions options;
  options.run_dir = run;
  options.figures = false;
  ReportResult result = run_report(options);

  ASSERT_EQ(result.rows.size(), 6u);
  // Grouped prototype first, by accuracy within the group.
  EXPECT_EQ(result.rows[0].backbone, "weak");
  EXPECT_EQ(result.rows[0].concept_type, "prototype");
  EXPECT_EQ(result.rows[3].backbone, "best");
  EXPECT_EQ(result.rows[4].concept_type, "cluster");

  json summary = json::parse(core::read_text(run + "/summary.json"));
  ASSERT_EQ(summary["rows"].size(), 6u);
  const json* mid = find_row(summary["rows"], "mid", "prototype");
  ASSERT_NE(mid, nullptr);
  EXPECT_DOUBLE_EQ((*mid)["standard_accuracy"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ((*mid)["iis"].get<double>(), 0.85);
  EXPECT_DOUBLE_EQ((*mid)["iis_std"].get<double>(), 0.01);
  EXPECT_DOUBLE_EQ((*mid)["iis_chance_corrected"].get<double>(), 0.70);
  EXPECT_NEAR((*mid)["accuracy_at_ratio"]["0.5"].get<double>(), 0.6 * 0.95, 1e-12);
  EXPECT_NEAR((*mid)["ratios"][2]["retention"].get<double>(), 1 - 0.1 * 0.9, 1e-12);
  ASSERT_NE(find_row(summary["rows"], "weak", "cluster"), nullptr);
  ASSERT_NE(find_row(summary["rows"], "best", "cluster"), nullptr);

  // Prototype: the hand-computed values of correlation_test. Chance-corrected IIS
  // {0.6, 0.7, 0.75, 0.9}: deviations -0.1375, -0.0375, 0.0125, 0.1625 →
  // Sxy = 0.0475, Syy = 0.046875 → r = 0.0475 / sqrt(0.05 · 0.046875); no ties → rho = 1.
  const json& proto = summary["correlations"]["prototype"];
  EXPECT_EQ(proto["n"].get<int>(), 4);
  EXPECT_NEAR(proto["pearson"].get<double>(), 0.0225 / std::sqrt(0.05 * 0.011875), 1e-9);
  EXPECT_NEAR(proto["spearman"].get<double>(), 3.0 / std::sqrt(10.0), 1e-9);
  EXPECT_NEAR(proto["pearson_chance_corrected"].get<double>(), 0.0475 / std::sqrt(0.05 * 0.046875),
              1e-9);
  EXPECT_NEAR(proto["spearman_chance_corrected"].get<double>(), 1.0, 1e-9);
  // Cluster: two points always lie on a line (r = ±1 says nothing): no coefficient below 3.
  const json& cluster = summary["correlations"]["cluster"];
  EXPECT_EQ(cluster["n"].get<int>(), 2);
  EXPECT_TRUE(cluster["pearson"].is_null());

  // CSV: header with one column per ratio, one line per row.
  std::ifstream csv(run + "/summary.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header,
            "backbone,concept_type,standard_accuracy,iis,iis_std,iis_chance_corrected,"
            "top1_r0,top1_r0.5,top1_r0.9,source");
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  EXPECT_EQ(lines, 6);
  EXPECT_NE(core::read_text(run + "/index.html").find("<td class=\"name\">mid</td>"),
            std::string::npos);
}

TEST(Report, FiguresArePngAndSvg) {
  if (find_executable("gnuplot").empty()) GTEST_SKIP() << "gnuplot (gnuplot-nox) not installed";
  test::TempDir dir;
  const std::string run = dir / "run";
  fabricate_run(run);
  ReportOptions options;
  options.run_dir = run;
  options.out_dir = dir / "report";
  ReportResult result = run_report(options);
  for (const std::string stem : {"retention_prototype", "retention_cluster",
                                 "iis_vs_accuracy_prototype", "iis_vs_accuracy_cluster"}) {
    const std::string png = dir / ("report/figures/" + stem + ".png");
    const std::string svg = dir / ("report/figures/" + stem + ".svg");
    ASSERT_TRUE(fs::exists(png)) << png;
    EXPECT_EQ(core::read_text(png).substr(1, 3), "PNG");
    EXPECT_GT(fs::file_size(png), 10000u);  // a drawn plot, not an empty canvas
    EXPECT_NE(core::read_text(svg).find("<svg"), std::string::npos);
    EXPECT_FALSE(fs::exists(png + ".tmp"));
  }
  const std::string scatter = core::read_text(dir / "report/figures/iis_vs_accuracy_prototype.gp");
  EXPECT_NE(scatter.find("Pearson r = +0.92"), std::string::npos);
  EXPECT_NE(core::read_text(dir / "report/index.html").find("figures/retention_cluster.png"),
            std::string::npos);
  EXPECT_EQ(result.files.size(), 3u + 8u);
}

// A newline and a gnuplot shell escape ("!") in a name, from results.json or from a folder:
// the report refuses the name before any script is written, and gnuplot runs nothing.
TEST(Report, NamesWithControlCharactersRunNothing) {
  if (find_executable("gnuplot").empty()) GTEST_SKIP() << "gnuplot (gnuplot-nox) not installed";
  test::TempDir dir;
  test_data::WorkingDir cwd(dir.str());  // where gnuplot's `!touch X` would create X
  const std::string evil = "evil\n!touch X\n#";
  ReportOptions options;
  options.out_dir = dir / "report";

  options.run_dir = dir / "named_in_file";
  fabricate_run(options.run_dir);
  json named = fabricated(0.65, 0.9, 0.8, 0.1, "prototype");
  named["backbone"] = evil;
  write(options.run_dir + "/fit/x/prototype/results.json", named);
  EXPECT_IIS_ERROR(run_report(options), "control character");
  EXPECT_FALSE(fs::exists(dir / "X"));

  fs::remove(dir / "X");
  options.run_dir = dir / "named_by_folder";
  fabricate_run(options.run_dir);
  write(options.run_dir + "/fit/" + evil + "/prototype/results.json",
        fabricated(0.65, 0.9, 0.8, 0.1));
  const std::string what = test::error_of([&] { run_report(options); });
  EXPECT_NE(what.find("evil\\n!touch X\\n#"), std::string::npos) << what;  // shown escaped
  EXPECT_EQ(what.find('\n'), std::string::npos) << what;                   // on one line
  EXPECT_FALSE(fs::exists(dir / "X"));
  EXPECT_FALSE(fs::exists(dir / "report/figures/X"));
}

// `iis fit` writes "iis_chance_corrected": null when the standard accuracy is at or below
// chance (1/C); the report shows n/a there instead of refusing the file.
TEST(Report, ChanceCorrectedIisUndefinedAtChance) {
  test::TempDir dir;
  fabricate_run(dir / "run");
  json at_chance = fabricated(0.1, 1.02, 0.0, 0.0, "prototype");
  at_chance["iis_chance_corrected"] = nullptr;
  for (auto& r : at_chance["ratios"]) r["arr_chance_corrected"] = nullptr;
  write(dir / "run/fit/chance/prototype/results.json", at_chance);
  ReportOptions options;
  options.run_dir = dir / "run";
  options.figures = !find_executable("gnuplot").empty();  // the scatter plot skips the point
  ReportResult result = run_report(options);

  ASSERT_EQ(result.rows[0].backbone, "chance");
  EXPECT_TRUE(std::isnan(result.rows[0].iis_chance_corrected));
  json summary = json::parse(core::read_text(dir / "run/summary.json"));
  EXPECT_TRUE(
      find_row(summary["rows"], "chance", "prototype")->at("iis_chance_corrected").is_null());
  // Correlations of the chance-corrected IIS leave the undefined row out and say so.
  EXPECT_EQ(summary["correlations"]["prototype"]["n"].get<int>(), 5);
  EXPECT_EQ(summary["correlations"]["prototype"]["n_chance_corrected"].get<int>(), 4);
  EXPECT_NEAR(summary["correlations"]["prototype"]["pearson_chance_corrected"].get<double>(),
              0.0475 / std::sqrt(0.05 * 0.046875), 1e-9);

  std::ifstream csv(dir / "run/summary.csv");
  std::string line;
  while (std::getline(csv, line) && line.rfind("chance,", 0) != 0) {
  }
  EXPECT_EQ(line.rfind("chance,prototype,0.1,1.02,0.01,n/a,0.1,", 0), 0u) << line;
  const std::string html = core::read_text(dir / "run/index.html");
  EXPECT_NE(html.find("<td>n/a</td>"), std::string::npos);
  const std::string terminal = terminal_summary(result);
  EXPECT_NE(terminal.find("n/a"), std::string::npos) << terminal;
  EXPECT_EQ(terminal.find("nan"), std::string::npos) << terminal;
}

// A "warnings" list in results.json (e.g. ratios that keep no concept) is shown per backbone
// and concept type on the page and in the terminal; without one, nothing is.
TEST(Report, WarningsOfTheFitAreShown) {
  test::TempDir dir;
  fabricate_run(dir / "run");
  ReportOptions options;
  options.run_dir = dir / "run";
  options.figures = false;
  ReportResult plain = run_report(options);
  EXPECT_EQ(core::read_text(dir / "run/index.html").find("Warnings"), std::string::npos);
  EXPECT_EQ(terminal_summary(plain).find("warning"), std::string::npos);

  const std::string message = "ratios 0.98 keep 0 concepts with K=40; K=51 or more keeps one";
  json warned = fabricated(0.6, 0.85, 0.70, 0.1, "prototype");
  warned["warnings"] = {message};
  write(dir / "run/fit/mid/prototype/results.json", warned);
  ReportResult result = run_report(options);
  const std::string html = core::read_text(dir / "run/index.html");
  EXPECT_NE(html.find("Warnings"), std::string::npos);
  EXPECT_NE(html.find("mid</b> (prototype): " + message), std::string::npos) << html;
  EXPECT_NE(terminal_summary(result).find("warning: mid (prototype): " + message),
            std::string::npos)
      << terminal_summary(result);
  json summary = json::parse(core::read_text(dir / "run/summary.json"));
  EXPECT_EQ(find_row(summary["rows"], "mid", "prototype")->at("warnings"), json({message}));

  warned["warnings"] = "not a list";
  write(dir / "run/fit/mid/prototype/results.json", warned);
  EXPECT_IIS_ERROR(run_report(options), "\"warnings\" is not a list of strings");
}

// Correlations are given from 3 backbones on, always with n; with 2 they are n/a.
TEST(Report, CorrelationsNeedThreeBackbones) {
  test::TempDir dir;
  write(dir / "run/fit/a/prototype/results.json", fabricated(0.5, 0.80, 0.60, 0.2));
  write(dir / "run/fit/b/prototype/results.json", fabricated(0.6, 0.85, 0.70, 0.1));
  ReportOptions options;
  options.run_dir = dir / "run";
  options.figures = false;
  ReportResult two = run_report(options);
  EXPECT_EQ(two.correlations["prototype"].n, 2);
  EXPECT_TRUE(std::isnan(two.correlations["prototype"].pearson));
  EXPECT_TRUE(std::isnan(two.correlations["prototype"].spearman_chance_corrected));
  EXPECT_NE(terminal_summary(two).find("Pearson n/a"), std::string::npos) << terminal_summary(two);
  EXPECT_NE(core::read_text(dir / "run/index.html").find("needs 3 or more"), std::string::npos);

  write(dir / "run/fit/c/prototype/results.json", fabricated(0.7, 0.9, 0.8, 0.1));
  ReportResult three = run_report(options);
  EXPECT_EQ(three.correlations["prototype"].n, 3);
  EXPECT_NEAR(three.correlations["prototype"].pearson, 1.0, 1e-9);  // three points on a line
}

// A backbone the run fine-tuned (RUN/finetune/<name>/finetune.json) is a near copy of its start:
// it stays in the table but not in the correlations, which say how many they left out.
TEST(Report, FineTunedBackbonesAreLeftOutOfCorrelations) {
  test::TempDir dir;
  write(dir / "run/fit/a/prototype/results.json", fabricated(0.5, 0.80, 0.60, 0.2));
  write(dir / "run/fit/b/prototype/results.json", fabricated(0.6, 0.85, 0.70, 0.1));
  write(dir / "run/fit/c/prototype/results.json", fabricated(0.7, 0.90, 0.80, 0.1));
  write(dir / "run/fit/c_ft/prototype/results.json", fabricated(0.72, 0.5, 0.3, 0.1));
  write(dir / "run/finetune/c_ft/finetune.json", json::object());
  ReportOptions options;
  options.run_dir = dir / "run";
  options.figures = !find_executable("gnuplot").empty();
  ReportResult result = run_report(options);
  ASSERT_EQ(result.rows.size(), 4u);
  EXPECT_TRUE(result.rows[3].fine_tuned);
  EXPECT_FALSE(result.rows[2].fine_tuned);
  const CorrelationSummary& c = result.correlations["prototype"];
  EXPECT_EQ(c.n, 3);
  EXPECT_EQ(c.n_fine_tuned, 1);
  EXPECT_NEAR(c.pearson, 1.0, 1e-9);  // a, b, c on a line; c_ft would break it
  EXPECT_NE(terminal_summary(result).find("1 fine-tuned backbones left out"), std::string::npos);
  EXPECT_NE(core::read_text(dir / "run/index.html").find("1 fine-tuned left out"),
            std::string::npos);
  const json summary = json::parse(core::read_text(dir / "run/summary.json"));
  EXPECT_EQ(summary["correlations"]["prototype"]["n_fine_tuned_left_out"].get<int>(), 1);
  if (options.figures) {  // the scatter plot draws it and says it is not in the correlation
    const std::string scatter = core::read_text(dir / "run/figures/iis_vs_accuracy_prototype.gp");
    EXPECT_NE(scatter.find("(n = 3 backbones; 1 fine-tuned drawn, left out)"), std::string::npos)
        << scatter;
  }
}

// RUN/finetune.json (written by `iis run` for finetune entries) becomes a section of the page:
// each measure at the start, with the term, in the control, and the difference of the gains.
TEST(Report, PageShowsTheFineTuningExperiment) {
  test::TempDir dir;
  fabricate_run(dir / "run");
  const json gain = {{"mean", 0.03}, {"std", 0.01}, {"n", 2}};
  const json control = {{"mean", 0.01}, {"std", 0.0}, {"n", 2}};
  const json difference = {{"mean", 0.02}, {"std", 0.005}, {"n", 2}};
  write(dir / "run/finetune.json", {{"pairs", json::array()},
                                    {"experiments",
                                     {{{"from", "mid"},
                                       {"lambda", 1},
                                       {"finetuned", {"ft0", "ft1"}},
                                       {"controls", {"c0", "c1"}},
                                       {"accuracy",
                                        {{"start", 0.8},
                                         {"with_term", gain},
                                         {"without_term", control},
                                         {"difference", difference},
                                         {"rose_more_than_spread", true}}}}}}});
  ReportOptions options;
  options.run_dir = dir / "run";
  options.figures = false;
  run_report(options);
  const std::string page = core::read_text(dir / "run/index.html");
  EXPECT_NE(page.find("Fine-tuning with the interpretability term"), std::string::npos);
  // start 80 %, with the term 83 ± 1 %, control 81 ± 0 %, difference +2 ± 0.5 points.
  EXPECT_NE(page.find("<td>80.00 %</td><td>83.00 % ± 1.00 %</td><td>81.00 % ± 0.00 %</td>"
                      "<td>+2.00 ± 0.50 points</td><td>yes</td>"),
            std::string::npos)
      << page;

  core::write_text_atomic(dir / "run/finetune.json", "{ not json");
  run_report(options);  // a damaged file costs the section, not the report
  EXPECT_NE(core::read_text(dir / "run/index.html").find("finetune.json could not be read"),
            std::string::npos);
}

// Results fit with different settings (here two ratio sets) are never pooled: each set of
// settings is a group with its own table, correlation (and n) and figures.
TEST(Report, DifferentSettingsAreNotPooled) {
  test::TempDir dir;
  fabricate_run(dir / "run");
  for (const std::string name : {"x", "y", "z"}) {
    json other = fabricated(name == "x"   ? 0.55
                            : name == "y" ? 0.65
                                          : 0.75,
                            0.9, 0.8, 0.1, "prototype");
    other["ratios"] = json::array();
    for (double r : {0.0, 0.3, 0.6, 0.9}) other["ratios"].push_back({{"ratio", r}, {"top1", 0.5}});
    write(dir / ("run/other/" + name + "/prototype/results.json"), other);
  }
  ReportOptions options;
  options.run_dir = dir / "run";
  options.figures = false;
  ReportResult result = run_report(options);
  ASSERT_EQ(result.correlations.size(), 3u);  // two prototype groups and cluster
  int prototype_groups = 0;
  for (const auto& [group, c] : result.correlations) {
    if (group.rfind("prototype", 0) != 0) continue;
    ++prototype_groups;
    EXPECT_NE(group.find("ratios"), std::string::npos) << group;
    EXPECT_EQ(c.n, group.find("0.3") != std::string::npos ? 3 : 4) << group;
  }
  EXPECT_EQ(prototype_groups, 2);
  const std::string html = core::read_text(dir / "run/index.html");
  EXPECT_EQ(html.find("<td></td>"), std::string::npos) << html;  // no empty ratio cells
}

TEST(Report, ClearErrors) {
  test::TempDir dir;
  ReportOptions options;
  options.run_dir = dir / "missing";
  EXPECT_IIS_ERROR(run_report(options), "does not exist");
  options.run_dir = dir.str();
  options.figures = false;
  EXPECT_IIS_ERROR(run_report(options), "no results.json");
  write(dir / "a/results.json", json{{"standard_accuracy", 0.5}, {"ratios", json::array()}});
  EXPECT_IIS_ERROR(run_report(options), "a/results.json has no \"iis\"");
  options.figures = true;
  options.gnuplot = "no-such-gnuplot-here";
  std::string what = test::error_of([&] { run_report(options); });
  EXPECT_NE(what.find("gnuplot not found"), std::string::npos) << what;
  try {
    run_report(options);
  } catch (const Error& e) {
    EXPECT_NE(e.hint().find("gnuplot-nox"), std::string::npos);
  }
}

}  // namespace
}  // namespace iis::report
