// Prototype concepts: K of the element vectors themselves, picked by a selection rule
// (first, stratified, random; select.hpp), each scaled to unit length.
#include <torch/torch.h>

#include "iis/concepts/concept_type.hpp"
#include "iis/concepts/select.hpp"
#include "iis/core/error.hpp"

namespace iis::concepts {

namespace {

// The selection rule in force: --concept-select, else stratified with labels, random without.
std::string resolved_select(const ConceptTypeOptions& o, bool has_element_labels) {
  if (!o.select.empty()) return o.select;
  return has_element_labels ? "stratified" : "random";
}

class PrototypeConcepts : public SeedConcepts {
 public:
  PrototypeConcepts(const SeedInputs& in, const ConceptTypeOptions& o) : in_(in), options_(o) {}

  void choose() override {
    ConceptOptions co;
    co.num_concepts = in_.num_concepts;
    if (!options_.select.empty()) co.select = parse_concept_select(options_.select);
    co.seed = in_.seed;
    chosen_ = choose_concepts(in_.elements, in_.element_labels, co);
  }

  heads::ConceptScores& scores() override {
    auto p = chosen_.vectors.to(in_.train_features.device());
    scores_ = std::make_unique<heads::PrecomputedScores>(
        heads::normalized_concept_scores(in_.train_features, p),
        heads::normalized_concept_scores(in_.val_features, p));
    return *scores_;
  }

  void save(const std::string& seed_dir, results::SeedResults& record) const override {
    save_tensor(seed_dir, "concepts.npy", chosen_.vectors);
    save_tensor(seed_dir, "concept_index.npy", chosen_.element_index);
    record.concept_type = "prototype";
    record.concept_select = to_string(chosen_.select);
  }

 private:
  const SeedInputs& in_;
  ConceptTypeOptions options_;
  ConceptSet chosen_;
  std::unique_ptr<heads::PrecomputedScores> scores_;
};

class Prototype : public ConceptType {
 public:
  std::string name() const override { return "prototype"; }
  std::string help() const override { return "K of the elements"; }

  core::Options options(ConceptTypeOptions& o) const override {
    return {{"concept_select",
             "prototype: first | stratified | random (default: stratified with "
             "--concept-labels, random otherwise)",
             &o.select}};
  }

  void validate(const ConceptTypeOptions& o, int64_t, bool has_element_labels) const override {
    IIS_CHECK_HINT(o.select != "stratified" || has_element_labels,
                   "--concept-select stratified needs --concept-labels",
                   "pass --concept-labels, or use --concept-select random");
  }

  void add_settings(results::FitSettings& settings, const ConceptTypeOptions& o,
                    bool has_element_labels) const override {
    settings.concept_select = resolved_select(o, has_element_labels);
  }

  std::string files() const override { return "concept_index.npy"; }

  std::unique_ptr<SeedConcepts> start(const SeedInputs& in,
                                      const ConceptTypeOptions& o) const override {
    return std::make_unique<PrototypeConcepts>(in, o);
  }
};

}  // namespace

const ConceptType& prototype_type() {
  static const Prototype type;
  return type;
}

}  // namespace iis::concepts
