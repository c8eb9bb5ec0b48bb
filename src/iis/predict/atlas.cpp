// The concept atlas page: concepts by class weight, then every concept with its elements.
#include "iis/predict/atlas.hpp"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "iis/core/files.hpp"
#include "iis/predict/concept_views.hpp"
#include "iis/predict/detail/html.hpp"

namespace iis::predict {

namespace fs = std::filesystem;
using detail::html_escape;

namespace {

struct AtlasPage {
  const FitHeads& heads;
  std::vector<ConceptView> views;
  std::vector<std::string> classes;
  fs::path out_dir;
  int64_t missing = 0;
  std::string first_missing;
};

std::string elements_html(AtlasPage& p, const ConceptView& v) {
  if (!v.phrase.empty()) return "<b>" + html_escape(v.phrase) + "</b>";
  std::string h = "<div class=\"elements\">";
  for (const auto& e : v.elements) {
    std::string href;
    if (!e.image.empty() && fs::is_regular_file(e.image)) {
      href = fs::relative(e.image, p.out_dir).generic_string();
    } else if (p.missing++ == 0) {
      p.first_missing = e.image.empty() ? "element " + std::to_string(e.element) : e.image;
    }
    std::string caption =
        e.class_name.empty() ? "element " + std::to_string(e.element) : e.class_name;
    h += detail::figure(href, caption, "image missing");
  }
  return h + "</div>";
}

std::string per_class_html(AtlasPage& p, int64_t top) {
  const auto& w = p.heads.weight;  // C×K
  const int64_t k = std::min<int64_t>(top, w.size(1));
  const auto [values, index] = w.topk(k, 1);
  std::ostringstream h;
  h << "<h2>Per class: the concepts of the largest weights</h2>\n<div class=\"scroll\"><table>"
       "<tr><th class=\"name\">class</th><th>concept</th><th>weight</th>"
       "<th class=\"name\">made of</th></tr>\n";
  char buf[32];
  for (int64_t c = 0; c < w.size(0); ++c) {
    for (int64_t j = 0; j < k; ++j) {
      const int64_t concept = index[c][j].item<int64_t>();
      std::snprintf(buf, sizeof(buf), "%+.3f", values[c][j].item<double>());
      h << "<tr><td class=\"name\">"
        << (j == 0 ? "<b>" + html_escape(detail::class_label(p.classes, c)) + "</b>" : "")
        << "</td><td class=\"num\"><a href=\"#c" << concept << "\">#" << concept
        << "</a></td><td class=\"num\">" << buf << "</td><td class=\"name\">"
        << elements_html(p, p.views[static_cast<size_t>(concept)]) << "</td></tr>\n";
    }
  }
  return h.str() + "</table></div>\n";
}

std::string concepts_html(AtlasPage& p) {
  std::ostringstream h;
  h << "<h2>All " << p.views.size() << " concepts</h2>\n<div class=\"scroll\"><table>\n";
  for (const auto& v : p.views)
    h << "<tr id=\"c" << v.concept_index << "\"><td class=\"num\">#" << v.concept_index
      << "</td><td class=\"name\">" << elements_html(p, v) << "</td></tr>\n";
  return h.str() + "</table></div>\n";
}

}  // namespace

AtlasResult write_atlas(const AtlasOptions& o) {
  const FitHeads h = load_fit_heads(o.fit, o.choice);
  AtlasPage p{h, concept_views(h, h.concept_type == "prototype" ? 1 : o.per_concept),
              detail::class_names(h), fs::absolute(o.out_dir)};
  const std::string body = per_class_html(p, o.top_per_class) + concepts_html(p);
  AtlasResult r;
  r.ratio_reason = h.ratio_reason;
  if (p.missing > 0)
    r.warnings.push_back(std::to_string(p.missing) +
                         " element image(s) could not be found and are shown as placeholders, "
                         "e.g. " +
                         p.first_missing);
  std::ostringstream page;
  page << detail::page_start("iis concept atlas: " + o.title)
       << "<h1>Concept atlas: " << detail::keep_names(o.title) << "</h1>\n<p>"
       << (o.back_link.empty() ? "" : "<a href=\"" + html_escape(o.back_link) + "\">Report</a>. ")
       << html_escape(h.concept_type) << " concepts of the interpretable head, seed " << h.seed
       << ", " << html_escape(h.ratio_reason) << ".</p>\n"
       << detail::warnings_box(r.warnings) << body << "</body></html>\n";
  core::make_dirs(o.out_dir);
  r.html = (fs::path(o.out_dir) / "index.html").string();
  core::write_text_atomic(r.html, page.str());
  return r;
}

}  // namespace iis::predict
