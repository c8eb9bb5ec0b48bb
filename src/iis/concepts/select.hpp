// Choosing K of M element vectors as prototype concepts (docs/design.md §4): the selection
// rules first, stratified and random. The concept type that uses it is
// concepts/types/prototype.cpp.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace iis::concepts {

// Which K elements a prototype concept set takes.
//   First:      the first K in file order (the reference's behaviour; on ImageNet one or
//               two classes).
//   Stratified: a seeded sample balanced over the element labels (needs labels).
//   Random:     a seeded uniform sample without replacement.
enum class ConceptSelect { First, Stratified, Random };

// "first" | "stratified" | "random"; throws iis::Error naming --concept-select otherwise.
ConceptSelect parse_concept_select(const std::string& name);
std::string to_string(ConceptSelect select);

struct ConceptOptions {
  int64_t num_concepts = 200;  // K, --num-concepts; 1 ≤ K ≤ M
  // --concept-select; unset = Stratified when element labels are given, Random otherwise.
  std::optional<ConceptSelect> select;
  uint64_t seed = 0;  // seeds Stratified and Random
};

// K concept vectors and where they came from.
struct ConceptSet {
  torch::Tensor vectors;        // K×D float32, rows of unit L2 norm, on the elements' device
  torch::Tensor element_index;  // K int64 (CPU): the element row behind each concept
  ConceptSelect select = ConceptSelect::First;
};

// Chooses concepts from `elements` (M×D float, any device) with optional `element_labels`
// (M integers, CPU; undefined tensor = none). Throws iis::Error when K > M, the set is empty,
// the labels' length is not M, or Stratified is asked without labels. The result is
// deterministic for a given seed; chosen rows keep their file order.
ConceptSet choose_concepts(const torch::Tensor& elements, const torch::Tensor& element_labels,
                           const ConceptOptions& options);

// Rows scaled to unit L2 norm (a zero row stays zero). x: N×D float.
torch::Tensor l2_normalize_rows(const torch::Tensor& x);

}  // namespace iis::concepts
