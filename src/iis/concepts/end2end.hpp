// End-to-end concepts (docs/design.md §4): a learned hard assignment of elements to K concepts,
// trained jointly with the interpretable heads through a straight-through Gumbel-softmax.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "iis/concepts/options.hpp"
#include "iis/heads/train.hpp"

namespace iis::concepts {

// Standard Gumbel noise −log(−log u) of `shape` (CPU float32), u from the counter-based
// stream core::counter_uniform(shape, seed): the same numbers on every machine and for any
// thread count, and always finite.
torch::Tensor gumbel_noise(const std::vector<int64_t>& shape, uint64_t seed);

// Learned concepts for H interpretable heads, one assignment per head (a head is one sparsity
// ratio at one learning rate, in train_heads' order: ratio-major, H = R·L). For head h:
//   l = LayerNorm_K(q_h) (learnable γ_h, β_h; q_h: M×K, truncated normal std 0.02, γ 1, β 0)
//   forward: Y = one_hot(argmax_K(l + g)) with fresh Gumbel noise g (M×K) per training batch,
//            shared by the heads; validation uses argmax_K(l) (no noise)
//   P_k = Σ_{m: Y_mk=1} E_m / ‖·‖ (K×D; a concept that no element picks is the zero vector)
//   scores(x) = (a − mean_K a) / sqrt(var_K a + ε), a = x Pᵀ (the head's parameter-free
//            normalisation; the head applies its own γ, β)
//   backward: straight-through, dL/dY taken as dL/d softmax((l + g)/τ). For an empty concept
//            dL/dP_k stands for dL/dS_k (the first-order effect of giving it one unit element)
//            instead of F.normalize's 1/ε blow-up.
// Parameters are updated by Adam (core/adam.hpp) at the head's lr · lr_scale.
// Gradients are explicit (no autograd). All tensors live on the features' device.
class End2EndScores : public heads::ConceptScores {
 public:
  // elements: M×D float (rows are L2-normalised here); train_features N×D, val_features Nv×D
  // float32 on one device; head_lrs: H learning rates, one per head. Throws iis::Error for an
  // empty element set, K > M, a dimension mismatch or no heads.
  End2EndScores(const torch::Tensor& elements, torch::Tensor train_features,
                torch::Tensor val_features, std::vector<double> head_lrs,
                const End2EndOptions& options);

  int64_t num_concepts() const override { return k_; }
  int64_t num_heads() const { return h_; }
  int64_t num_elements() const { return m_; }

  // H×B×K scores of training rows `index` (B int64, device) under a fresh Gumbel draw; the
  // state for backward() is kept.
  torch::Tensor train_scores(const torch::Tensor& index) override;
  // H×B×K scores under the hard noiseless assignment (validation, hold-out rows).
  torch::Tensor val_scores(const torch::Tensor& index) override;
  torch::Tensor eval_train_scores(const torch::Tensor& index) override;
  bool trainable() const override { return true; }
  // grad: H×B×K dL/dscores of the last train_scores() call; fills the parameter gradients.
  void backward(const torch::Tensor& grad) override;
  void step(double lr_scale) override;
  // Stores the noiseless assignment after each epoch, so the one behind a picked epoch can
  // be saved with its head.
  void end_epoch() override;

  // Noiseless assignment now: H×M int64 (CPU), element m → concept.
  torch::Tensor assignment() const;
  // The noiseless assignment stored after `epoch` (1-based): H×M int64 (CPU).
  torch::Tensor assignment_at(int64_t epoch) const;
  // Assignment used by the last train_scores() call: H×M int64 (CPU).
  torch::Tensor last_train_assignment() const;
  // Concept vectors of an assignment: `assignment` H×M (or M) int64 → H×K×D (or K×D) float32
  // (CPU), each row the normalised sum of its elements (zero if none).
  torch::Tensor concepts_of(const torch::Tensor& assignment) const;

  // Parameters and their last gradients (device tensors, for tests): q H×M×K, γ/β H×K.
  const torch::Tensor& q() const { return q_; }
  const torch::Tensor& gamma() const { return gamma_; }
  const torch::Tensor& beta() const { return beta_; }
  const torch::Tensor& grad_q() const { return grad_q_; }
  const torch::Tensor& grad_gamma() const { return grad_gamma_; }
  const torch::Tensor& grad_beta() const { return grad_beta_; }
  // The Gumbel noise of the last train_scores() call: M×K (device), shared by the heads.
  const torch::Tensor& last_noise() const { return noise_; }

 private:
  torch::Tensor logits() const;  // H×M×K, LayerNorm_K(q) with γ, β
  torch::Tensor build_concepts(const torch::Tensor& index) const;  // H×M (device) → H×K×D
  torch::Tensor scores(const torch::Tensor& x, const torch::Tensor& p) const;
  const torch::Tensor& eval_concepts();

  End2EndOptions options_;
  int64_t h_ = 0, m_ = 0, k_ = 0, d_ = 0;
  torch::Tensor elements_, train_x_, val_x_;
  torch::Tensor q_, gamma_, beta_, lr_;
  torch::Tensor grad_q_, grad_gamma_, grad_beta_;
  torch::Tensor avg_q_, avg_gamma_, avg_beta_, sq_q_, sq_gamma_, sq_beta_;
  int64_t adam_steps_ = 0, draws_ = 0;
  // Kept by train_scores() for backward().
  torch::Tensor noise_, x_, qhat_, rstd_q_, soft_, index_, p_, norm_, z_, rstd_a_;
  torch::Tensor dy_;                    // CPU: dL/dY buffer, H×M×K
  torch::Tensor eval_p_;                // H×K×D of the noiseless assignment, or undefined
  std::vector<torch::Tensor> history_;  // per epoch: H×M int64 (CPU)
};

}  // namespace iis::concepts
