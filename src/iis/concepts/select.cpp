// Prototype concept selection: first, stratified and random.
#include "iis/concepts/select.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "iis/core/error.hpp"
#include "iis/core/random.hpp"

namespace iis::concepts {

ConceptSelect parse_concept_select(const std::string& name) {
  if (name == "first") return ConceptSelect::First;
  if (name == "stratified") return ConceptSelect::Stratified;
  if (name == "random") return ConceptSelect::Random;
  IIS_FAIL("--concept-select: unknown selection '" << name << "'",
           "valid: first, stratified, random");
}

std::string to_string(ConceptSelect select) {
  switch (select) {
    case ConceptSelect::First:
      return "first";
    case ConceptSelect::Stratified:
      return "stratified";
    case ConceptSelect::Random:
      return "random";
  }
  return "?";
}

torch::Tensor l2_normalize_rows(const torch::Tensor& x) {
  auto norm = x.norm(2, /*dim=*/1, /*keepdim=*/true).clamp_min(1e-12);
  return x / norm;
}

namespace {

using core::seeded_permutation;

std::vector<int64_t> stratified_sample(const torch::Tensor& labels, int64_t k, uint64_t seed) {
  auto lab = labels.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* l = lab.data_ptr<int64_t>();
  std::map<int64_t, std::vector<int64_t>> by_class;
  for (int64_t i = 0; i < lab.numel(); ++i) by_class[l[i]].push_back(i);
  // Shuffle the members of each class, and the order in which classes get their turn, so the
  // classes that receive one more concept when K is not a multiple vary with the seed.
  std::vector<std::vector<int64_t>> members;
  uint64_t salt = 1;
  for (auto& [cls, rows] : by_class) {
    auto perm = seeded_permutation(static_cast<int64_t>(rows.size()), seed * 1000003 + salt++);
    std::vector<int64_t> shuffled;
    for (int64_t p : perm) shuffled.push_back(rows[p]);
    members.push_back(std::move(shuffled));
  }
  auto class_order = seeded_permutation(static_cast<int64_t>(members.size()), seed);
  std::vector<int64_t> chosen;
  for (size_t round = 0; static_cast<int64_t>(chosen.size()) < k; ++round) {
    for (int64_t c : class_order) {
      if (static_cast<int64_t>(chosen.size()) == k) break;
      if (round < members[c].size()) chosen.push_back(members[c][round]);
    }
  }
  return chosen;
}

}  // namespace

ConceptSet choose_concepts(const torch::Tensor& elements, const torch::Tensor& element_labels,
                           const ConceptOptions& options) {
  IIS_CHECK(elements.defined() && elements.dim() == 2, "concept elements must be a 2-D M×D array");
  const int64_t m = elements.size(0), k = options.num_concepts;
  IIS_CHECK_HINT(m > 0 && elements.size(1) > 0, "the concept set is empty (" << m << " rows)",
                 "pass a non-empty --concepts file");
  IIS_CHECK_HINT(k >= 1, "--num-concepts must be at least 1, got " << k, "the reference uses 200");
  IIS_CHECK_HINT(k <= m, "--num-concepts " << k << " is more than the " << m << " concepts given",
                 "pass --num-concepts " << m << " or fewer, or a larger --concepts file");
  const bool has_labels = element_labels.defined();
  if (has_labels) {
    IIS_CHECK_HINT(element_labels.dim() == 1 && element_labels.size(0) == m,
                   "--concept-labels has " << element_labels.numel()
                                           << " entries but --concepts has " << m << " rows",
                   "give one label per concept row, in the same order");
  }
  ConceptSet out;
  out.select =
      options.select.value_or(has_labels ? ConceptSelect::Stratified : ConceptSelect::Random);
  std::vector<int64_t> chosen;
  switch (out.select) {
    case ConceptSelect::First:
      for (int64_t i = 0; i < k; ++i) chosen.push_back(i);
      break;
    case ConceptSelect::Random: {
      auto perm = seeded_permutation(m, options.seed);
      chosen.assign(perm.begin(), perm.begin() + k);
      break;
    }
    case ConceptSelect::Stratified:
      IIS_CHECK_HINT(has_labels, "--concept-select stratified needs --concept-labels",
                     "pass --concept-labels, or use --concept-select random");
      chosen = stratified_sample(element_labels, k, options.seed);
      break;
  }
  std::sort(chosen.begin(), chosen.end());
  out.element_index = torch::tensor(chosen, torch::kInt64);
  auto rows = elements.index_select(0, out.element_index.to(elements.device()));
  out.vectors = l2_normalize_rows(rows.to(torch::kFloat32)).contiguous();
  return out;
}

}  // namespace iis::concepts
