// The one list of concept types (a new type is a file in types/ and a line here), and the
// checks and helpers they share.
#include "iis/concepts/registry.hpp"

#include <algorithm>
#include <filesystem>

#include "iis/concepts/concept_type.hpp"
#include "iis/concepts/select.hpp"
#include "iis/core/error.hpp"
#include "iis/io/npy.hpp"

namespace iis::concepts {

// Defined in types/<name>.cpp.
const ConceptType& prototype_type();
const ConceptType& cluster_type();
const ConceptType& end2end_type();
const ConceptType& text_type();

const std::vector<const ConceptType*>& concept_types() {
  static const std::vector<const ConceptType*> all{&prototype_type(), &cluster_type(),
                                                   &end2end_type(), &text_type()};
  return all;
}

std::vector<std::string> concept_type_names() {
  std::vector<std::string> names;
  for (const auto* t : concept_types()) names.push_back(t->name());
  return names;
}

size_t concept_type_order(const std::string& name) {
  const auto names = concept_type_names();
  return std::find(names.begin(), names.end(), name) - names.begin();
}

const ConceptType& find_concept_type(const std::string& name) {
  for (const auto* t : concept_types())
    if (t->name() == name) return *t;
  std::string valid;
  for (const auto& n : concept_type_names()) valid += (valid.empty() ? "" : ", ") + n;
  IIS_FAIL("--concept-type: unknown concept type '" << name << "'", "valid: " << valid);
}

void validate(const ConceptTypeOptions& o, int64_t num_concepts) {
  if (!o.select.empty()) parse_concept_select(o.select);
  KMeansOptions kmeans = o.kmeans;
  kmeans.k = num_concepts;
  validate(kmeans);
  End2EndOptions end2end = o.end2end;
  end2end.num_concepts = num_concepts;
  validate(end2end);
  validate(o.text);
}

void save_tensor(const std::string& folder, const std::string& name, const torch::Tensor& t) {
  io::save_npy((std::filesystem::path(folder) / name).string(), t.to(torch::kCPU));
}

}  // namespace iis::concepts
