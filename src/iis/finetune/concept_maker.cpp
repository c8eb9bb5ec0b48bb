// Concept vectors from the current backbone: prototypes embedded anew, clusters re-clustered.
#include "iis/finetune/concept_maker.hpp"

#include <optional>

#include "iis/concepts/kmeans.hpp"
#include "iis/concepts/select.hpp"
#include "iis/core/error.hpp"

namespace iis::finetune {
namespace {

constexpr int64_t kElementBatch = 256;

}  // namespace

ConceptMaker::ConceptMaker(ImageSplit elements, torch::Tensor labels, std::string type,
                           int64_t num_concepts, uint64_t seed)
    : elements_(std::move(elements)),
      labels_(std::move(labels)),
      type_(std::move(type)),
      num_concepts_(num_concepts),
      seed_(seed) {
  IIS_CHECK_HINT(
      num_concepts_ <= elements_.size(),
      "--num-concepts " << num_concepts_ << " is more than the " << elements_.size() << " elements",
      "use fewer concepts or cut more elements");
}

torch::Tensor ConceptMaker::embed(TrainableBackbone& backbone, const torch::Tensor& rows,
                                  torch::Device device) const {
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < rows.size(0); begin += kElementBatch) {
    const auto index = rows.narrow(0, begin, std::min(kElementBatch, rows.size(0) - begin));
    parts.push_back(backbone.features(model_input(elements_, index, device)));
  }
  return torch::cat(parts);
}

torch::Tensor ConceptMaker::prototypes(TrainableBackbone& backbone, torch::Device device) {
  if (!index_.defined()) {
    torch::NoGradGuard no_grad;
    const auto all = torch::arange(elements_.size(), torch::kInt64);
    concepts::ConceptOptions o;
    o.num_concepts = num_concepts_;
    o.seed = seed_;
    index_ =
        concepts::choose_concepts(embed(backbone, all, device).cpu(), labels_, o).element_index;
  }
  return concepts::l2_normalize_rows(embed(backbone, index_, device));
}

torch::Tensor ConceptMaker::clusters(TrainableBackbone& backbone, torch::Device device,
                                     bool with_grad) {
  const auto all = torch::arange(elements_.size(), torch::kInt64);
  torch::Tensor unit;
  {
    torch::NoGradGuard no_grad;
    unit = concepts::l2_normalize_rows(embed(backbone, all, device));
  }
  concepts::KMeansOptions o;
  o.k = num_concepts_;
  o.seed = seed_;
  concepts::KMeansResult details;
  torch::Tensor centres = concepts::cluster_concepts(unit.cpu(), o, &details).to(device);
  if (!with_grad) return centres;
  // The same centres as the mean of their members, now with the graph to the parameters.
  const auto members = details.labels.to(device);
  const auto grad_unit = concepts::l2_normalize_rows(embed(backbone, all, device));
  auto sums = torch::zeros({num_concepts_, grad_unit.size(1)}, grad_unit.options());
  return concepts::l2_normalize_rows(sums.index_add(0, members, grad_unit));
}

torch::Tensor ConceptMaker::compute(TrainableBackbone& backbone, torch::Device device,
                                    bool with_grad) {
  backbone.train(false);
  std::optional<torch::NoGradGuard> no_grad;
  if (!with_grad) no_grad.emplace();
  if (type_ == "cluster") return clusters(backbone, device, with_grad);
  return prototypes(backbone, device);
}

}  // namespace iis::finetune
