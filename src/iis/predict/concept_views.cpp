// The elements behind each concept, found through the fit's --concepts file and the elements
// manifest.
#include "iis/predict/concept_views.hpp"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <sstream>

#include "iis/core/files.hpp"
#include "iis/io/npy.hpp"
#include "iis/text/lines.hpp"

namespace iis::predict {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Where the fit's elements came from: their PNGs, their manifest entries and their vectors.
struct ElementFiles {
  std::vector<std::string> images;       // per element row; empty when unknown
  std::map<std::string, json> manifest;  // by the element PNG's absolute path
  torch::Tensor vectors;                 // M×D, rows of unit length; undefined when unreadable
};

std::string prefix_of(const std::string& features) {
  const std::string suffix = ".features.npy";
  if (features.size() <= suffix.size() ||
      features.compare(features.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  return features.substr(0, features.size() - suffix.size());
}

void read_manifest(const std::string& embed_json, ElementFiles& e) {
  if (!fs::is_regular_file(embed_json)) return;
  const fs::path data = json::parse(core::read_text(embed_json)).value("data", std::string());
  const fs::path manifest = data / "manifest.jsonl";
  if (data.empty() || !fs::is_regular_file(manifest)) return;
  for (const auto& line : text::read_lines(manifest.string())) {
    const json entry = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (entry.is_object() && entry.contains("path"))
      e.manifest[(data / entry["path"].get<std::string>()).lexically_normal().string()] = entry;
  }
}

ElementFiles element_files(const FitHeads& h) {
  ElementFiles e;
  const auto it = h.results.inputs.find("concepts");
  if (it == h.results.inputs.end()) return e;
  const std::string prefix = prefix_of(it->second.path);
  if (!prefix.empty() && fs::is_regular_file(prefix + ".paths.txt")) {
    e.images = text::read_lines(prefix + ".paths.txt");
    read_manifest(prefix + ".embed.json", e);
  }
  if (fs::is_regular_file(it->second.path)) {
    auto v = io::load_npy(it->second.path).to(torch::kFloat32);
    e.vectors = v / v.norm(2, 1, true).clamp_min(1e-12);
  }
  return e;
}

ElementRef element_ref(const ElementFiles& e, int64_t m) {
  ElementRef r;
  r.element = m;
  if (m < 0 || m >= static_cast<int64_t>(e.images.size())) return r;
  r.image = fs::path(e.images[static_cast<size_t>(m)]).lexically_normal().string();
  const auto entry = e.manifest.find(r.image);
  if (entry == e.manifest.end()) return r;
  r.source = entry->second.value("source", std::string());
  r.class_name = entry->second.value("class_name", std::string());
  if (entry->second.contains("bbox")) r.bbox = entry->second["bbox"].get<std::vector<int64_t>>();
  return r;
}

// Of the elements `members` (all when undefined), the `n` nearest to `vector` by cosine; the
// first `n` members when the element vectors cannot be read.
std::vector<int64_t> nearest(const ElementFiles& e, const torch::Tensor& members,
                             const torch::Tensor& vector, int64_t n) {
  torch::Tensor rows = members;
  if (!e.vectors.defined()) {
    if (!rows.defined()) return {};
    rows = rows.narrow(0, 0, std::min<int64_t>(n, rows.size(0)));
    return std::vector<int64_t>(rows.data_ptr<int64_t>(), rows.data_ptr<int64_t>() + rows.size(0));
  }
  if (!rows.defined()) rows = torch::arange(e.vectors.size(0), torch::kInt64);
  if (rows.size(0) == 0) return {};
  const auto sim = e.vectors.index_select(0, rows).matmul(vector.to(torch::kFloat32));
  const auto top = std::get<1>(sim.topk(std::min<int64_t>(n, rows.size(0))));
  const auto picked = rows.index_select(0, top).contiguous();
  return std::vector<int64_t>(picked.data_ptr<int64_t>(),
                              picked.data_ptr<int64_t>() + picked.size(0));
}

fs::path seed_dir(const FitHeads& h) {
  return fs::path(h.fit_dir) / "seeds" / std::to_string(h.seed);
}

// Per concept, the rows of the elements behind it.
std::vector<std::vector<int64_t>> concept_elements(const FitHeads& h, const ElementFiles& e,
                                                   int64_t n) {
  const int64_t k = h.num_concepts();
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(k));
  if (h.concept_type == "prototype") {
    const auto index = io::load_npy((seed_dir(h) / "concept_index.npy").string()).to(torch::kInt64);
    for (int64_t c = 0; c < k; ++c) out[static_cast<size_t>(c)] = {index[c].item<int64_t>()};
    return out;
  }
  torch::Tensor assignment;  // each element's concept (end2end: at the head's ratio)
  const auto file = seed_dir(h) / "element_concept.npy";
  if (fs::is_regular_file(file)) {
    assignment = io::load_npy(file.string()).to(torch::kInt64);
    if (assignment.dim() == 2) assignment = assignment[static_cast<int64_t>(h.ratio_index)];
  }
  for (int64_t c = 0; c < k; ++c) {
    torch::Tensor members;  // cluster: every element competes for nearest to the centre
    if (h.concept_type == "end2end" && assignment.defined())
      members = assignment.eq(c).nonzero().flatten().contiguous();
    else if (!e.vectors.defined() && assignment.defined())
      members = assignment.eq(c).nonzero().flatten().contiguous();
    out[static_cast<size_t>(c)] = nearest(e, members, h.concepts[c], n);
  }
  return out;
}

}  // namespace

std::vector<ConceptView> concept_views(const FitHeads& h, int64_t per_concept) {
  std::vector<ConceptView> views(static_cast<size_t>(h.num_concepts()));
  for (int64_t c = 0; c < h.num_concepts(); ++c) views[static_cast<size_t>(c)].concept_index = c;
  if (h.concept_type == "text") {
    const auto names = text::read_lines((seed_dir(h) / "concept_names.txt").string());
    for (size_t c = 0; c < views.size() && c < names.size(); ++c) views[c].phrase = names[c];
    return views;
  }
  const ElementFiles e = element_files(h);
  const auto rows = concept_elements(h, e, per_concept);
  for (size_t c = 0; c < views.size(); ++c)
    for (int64_t m : rows[c]) views[c].elements.push_back(element_ref(e, m));
  return views;
}

}  // namespace iis::predict
