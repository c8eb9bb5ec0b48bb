// `iis explain`: the rows, their explanations, explain.json, concepts.json and index.html with
// every image copied beside the page.
#include "iis/predict/explain.hpp"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/predict/concept_views.hpp"
#include "iis/predict/detail/html.hpp"

namespace iis::predict {

namespace fs = std::filesystem;
using detail::html_escape;
using nlohmann::json;

namespace {

// One explained row.
struct Explained {
  int64_t row = 0;
  std::string path;    // the image file given (images route), else ""
  std::string source;  // where its pixels are (paths.txt), else ""
  int64_t label = -1;  // -1: unknown
  int64_t predicted = 0, standard_predicted = 0;
  double probability = 0, standard_probability = 0;
  ClassExplanation decision;              // the predicted class
  std::optional<ClassExplanation> truth;  // the label's, when known and different
};

// Copies of the images the page shows, made once each, with the warnings of those missing.
struct PageImages {
  fs::path out;
  std::map<std::string, std::string> copied;  // source → href ("" when it could not be made)
  std::vector<std::string> missing;
  detail::SourceImages reader;
  std::string element(const ElementRef& e);
  std::string source(const std::string& source, const std::string& name);
};

std::string PageImages::element(const ElementRef& e) {
  const std::string key = "element:" + e.image;
  if (auto it = copied.find(key); it != copied.end()) return it->second;
  std::string href = "elements/e" + std::to_string(e.element) + ".png";
  if (e.image.empty() || !fs::is_regular_file(e.image)) {
    missing.push_back(e.image.empty() ? "element " + std::to_string(e.element) : e.image);
    href.clear();
  } else {
    core::make_dirs((out / "elements").string());
    fs::copy_file(e.image, out / href, fs::copy_options::overwrite_existing);
  }
  return copied[key] = href;
}

std::string PageImages::source(const std::string& src, const std::string& name) {
  if (auto it = copied.find(src); it != copied.end()) return it->second;
  std::string href = name + ".png";
  if (src.empty() || !reader.write(src, (out / href).string())) {
    if (!src.empty()) missing.push_back(src);
    href.clear();
  }
  return copied[src] = href;
}

json contributions_json(const ClassExplanation& e) {
  json list = json::array();
  for (const auto& c : e.contributions)
    list.push_back({{"concept", c.concept_index}, {"contribution", c.value}});
  return list;
}

json item_json(const Explained& x) {
  json j;
  if (x.path.empty())
    j["index"] = x.row;
  else
    j["path"] = x.path;
  j["predicted"] = x.predicted;
  j["standard_predicted"] = x.standard_predicted;
  if (x.label >= 0) j["label"] = x.label;
  j["logit"] = x.decision.logit;
  j["bias"] = x.decision.bias;
  j["contributions"] = contributions_json(x.decision);
  if (x.truth) {
    j["label_logit"] = x.truth->logit;
    j["label_bias"] = x.truth->bias;
    j["label_contributions"] = contributions_json(*x.truth);
  }
  return j;
}

json concepts_json(const std::vector<ConceptView>& views) {
  json list = json::array();
  for (const auto& v : views) {
    json c{{"concept", v.concept_index}};
    if (!v.phrase.empty()) c["phrase"] = v.phrase;
    json elements = json::array();
    for (const auto& e : v.elements)
      elements.push_back({{"element", e.element},
                          {"image", e.image},
                          {"source", e.source},
                          {"class_name", e.class_name},
                          {"bbox", e.bbox}});
    if (!v.phrase.empty() || !elements.empty()) c["elements"] = elements;
    list.push_back(c);
  }
  return list;
}

// Staged copies of the image files as a one-class ImageFolder, named so its order is theirs.
std::string stage_images(const std::vector<std::string>& images, const fs::path& out) {
  const fs::path folder = out / "inputs" / "images";
  core::remove_tree((out / "inputs").string());
  core::make_dirs(folder.string());
  for (size_t i = 0; i < images.size(); ++i) {
    IIS_CHECK_HINT(fs::is_regular_file(images[i]), "image " << images[i] << " does not exist",
                   "give image files that exist");
    char prefix[16];
    std::snprintf(prefix, sizeof(prefix), "%05zu_", i);
    fs::copy_file(images[i], folder / (prefix + fs::path(images[i]).filename().string()));
  }
  return (out / "inputs").string();
}

}  // namespace

ClassExplanation explain_class(const FitHeads& h, const HeadOutputs& o, int64_t row, int64_t cls) {
  ClassExplanation e;
  e.class_index = cls;
  e.logit = o.logits[row][cls].item<double>();
  e.bias = h.bias[cls].item<double>();
  const auto w = h.weight[cls].to(torch::kFloat64), y = o.activations[row].to(torch::kFloat64);
  const auto kept = o.mask[row].nonzero().flatten();
  for (int64_t i = 0; i < kept.size(0); ++i) {
    const int64_t k = kept[i].item<int64_t>();
    e.contributions.push_back({k, w[k].item<double>() * y[k].item<double>()});
  }
  std::stable_sort(e.contributions.begin(), e.contributions.end(),
                   [](const Contribution& a, const Contribution& b) { return a.value > b.value; });
  return e;
}

namespace {

// What the page needs besides the rows.
struct PageContext {
  const FitHeads& heads;
  const std::vector<ConceptView>& views;
  std::vector<std::string> classes;
  int64_t shown = 8;
  PageImages images;
};

std::string number(double v, const char* format = "%.4f") {
  char buf[32];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// A concept as the page draws it: its phrase, or its elements (a prototype with its source).
std::string concept_cell(PageContext& p, int64_t k) {
  const ConceptView& v = p.views[static_cast<size_t>(k)];
  if (!v.phrase.empty()) return "<b>" + html_escape(v.phrase) + "</b>";
  std::string h = "<div class=\"elements\">";
  for (const auto& e : v.elements) {
    const std::string caption =
        e.class_name.empty() ? "element " + std::to_string(e.element) : e.class_name;
    h += detail::figure(p.images.element(e), caption, "image missing");
    if (p.heads.concept_type == "prototype" && !e.source.empty())
      h += detail::figure(p.images.source(e.source, "sources/e" + std::to_string(e.element)),
                          "its source", "source missing");
  }
  return h + "</div>";
}

std::string contribution_row(PageContext& p, const Contribution& c, double scale, bool draw) {
  const double width = scale > 0 ? 80.0 * std::abs(c.value) / scale : 0;
  std::ostringstream h;
  h << "<tr><td class=\"num\">#" << c.concept_index << "</td><td class=\"num\">" << number(c.value)
    << "<br><span class=\"bar" << (c.value < 0 ? " neg" : "")
    << "\" style=\"width:" << number(width, "%.1f") << "px\"></span></td><td class=\"name\">"
    << (draw ? concept_cell(p, c.concept_index) : "") << "</td></tr>\n";
  return h.str();
}

std::string class_section(PageContext& p, const ClassExplanation& e, const std::string& what) {
  double scale = 0;
  for (const auto& c : e.contributions) scale = std::max(scale, std::abs(c.value));
  std::ostringstream h;
  h << "<p>" << what << " <b>" << html_escape(detail::class_label(p.classes, e.class_index))
    << "</b>: logit <span class=\"num\">" << number(e.logit)
    << "</span> = bias <span class=\"num\">" << number(e.bias) << "</span> + the "
    << e.contributions.size()
    << " kept concepts below, largest first.</p>\n<div class=\"scroll\"><table><tr>"
       "<th>concept</th><th>W&middot;&ycirc;</th><th class=\"name\">made of</th></tr>\n";
  const size_t drawn = std::min<size_t>(static_cast<size_t>(p.shown), e.contributions.size());
  for (size_t i = 0; i < drawn; ++i) h << contribution_row(p, e.contributions[i], scale, true);
  h << "</table></div>\n";
  if (drawn == e.contributions.size()) return h.str();
  h << "<details><summary>the other " << e.contributions.size() - drawn
    << " contributions</summary><div class=\"scroll\"><table>\n";
  for (size_t i = drawn; i < e.contributions.size(); ++i)
    h << contribution_row(p, e.contributions[i], scale, false);
  return h.str() + "</table></div></details>\n";
}

std::string item_html(PageContext& p, const Explained& x) {
  const std::string name = x.path.empty() ? "row " + std::to_string(x.row) : x.path;
  std::ostringstream h;
  h << "<div class=\"item\"><h2>" << html_escape(name) << "</h2><div class=\"row\">"
    << detail::figure(p.images.source(x.path.empty() ? x.source : x.path,
                                      "images/row" + std::to_string(x.row)),
                      name, "image missing")
    << "<p>Interpretable head: <b>" << html_escape(detail::class_label(p.classes, x.predicted))
    << "</b> (p = " << number(x.probability, "%.3f") << ")<br>Standard head: <b>"
    << html_escape(detail::class_label(p.classes, x.standard_predicted))
    << "</b> (p = " << number(x.standard_probability, "%.3f") << ")";
  if (x.label >= 0)
    h << "<br>Label: <b>" << html_escape(detail::class_label(p.classes, x.label)) << "</b>";
  h << "</p></div>\n" << class_section(p, x.decision, "Why");
  if (x.truth) h << class_section(p, *x.truth, "Against the label");
  return h.str() + "</div>\n";
}

std::string page_html(PageContext& p, const std::vector<Explained>& items, const std::string& title,
                      std::vector<std::string> warnings) {
  std::string body;
  for (const auto& x : items) body += item_html(p, x);  // first: it finds the missing images
  if (!p.images.missing.empty())
    warnings.push_back(std::to_string(p.images.missing.size()) +
                       " image(s) could not be found and are shown as placeholders, e.g. " +
                       p.images.missing.front());
  const auto& h = p.heads;
  std::ostringstream head;
  head << detail::page_start("iis explain: " + title) << "<h1>" << detail::keep_names(title)
       << "</h1>\n<p>Interpretable head of <code>" << html_escape(h.fit_dir) << "</code> ("
       << html_escape(h.concept_type) << " concepts, seed " << h.seed << ", "
       << html_escape(h.ratio_reason) << "). Each logit is the bias plus W[class, k]&middot;"
       << "&ycirc;<sub>k</sub> over the concepts the head kept for the image. Data: "
       << "<a href=\"explain.json\">explain.json</a>, <a href=\"concepts.json\">concepts.json</a>."
       << "</p>\n"
       << detail::warnings_box(warnings);
  return head.str() + body + "</body></html>\n";
}

std::vector<Explained> explain_rows(const FitHeads& h, const HeadOutputs& o,
                                    const LoadedFeatures& in, const std::vector<int64_t>& rows,
                                    const std::vector<std::string>& images) {
  std::vector<Explained> items;
  for (size_t j = 0; j < rows.size(); ++j) {
    const auto i = static_cast<int64_t>(j);
    Explained x;
    x.row = rows[j];
    if (!images.empty()) x.path = images[j];
    if (static_cast<size_t>(x.row) < in.sources.size()) x.source = in.sources[x.row];
    if (in.labels.defined()) x.label = in.labels[x.row].item<int64_t>();
    x.predicted = o.predicted[i].item<int64_t>();
    x.standard_predicted = o.standard_predicted[i].item<int64_t>();
    x.probability = o.probability[i].item<double>();
    x.standard_probability = o.standard_probability[i].item<double>();
    x.decision = explain_class(h, o, i, x.predicted);
    if (x.label >= 0 && x.label != x.predicted) x.truth = explain_class(h, o, i, x.label);
    items.push_back(std::move(x));
  }
  return items;
}

}  // namespace

void ExplainOptions::validate() const {
  IIS_CHECK_HINT(!fit.empty(), "--fit is required", "give the --out folder of `iis fit`");
  IIS_CHECK_HINT(!out.empty(), "--out is required", "e.g. --out explain/");
  IIS_CHECK_HINT(indices.empty() != images.empty(), "give either --indices or image files",
                 "--indices 0,5,9 picks rows of --features or --data; image files need --backbone");
  IIS_CHECK_HINT(images.empty() || (!source.backbone.empty() && source.features.empty()),
                 "image files need --backbone (and no --features)",
                 "e.g. iis explain --fit FIT --backbone native:mlp@ckpt.pt --out DIR a.png b.png");
  IIS_CHECK_HINT(shown >= 0, "--shown must be ≥ 0, got " << shown, "e.g. --shown 8");
  for (int64_t i : indices)
    IIS_CHECK_HINT(i >= 0, "--indices: " << i << " is negative", "rows count from 0");
  if (images.empty()) source.validate();
}

ExplainResult run_explain(const ExplainOptions& o) {
  o.validate();
  const FitHeads h = load_fit_heads(o.fit, o.choice);
  const fs::path out(o.out);
  core::make_dirs(o.out);
  FeatureSource src = o.source;
  std::vector<int64_t> rows = o.indices;
  if (!o.images.empty()) {
    src.data = stage_images(o.images, out);
    src.labels.clear();
    for (size_t i = 0; i < o.images.size(); ++i) rows.push_back(static_cast<int64_t>(i));
  } else if (!src.backbone.empty()) {
    src.limit = *std::max_element(rows.begin(), rows.end()) + 1;
  }
  LoadedFeatures in = load_features(src, (out / "features.csv").string());
  if (!o.images.empty()) in.labels = torch::Tensor();  // the staging folder's class is no label
  ExplainResult r;
  r.warnings = check_same_representation(h, in.path, src.skip_fingerprint_check);
  for (int64_t i : rows)
    IIS_CHECK_HINT(i < in.features.size(0),
                   "--indices: row " << i << " is past the " << in.features.size(0) << " rows",
                   "rows count from 0");
  const auto o_rows = torch::tensor(rows, torch::kInt64);
  const HeadOutputs outputs = apply_heads(h, in.features.index_select(0, o_rows));
  const auto items = explain_rows(h, outputs, in, rows, o.images);
  const auto views = concept_views(h);
  PageContext page{h, views, detail::class_names(h), o.shown, {}};
  page.images.out = out;
  json list = json::array();
  for (const auto& x : items) list.push_back(item_json(x));
  r.json = (out / "explain.json").string();
  r.html = (out / "index.html").string();
  core::write_text_atomic(r.json, list.dump(1) + "\n");
  core::write_text_atomic((out / "concepts.json").string(), concepts_json(views).dump(1) + "\n");
  const std::string html = page_html(page, items, o.title.empty() ? o.fit : o.title, r.warnings);
  core::write_text_atomic(r.html, html);
  if (!page.images.missing.empty())
    r.warnings.push_back(std::to_string(page.images.missing.size()) +
                         " image(s) are missing and shown as placeholders, e.g. " +
                         page.images.missing.front());
  r.explained = static_cast<int64_t>(items.size());
  r.ratio_reason = h.ratio_reason;
  return r;
}

}  // namespace iis::predict
