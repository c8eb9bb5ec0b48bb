// The pages in a real browser: a demo-sized report (six backbones, three concept types, three
// seeds), a concept atlas and explanations, rendered by headless Chromium at a desktop and a
// phone width. Every image must load and nothing may be wider than the window. Screenshots and
// the rendered run stay in BUILD/test-artifacts/pages/ for a person to look at.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <tuple>

#include "../predict/run_fixture.hpp"
#include "iis/predict/explain.hpp"
#include "iis/report/report.hpp"

namespace iis::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kArtifacts = fs::path(IIS_ARTIFACT_DIR) / "pages";

// The demo's backbone names (hyphens and underscores), from weak to strong.
const std::vector<std::pair<std::string, double>> kBackbones = {
    {"untrained_resnet8-w16", 3.0}, {"resnet8-w8_n3000_e1", 1.6},
    {"mlp_n2000_e1", 1.2},          {"mlp_e1", 0.9},
    {"resnet8-w16_e1", 0.7},        {"resnet8-w16_e3", 0.5}};

std::string chromium() {
  for (const char* name : {"chromium", "chromium-browser"})
    if (auto path = find_executable(name); !path.empty()) return path;
  return "";
}

std::string run_chromium(const std::string& flags, const std::string& url) {
  return test::run_command("timeout 120 '" + chromium() +
                           "' --headless --no-sandbox --disable-gpu --hide-scrollbars " + flags +
                           " '" + url + "' 2>/dev/null")
      .output;
}

// Reports, from inside the page once everything has loaded, its images that failed and how wide
// it is; posted to the wrapper that holds it in a frame of the tested width.
const char* kChecker = R"(<script>
window.addEventListener('load', () => {
  const images = [...document.images];
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
  const width = document.documentElement.clientWidth;
  const wide = [...document.body.querySelectorAll('*')]
      .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > width + 1)
      .slice(0, 5).map(e => e.tagName + ' ' + e.className + ' ' + (e.textContent || '').slice(0, 40));
  // A table cell of text (no image) laid out on more than one line: "0.829 ± 0.079" or a
  // backbone name broken at its hyphens.
  const lines = c => {
    const range = document.createRange();
    range.selectNodeContents(c);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  };
  const wrapped = [...document.querySelectorAll('td')]
      .filter(c => !c.querySelector('img, .missing, .bar') && c.textContent.trim() && lines(c) > 1)
      .slice(0, 5).map(c => c.textContent.slice(0, 60));
  parent.postMessage(JSON.stringify({images: images.length, broken, width, wrapped,
                                     scroll_width: document.documentElement.scrollWidth, wide}), '*');
});
</script></body>)";

// A frame of `width` CSS pixels around `page`, which writes the checker's report into its DOM.
std::string wrapper(const std::string& page, int width, int height) {
  return "<!DOCTYPE html><html><body style=\"margin:0\"><iframe src=\"file://" + page +
         "\" style=\"width:" + std::to_string(width) + "px;height:" + std::to_string(height) +
         "px;border:0\"></iframe><script>window.addEventListener('message', e => {"
         "const p = document.createElement('pre'); p.id = 'iis-check'; p.textContent = e.data;"
         "document.body.appendChild(p); });</script></body></html>";
}

struct PageCheck {
  int64_t images = 0, width = 0, scroll_width = 0;
  std::vector<std::string> broken, wide, wrapped;
};

// Renders `page` at `width`: the checker's report, and a screenshot named `shot`.
PageCheck render(const fs::path& page, int width, int height, const std::string& shot) {
  std::string html = core::read_text(page.string());
  html.replace(html.rfind("</body>"), 7, kChecker);
  const fs::path checked = fs::path(page).replace_extension(".check.html");
  core::write_text_atomic(checked.string(), html);
  const fs::path frame = kArtifacts / ("frame_" + shot + ".html");
  core::write_text_atomic(frame.string(), wrapper(checked.string(), width, height));
  const std::string dom = run_chromium(
      "--window-size=1400,900 --virtual-time-budget=20000 "
      "--dump-dom",
      "file://" + frame.string());
  std::smatch m;
  const std::regex re("<pre id=\"iis-check\">(.*)</pre>");
  PageCheck c;
  if (!std::regex_search(dom, m, re)) {
    ADD_FAILURE() << "no report from the page checker for " << page << ":\n" << dom.substr(0, 500);
    return c;
  }
  const json j = json::parse(std::regex_replace(m[1].str(), std::regex("&amp;"), "&"));
  c.images = j["images"].get<int64_t>();
  c.width = j["width"].get<int64_t>();
  c.scroll_width = j["scroll_width"].get<int64_t>();
  c.broken = j["broken"].get<std::vector<std::string>>();
  c.wide = j["wide"].get<std::vector<std::string>>();
  c.wrapped = j["wrapped"].get<std::vector<std::string>>();
  core::write_text_atomic(frame.string(), wrapper(page.string(), width, height));
  run_chromium("--window-size=" + std::to_string(width) + "," + std::to_string(height) +
                   " --screenshot=" + (kArtifacts / (shot + ".png")).string(),
               "file://" + frame.string());
  return c;
}

void expect_renders(const fs::path& page, const std::string& name, int64_t min_images) {
  const std::vector<std::tuple<int, int, std::string>> windows = {{1280, 2400, "desktop"},
                                                                  {390, 3200, "phone"}};
  for (const auto& [width, height, label] : windows) {
    SCOPED_TRACE(name + " at " + label);
    const PageCheck c = render(page, width, height, name + "_" + label);
    EXPECT_GE(c.images, min_images);
    EXPECT_TRUE(c.broken.empty()) << c.broken.size() << " broken, e.g. " << c.broken.front();
    EXPECT_EQ(c.width, width);
    EXPECT_LE(c.scroll_width, width) << "the page is wider than the window";
    for (const auto& w : c.wide) ADD_FAILURE() << "wider than the window: " << w;
    for (const auto& w : c.wrapped) ADD_FAILURE() << "a table cell wraps: " << w;
    EXPECT_TRUE(fs::is_regular_file(kArtifacts / (name + "_" + label + ".png")));
  }
}

// The report and the pages it links, made once for the suite.
class PagesInBrowser : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (chromium().empty()) return;
    // Each case's process makes the pages afresh (ctest runs cases as processes); the
    // screenshots of the other cases stay.
    core::remove_tree((kArtifacts / "run").string());
    core::remove_tree((kArtifacts / "missing_elements").string());
    core::make_dirs((kArtifacts / "run").string());
    test::RunFolder run((kArtifacts / "run").string());
    for (const auto& [name, noise] : kBackbones) {
      run.embed_backbone(name, noise);
      for (const char* type : {"prototype", "cluster", "end2end"}) run.fit(name, type, {0, 1, 2});
    }
    predict::ExplainOptions o;
    o.fit = run.path("fit/resnet8-w16_e3/prototype");
    o.source.features = run.path("embed/resnet8-w16_e3/val/data.features.npy");
    o.source.labels = run.path("embed/resnet8-w16_e3/val/data.labels.npy");
    o.indices = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    o.out = run.path("explanations/resnet8-w16_e3_prototype");
    predict::run_explain(o);
    ReportOptions r;
    r.run_dir = run.dir();
    r.figures = !find_executable("gnuplot").empty();
    run_report(r);
    // An explanation whose element images are gone (outside the run: the report does not link it).
    fs::rename(run.path("elements"), run.path("elements.hidden"));
    o.out = (kArtifacts / "missing_elements").string();
    predict::run_explain(o);
    fs::rename(run.path("elements.hidden"), run.path("elements"));
  }

  void SetUp() override {
    if (!chromium().empty()) return;
    if (test::data_required()) FAIL() << "chromium is missing: install the Debian package chromium";
    GTEST_SKIP() << "chromium is missing: install the Debian package chromium";
  }
};

TEST_F(PagesInBrowser, Report) {
  const fs::path page = kArtifacts / "run/index.html";
  const std::string html = core::read_text(page.string());
  EXPECT_NE(html.find("href=\"explanations/resnet8-w16_e3_prototype/index.html\""),
            std::string::npos);
  EXPECT_NE(html.find("href=\"atlas/untrained_resnet8-w16/end2end/index.html\""),
            std::string::npos);
  expect_renders(page, "report", find_executable("gnuplot").empty() ? 0 : 6);
}

TEST_F(PagesInBrowser, Atlas) {
  expect_renders(kArtifacts / "run/atlas/resnet8-w16_e3/cluster/index.html", "atlas_cluster", 60);
  expect_renders(kArtifacts / "run/atlas/mlp_e1/prototype/index.html", "atlas_prototype", 12);
}

TEST_F(PagesInBrowser, Explanation) {
  expect_renders(kArtifacts / "run/explanations/resnet8-w16_e3_prototype/index.html", "explanation",
                 10 + 8);
}

TEST_F(PagesInBrowser, ExplanationWithoutElementImages) {
  const fs::path page = kArtifacts / "missing_elements/index.html";
  const std::string html = core::read_text(page.string());
  EXPECT_NE(html.find("class=\"warnings\""), std::string::npos);
  EXPECT_NE(html.find("class=\"missing\""), std::string::npos);
  expect_renders(page, "explanation_missing_elements", 10);
}

}  // namespace
}  // namespace iis::report
