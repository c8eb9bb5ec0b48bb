// The pages index.html links beside its own: a concept atlas per backbone and concept type
// (written here) and the explanations a run made (RUN_DIR/explanations/*/index.html).
#include <cctype>
#include <filesystem>
#include <set>

#include "iis/core/error.hpp"
#include "iis/predict/atlas.hpp"
#include "iis/report/detail/outputs.hpp"

namespace fs = std::filesystem;

namespace iis::report::detail {

namespace {

// A name as one path component: letters, digits, '.', '-', '_' kept, the rest '_'.
std::string folder_name(const std::string& name) {
  std::string out;
  for (char c : name)
    out +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
  return out.empty() || out == "." || out == ".." ? "_" : out;
}

// The atlas of one row, or a warning when its fit folder cannot make one.
void row_atlas(const ReportRow& row, const std::string& run_dir, const std::string& out_dir,
               LinkedPages& pages) {
  const fs::path fit = (fs::path(run_dir) / row.source).parent_path();
  if (!fs::is_directory(fit / "seeds")) return;  // results.json alone: nothing to draw
  const fs::path page =
      fs::path("atlas") / folder_name(row.backbone) / folder_name(row.concept_type);
  predict::AtlasOptions o;
  o.fit = fit.string();
  o.out_dir = (fs::path(out_dir) / page).string();
  o.title = row.backbone + " — " + row.concept_type;
  o.back_link = "../../../index.html";
  try {
    const auto r = predict::write_atlas(o);
    pages.atlases.push_back(
        {row.backbone, row.concept_type, (page / "index.html").generic_string(), r.ratio_reason});
    pages.files.push_back(r.html);
    for (const auto& w : r.warnings)
      pages.warnings.push_back(row.backbone + " (" + row.concept_type + "): " + w);
  } catch (const Error& e) {
    // One fit folder that cannot be read must not cost the run its report: say so on the page.
    pages.warnings.push_back("no concept atlas for " + row.backbone + " (" + row.concept_type +
                             "): " + e.what());
  }
}

}  // namespace

LinkedPages linked_pages(const ReportResult& result, const std::string& run_dir,
                         const std::string& out_dir, bool atlas) {
  LinkedPages pages;
  std::set<std::string> done;  // one atlas per backbone and concept type
  for (const auto& row : result.rows)
    if (atlas && done.insert(row.backbone + "\n" + row.concept_type).second)
      row_atlas(row, run_dir, out_dir, pages);
  const fs::path explanations = fs::path(run_dir) / "explanations";
  std::error_code ec;
  if (!fs::is_directory(explanations, ec)) return pages;
  std::set<fs::path> found;
  for (const auto& entry : fs::directory_iterator(explanations, ec))
    if (fs::is_regular_file(entry.path() / "index.html")) found.insert(entry.path());
  for (const auto& dir : found)
    pages.explanations.push_back(
        {dir.filename().string(), fs::relative(dir / "index.html", out_dir).generic_string()});
  return pages;
}

std::string linked_pages_html(const LinkedPages& pages) {
  if (pages.atlases.empty() && pages.explanations.empty() && pages.warnings.empty()) return "";
  std::string h = "<h2>Concepts and explanations</h2>\n";
  if (!pages.explanations.empty()) {
    h += "<p>Explanations of test images (which concepts the interpretable head used, and how "
         "much each counted):</p>\n<ul>\n";
    for (const auto& [name, href] : pages.explanations)
      h += "<li><a href=\"" + html_escape(href) + "\">" + html_escape(name) + "</a></li>\n";
    h += "</ul>\n";
  }
  if (!pages.atlases.empty()) {
    h += "<p>Concept atlas: each concept type's concepts drawn by their elements, and per class "
         "the concepts of the largest weights.</p>\n<ul>\n";
    for (const auto& a : pages.atlases)
      h += "<li><a href=\"" + html_escape(a.href) + "\"><span class=\"nb\">" +
           html_escape(a.backbone) + "</span> &mdash; " + html_escape(a.concept_type) + "</a> (" +
           html_escape(a.ratio_reason) + ")</li>\n";
    h += "</ul>\n";
  }
  if (!pages.warnings.empty()) {
    h += "<ul>\n";
    for (const auto& w : pages.warnings) h += "<li>" + html_escape(w) + "</li>\n";
    h += "</ul>\n";
  }
  return h;
}

}  // namespace iis::report::detail
