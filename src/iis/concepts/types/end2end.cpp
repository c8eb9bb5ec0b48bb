// End-to-end concepts: a learned assignment of the elements to K concepts, one per head,
// trained with the heads (end2end.hpp); each ratio keeps the assignment of its reported head.
#include <torch/torch.h>

#include "iis/concepts/concept_type.hpp"

namespace iis::concepts {

namespace {

class End2EndConcepts : public SeedConcepts {
 public:
  End2EndConcepts(const SeedInputs& in, const ConceptTypeOptions& o) : in_(in), options_(o) {}

  void choose() override {}  // learned with the heads

  heads::ConceptScores& scores() override {
    End2EndOptions eo = options_.end2end;
    eo.num_concepts = in_.num_concepts;
    eo.seed = in_.seed;
    std::vector<double> head_lrs;  // in train_heads' head order: ratio-major
    for (size_t i = 0; i < in_.ratios.size(); ++i)
      head_lrs.insert(head_lrs.end(), in_.lrs.begin(), in_.lrs.end());
    scores_ = std::make_unique<End2EndScores>(in_.elements, in_.train_features, in_.val_features,
                                              head_lrs, eo);
    return *scores_;
  }

  // Per ratio, the assignment and concepts of the picked head at its picked epoch.
  void keep(const std::vector<PickedHead>& picked) override {
    std::vector<torch::Tensor> per_ratio;
    for (const auto& p : picked) per_ratio.push_back(scores_->assignment_at(p.epoch)[p.head]);
    assignment_ = torch::stack(per_ratio);         // R×M
    vectors_ = scores_->concepts_of(assignment_);  // R×K×D
    used_.clear();
    largest_.clear();
    for (const auto& a : per_ratio) {
      auto sizes = torch::bincount(a, {}, in_.num_concepts);
      used_.push_back((sizes > 0).sum().item<int64_t>());
      largest_.push_back(sizes.max().item<int64_t>());
    }
  }

  void save(const std::string& seed_dir, results::SeedResults& record) const override {
    save_tensor(seed_dir, "concepts.npy", vectors_);
    save_tensor(seed_dir, "element_concept.npy", assignment_);
    record.concept_type = "end2end";
    record.end2end = results::End2EndDetails{options_.end2end.temperature,
                                             in_.seed_folder + "/element_concept.npy",
                                             "R×M int64: each element's concept, per ratio",
                                             "R×K×D: the learned concepts, per ratio",
                                             used_,
                                             largest_};
  }

 private:
  const SeedInputs& in_;
  ConceptTypeOptions options_;
  std::unique_ptr<End2EndScores> scores_;
  torch::Tensor assignment_, vectors_;
  std::vector<int64_t> used_, largest_;
};

class End2End : public ConceptType {
 public:
  std::string name() const override { return "end2end"; }
  std::string help() const override { return "a learned assignment of the elements to K concepts"; }

  core::Options options(ConceptTypeOptions& o) const override {
    return {{"temperature", "end2end: Gumbel-softmax temperature (> 0)", &o.end2end.temperature}};
  }

  void add_settings(results::FitSettings& settings, const ConceptTypeOptions& o,
                    bool) const override {
    settings.concept_type = "end2end";
    settings.temperature = o.end2end.temperature;
  }

  std::string files() const override {
    return "element_concept.npy: each element's concept per ratio, R×M; "
           "concepts.npy is R×K×D";
  }

  std::unique_ptr<SeedConcepts> start(const SeedInputs& in,
                                      const ConceptTypeOptions& o) const override {
    return std::make_unique<End2EndConcepts>(in, o);
  }
};

}  // namespace

const ConceptType& end2end_type() {
  static const End2End type;
  return type;
}

}  // namespace iis::concepts
