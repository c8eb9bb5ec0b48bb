// The two heads `iis finetune` trains with the backbone and their combined loss
// CE(standard) + λ·CE(interpretable) (docs/design.md §12), with autograd throughout.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace iis::finetune {

// The standard head (logits = W_s z + b_s) and one interpretable head at one ratio
// (docs/design.md §5: γ, β over K, the strict mask, W, b). Leaf tensors on one device, float32
// (or float64 in tests), requires_grad set.
struct FinetuneHeads {
  torch::Tensor standard_weight;  // C×D
  torch::Tensor standard_bias;    // C
  torch::Tensor gamma, beta;      // K
  torch::Tensor weight;           // C×K
  torch::Tensor bias;             // C
  std::vector<torch::Tensor> standard() const { return {standard_weight, standard_bias}; }
  std::vector<torch::Tensor> interpretable() const { return {gamma, beta, weight, bias}; }
  int64_t width() const { return standard_weight.size(1); }  // D
  int64_t num_concepts() const { return gamma.size(0); }     // K
  int64_t num_classes() const { return standard_weight.size(0); }
};

// Fresh heads: weights truncated-normal (std 0.02) from `seed`, biases 0, γ 1, β 0 (the
// initial heads of `iis fit`), requires_grad set, on `device`.
FinetuneHeads fresh_heads(int64_t num_classes, int64_t width, int64_t num_concepts, uint64_t seed,
                          torch::Device device);

// Copies with requires_grad set (for heads read from files or fitted without autograd).
FinetuneHeads trainable_copy(const FinetuneHeads& heads, torch::Device device);

// Standard logits: z (B×D) → B×C.
torch::Tensor standard_logits(const torch::Tensor& z, const FinetuneHeads& heads);

// Interpretable logits: a = z Pᵀ (B×K), LayerNorm over K without affine (ε 1e-5),
// y = γ ⊙ · + β, t = the (position+1)-th smallest |y| of each row (no gradient through t),
// ŷ = y ⊙ [|y| > t], logits = W ŷ + b: B×C. concepts P: K×D; position from
// heads::threshold_position(K, r, Strict).
torch::Tensor interpretable_logits(const torch::Tensor& z, const torch::Tensor& concepts,
                                   const FinetuneHeads& heads, int64_t position);

// The losses of one batch (scalars).
struct StepLoss {
  torch::Tensor standard;       // CE of the standard head
  torch::Tensor interpretable;  // CE of the interpretable head
  torch::Tensor total;          // standard + λ·interpretable; with λ = 0 exactly `standard`
                                // (the interpretable term is computed without a graph)
};

// The combined loss of one batch: labels B int64.
StepLoss combined_loss(const torch::Tensor& z, const torch::Tensor& concepts,
                       const FinetuneHeads& heads, const torch::Tensor& labels, int64_t position,
                       double lambda);

}  // namespace iis::finetune
