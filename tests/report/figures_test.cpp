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

}  // namespace
}  // namespace iis::report
