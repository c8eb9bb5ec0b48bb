// Tests the figures of `iis report`: hostile names, incomplete images, standalone scripts.
#include "iis/report/detail/figures.hpp"

#include <filesystem>
#include <fstream>
#include <string>

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

}  // namespace
}  // namespace iis::report
