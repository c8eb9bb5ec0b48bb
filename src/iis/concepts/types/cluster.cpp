// Cluster concepts: the K k-means centres of the element vectors (kmeans.hpp), each scaled to
// unit length; every element is labelled with its nearest centre.
#include <torch/torch.h>

#include "iis/concepts/concept_type.hpp"

namespace iis::concepts {

namespace {

// The k-means settings of one seed.
KMeansOptions seed_kmeans(const ConceptTypeOptions& o, int64_t num_concepts, uint64_t seed) {
  KMeansOptions k = o.kmeans;
  k.k = num_concepts;
  k.seed = seed;
  return k;
}

class ClusterConcepts : public SeedConcepts {
 public:
  ClusterConcepts(const SeedInputs& in, const ConceptTypeOptions& o) : in_(in), options_(o) {}

  void choose() override {
    vectors_ =
        cluster_concepts(in_.elements, seed_kmeans(options_, in_.num_concepts, in_.seed), &result_);
  }

  heads::ConceptScores& scores() override {
    auto p = vectors_.to(in_.train_features.device());
    scores_ = std::make_unique<heads::PrecomputedScores>(
        heads::normalized_concept_scores(in_.train_features, p),
        heads::normalized_concept_scores(in_.val_features, p));
    return *scores_;
  }

  void save(const std::string& seed_dir, results::SeedResults& record) const override {
    save_tensor(seed_dir, "concepts.npy", vectors_);
    // Each element's concept (its nearest centre): the elements behind a cluster concept.
    save_tensor(seed_dir, "element_concept.npy", result_.labels);
    record.concept_type = "cluster";
    record.kmeans = results::KMeansDetails{result_.inertia, result_.iterations, result_.converged,
                                           result_.sample.size(0), result_.seconds};
  }

 private:
  const SeedInputs& in_;
  ConceptTypeOptions options_;
  torch::Tensor vectors_;
  KMeansResult result_;
  std::unique_ptr<heads::PrecomputedScores> scores_;
};

class Cluster : public ConceptType {
 public:
  std::string name() const override { return "cluster"; }
  std::string help() const override { return "K k-means centres of the elements, unit length"; }

  core::Options options(ConceptTypeOptions& o) const override {
    return {{"kmeans_max_elements",
             "cluster: k-means on at most this many elements, a seeded sample (0 = all)",
             &o.kmeans.max_elements},
            {"kmeans_tol",
             "cluster: stop when the squared centre shift is <= tol x mean feature variance",
             &o.kmeans.tol},
            {"kmeans_max_iter", "cluster: at most this many iterations", &o.kmeans.max_iter}};
  }

  void add_settings(results::FitSettings& settings, const ConceptTypeOptions& o,
                    bool) const override {
    settings.concept_type = "cluster";
    settings.kmeans =
        results::KMeansSettings{o.kmeans.max_elements, o.kmeans.tol, o.kmeans.max_iter};
  }

  std::string files() const override { return "element_concept.npy: each element's cluster"; }

  // Per seed: inertia, iterations, converged, ...
  void summarize(const std::vector<results::SeedResults>& seeds,
                 results::FitResults& results) const override {
    results.kmeans.emplace();
    for (const auto& s : seeds)
      results.kmeans->push_back(s.kmeans.value_or(results::KMeansDetails{}));
  }

  std::unique_ptr<SeedConcepts> start(const SeedInputs& in,
                                      const ConceptTypeOptions& o) const override {
    return std::make_unique<ClusterConcepts>(in, o);
  }
};

}  // namespace

const ConceptType& cluster_type() {
  static const Cluster type;
  return type;
}

}  // namespace iis::concepts
