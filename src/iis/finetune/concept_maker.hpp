// The concept vectors of the backbone being fine-tuned: prototype or cluster concepts
// (docs/design.md §4) made from the current backbone's representations of the elements.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "iis/finetune/images.hpp"
#include "iis/finetune/trainable.hpp"

namespace iis::finetune {

// Makes K×D concept vectors with unit rows from the elements, as `iis fit` makes them from
// embedded elements: prototype — the elements the seed picks (class-stratified, chosen once,
// at the first call), embedded anew each time; cluster — k-means (seeded) of all elements'
// unit vectors, re-run each time, its centres normalised.
class ConceptMaker {
 public:
  // `elements`: the element images; `labels`: M int64 element classes (labels.npy).
  ConceptMaker(ImageSplit elements, torch::Tensor labels, std::string type, int64_t num_concepts,
               uint64_t seed);
  // Concepts of `backbone` (left in eval mode) on `device`. With `with_grad` they keep the
  // graph to the backbone's parameters (cluster: the assignment is fixed, the members' mean
  // carries it); otherwise they are computed without one.
  torch::Tensor compute(TrainableBackbone& backbone, torch::Device device, bool with_grad);
  const ImageSplit& elements() const { return elements_; }
  // The prototype elements (K int64), undefined before the first compute() and for cluster.
  const torch::Tensor& prototype_index() const { return index_; }
  void set_prototype_index(torch::Tensor index) { index_ = std::move(index); }

 private:
  torch::Tensor embed(TrainableBackbone& backbone, const torch::Tensor& rows,
                      torch::Device device) const;
  torch::Tensor prototypes(TrainableBackbone& backbone, torch::Device device);
  torch::Tensor clusters(TrainableBackbone& backbone, torch::Device device, bool with_grad);

  ImageSplit elements_;
  torch::Tensor labels_, index_;
  std::string type_;
  int64_t num_concepts_;
  uint64_t seed_;
};

}  // namespace iis::finetune
