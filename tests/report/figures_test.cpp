// Tests the figures of `iis report`: hostile names, incomplete images, standalone scripts.
#include "iis/report/detail/figures.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "fabricate.hpp"
#include "iis/core/files.hpp"
#include "test_support.hpp"

namespace iis::report {
namespace {

namespace fs = std::filesystem;

ReportRow row(const std::string& backbone, const std::string& concept_type, double acc) {
  ReportRow r;
  r.backbone = backbone;
  r.concept_type = concept_type;
  r.standard_accuracy = acc;
  r.iis = r.iis_chance_corrected = 0.9;
  for (double ratio : {0.0, 0.5, 0.9}) r.ratios.push_back({ratio, acc * (1 - 0.1 * ratio), 1, 0});
  return r;
}

// Names that would end a gnuplot string or start a command if written into a script as they
// are: a newline then a shell escape, a quote, backquotes (command substitution in double
// quotes), a macro and a trailing backslash. The figures are drawn; nothing runs.
TEST(Figures, HostileNamesAreInertText) {
  const std::string gnuplot = find_executable("gnuplot");
  if (gnuplot.empty()) GTEST_SKIP() << "gnuplot (gnuplot-nox) not installed";
  test::TempDir dir;
  test_data::WorkingDir cwd(dir.str());
  ReportResult result;
  result.rows = {row("evil\n!touch X\n#", "proto`touch Y`\r!touch Z", 0.5),
                 row("it's `touch W` @a \\", "proto`touch Y`\r!touch Z", 0.7),
                 row("plain", "proto`touch Y`\r!touch Z", 0.9)};
  result.correlations = correlate(result.rows);
  const auto files = detail::draw_figures(result, dir / "figures", gnuplot);
  EXPECT_EQ(files.size(), 4u);
  for (const char* marker : {"X", "Y", "Z", "W"}) {
    EXPECT_FALSE(fs::exists(dir / marker)) << marker;
    EXPECT_FALSE(fs::exists(dir / ("figures/" + std::string(marker)))) << marker;
  }
  for (const auto& f : files) EXPECT_GT(fs::file_size(f), 1000u) << f;
  for (const auto& e : fs::directory_iterator(dir / "figures")) {
    if (e.path().extension() != ".gp") continue;
    std::ifstream script(e.path());
    for (std::string line; std::getline(script, line);)
      EXPECT_TRUE(line.empty() || line[0] != '!') << e.path() << ": " << line;
  }
}

// A stand-in for gnuplot that runs the real one, then cuts every image it wrote as a full
// disk would (gnuplot itself still exits 0 there): `command` gets each image as $f.
std::string truncating_gnuplot(const std::string& dir, const std::string& gnuplot,
                               const std::string& command) {
  const std::string path = dir + "/fake-gnuplot";
  core::write_text_atomic(path, "#!/bin/sh\n" + gnuplot +
                                    " \"$@\" || exit $?\n"
                                    "for a; do script=$a; done\n"
                                    "cd \"$(dirname \"$script\")\" || exit 1\n"
                                    "for f in *.png* *.svg*; do " +
                                    command + "; done\n");
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

int files_ending(const std::string& dir, const std::string& extension) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == extension;
  return n;
}

// Runs the report with a gnuplot that writes broken images; returns the error.
std::string report_with(const std::string& gnuplot, const std::string& run,
                        const std::string& out) {
  ReportOptions options;
  options.run_dir = run;
  options.out_dir = out;
  options.gnuplot = gnuplot;
  return test::error_of([&] { run_report(options); });
}

TEST(Figures, IncompleteImagesAreNeverRenamedIntoPlace) {
  const std::string gnuplot = find_executable("gnuplot");
  if (gnuplot.empty()) GTEST_SKIP() << "gnuplot (gnuplot-nox) not installed";
  test::TempDir dir;
  test_data::fabricate_run(dir / "run");
  const std::string halve_png =
      "case $f in *.png*) truncate -s $(($(stat -c %s \"$f\") / 2)) \"$f\";; esac";
  std::string what =
      report_with(truncating_gnuplot(dir.str(), gnuplot, halve_png), dir / "run", dir / "a");
  EXPECT_NE(what.find("incomplete"), std::string::npos) << what;
  EXPECT_NE(what.find(".png: incomplete"), std::string::npos) << what;
  EXPECT_EQ(files_ending(dir / "a/figures", ".png"), 0);
  EXPECT_EQ(files_ending(dir / "a/figures", ".tmp"), 0);

  const std::string empty_svg = "case $f in *.svg*) : > \"$f\";; esac";
  what = report_with(truncating_gnuplot(dir.str(), gnuplot, empty_svg), dir / "run", dir / "b");
  EXPECT_NE(what.find("incomplete"), std::string::npos) << what;
  EXPECT_NE(what.find(".svg: incomplete"), std::string::npos) << what;
  EXPECT_EQ(files_ending(dir / "b/figures", ".svg"), 0);
  EXPECT_EQ(files_ending(dir / "b/figures", ".tmp"), 0);

  // The same stand-in leaving the images whole: the report completes.
  EXPECT_EQ(report_with(truncating_gnuplot(dir.str(), gnuplot, "true"), dir / "run", dir / "c"),
            "");
  EXPECT_TRUE(fs::exists(dir / "c/figures/retention_prototype.png"));
}

// The numbers after `prefix` on the first line of `script` that holds it, e.g. "set yrange ["
// → {0.6, 1.15}; stops at the first character that is no part of a number.
std::vector<double> numbers_after(const std::string& script, const std::string& prefix) {
  const auto at = script.find(prefix);
  if (at == std::string::npos) return {};
  std::vector<double> out;
  const std::string line = script.substr(at + prefix.size(), script.find('\n', at) - at);
  const char* p = line.c_str();
  for (;;) {
    while (*p == ' ' || *p == ':' || *p == ',' || *p == '[') ++p;
    if (std::string(p).rfind("screen ", 0) == 0) p += 7;
    char* end = nullptr;
    const double v = std::strtod(p, &end);
    if (end == p) break;
    out.push_back(v);
    p = end;
  }
  return out;
}

// Draws the figures of `rows` (one concept type) and returns the two scripts.
std::pair<std::string, std::string> scripts_of(const std::vector<ReportRow>& rows,
                                               const std::string& dir) {
  ReportResult result;
  result.rows = rows;
  result.correlations = correlate(result.rows);
  detail::draw_figures(result, dir, find_executable("gnuplot"));
  return {core::read_text(dir + "/retention_prototype.gp"),
          core::read_text(dir + "/iis_vs_accuracy_prototype.gp")};
}

ReportRow with_retention(const std::string& name, double acc, std::vector<double> retention) {
  ReportRow r = row(name, "prototype", acc);
  for (size_t k = 0; k < r.ratios.size(); ++k) r.ratios[k].top1 = acc * retention[k];
  return r;
}

// The y-range follows the data: retentions above 1 (1.11 here) and far below stay inside,
// with a margin, and the reference line at 1 is always shown.
TEST(Figures, RetentionRangeFitsTheData) {
  if (find_executable("gnuplot").empty()) GTEST_SKIP() << "gnuplot (gnuplot-nox) not installed";
  test::TempDir dir;
  auto range = numbers_after(scripts_of({with_retention("control", 0.56, {1.11, 1.05, 0.65}),
                                         with_retention("weak", 0.7, {0.3, 0.5, 0.9})},
                                        dir / "a")
                                 .first,
                             "set yrange [");
  ASSERT_EQ(range.size(), 2u);
  EXPECT_LT(range[0], 0.3);
  EXPECT_GT(range[0], 0.3 - 0.15);
  EXPECT_GT(range[1], 1.11);
  EXPECT_LT(range[1], 1.11 + 0.15);

  range =
      numbers_after(scripts_of({with_retention("high", 0.9, {0.97, 0.96, 0.95})}, dir / "b").first,
                    "set yrange [");
  ASSERT_EQ(range.size(), 2u);
  EXPECT_GT(range[1], 1.0);  // the reference line at 1
  EXPECT_LT(range[1], 1.1);
  EXPECT_GT(range[0], 0.8);  // a narrow band is not squashed against a wide range
}

// The legend sits below the plot area, in a band of its own: its top is under the bottom
// margin of the plot, whatever the number of backbones.
TEST(Figures, RetentionLegendIsBelowThePlot) {
  if (find_executable("gnuplot").empty()) GTEST_SKIP() << "gnuplot (gnuplot-nox) not installed";
  test::TempDir dir;
  for (int n : {2, 6, 15}) {
    std::vector<ReportRow> rows;
    for (int i = 0; i < n; ++i)
      rows.push_back(
          with_retention("backbone_number_" + std::to_string(i), 0.5 + 0.02 * i, {1.0, 0.95, 0.7}));
    const std::string script = scripts_of(rows, dir / std::to_string(n)).first;
    const auto bottom = numbers_after(script, "set bmargin at screen");
    const auto key = numbers_after(script, "set key at screen");
    ASSERT_EQ(bottom.size(), 1u) << script;
    ASSERT_EQ(key.size(), 2u) << script;
    EXPECT_LT(key[1], bottom[0] - 0.05) << n << " backbones";  // room for tics and x label
    EXPECT_GT(key[1], 0.0);
  }
}

// Filled markers (IIS) and open ones (chance-corrected IIS) often coincide: the open ring is
// drawn clearly larger, so it shows around the filled marker.
TEST(Figures, OpenMarkersRingTheFilledOnes) {
  if (find_executable("gnuplot").empty()) GTEST_SKIP() << "gnuplot (gnuplot-nox) not installed";
  test::TempDir dir;
  const std::string scatter =
      scripts_of({row("a", "prototype", 0.6), row("b", "prototype", 0.8)}, dir.str()).second;
  const auto filled = numbers_after(scatter, "with yerrorbars pt 5 ps");
  const auto open = numbers_after(scatter, "with points pt 4 ps");
  ASSERT_FALSE(filled.empty()) << scatter;
  ASSERT_FALSE(open.empty()) << scatter;
  EXPECT_GE(open[0], 1.5 * filled[0]);
}

// "Redraw with `gnuplot NAME.gp`": each kept script, run in its own folder (even after the
// folder moved), rewrites its own PNG and SVG, and leaves no temporary file.
TEST(Figures, KeptScriptsRedrawTheirOwnImages) {
  const std::string gnuplot = find_executable("gnuplot");
  if (gnuplot.empty()) GTEST_SKIP() << "gnuplot (gnuplot-nox) not installed";
  test::TempDir dir;
  test_data::fabricate_run(dir / "run");
  {
    test_data::WorkingDir cwd(dir.str());  // relative paths, as a user types them
    ReportOptions options;
    options.run_dir = "run";
    options.out_dir = "report";
    run_report(options);
  }
  fs::copy(dir / "report/figures", dir / "moved");
  for (const std::string folder : {"report/figures", "moved"}) {
    for (const std::string stem : {"retention_cluster", "iis_vs_accuracy_prototype"}) {
      const std::string png = dir / (folder + "/" + stem + ".png");
      const std::string svg = dir / (folder + "/" + stem + ".svg");
      fs::remove(png);
      fs::remove(svg);
      const std::string command =
          "cd '" + (dir / folder) + "' && '" + gnuplot + "' " + stem + ".gp 2>&1";
      EXPECT_EQ(std::system(command.c_str()), 0) << command;
      EXPECT_TRUE(fs::exists(png) && fs::file_size(png) > 10000) << png;
      EXPECT_TRUE(fs::exists(svg) && core::read_text(svg).find("</svg>") != std::string::npos)
          << svg;
    }
    EXPECT_EQ(files_ending(dir / folder, ".tmp"), 0) << folder;
  }
}

}  // namespace
}  // namespace iis::report
