// H linear classification heads trained side by side as one batched computation: standard
// heads (logits = W x + b) or interpretable heads (docs/design.md §5: γ, β, sparsity mask, W, b).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "iis/heads/sparse_heads.hpp"
#include "iis/heads/threshold.hpp"

namespace iis::heads {

// The shape of a stack. Interpretable stacks read K normalised concept scores per row and
// apply head h's threshold rule at positions[h] / keep[h]; standard stacks read D features.
struct HeadStackConfig {
  int64_t num_heads = 1;
  int64_t num_classes = 2;
  int64_t in_features = 1;  // D (standard) or K (interpretable)
  bool interpretable = false;
  ThresholdRule rule = ThresholdRule::Strict;
  std::vector<int64_t> positions;  // H, from threshold_position (interpretable only)
  std::vector<int64_t> keep;       // H, from kept_concepts (interpretable only)
  std::vector<double> lrs;         // H, Adam learning rate of each head
};

// One head's parameters (CPU copies): gamma, beta K (undefined for standard heads),
// weight C×F, bias C.
struct HeadParams {
  torch::Tensor gamma, beta, weight, bias;
};

// The intermediate tensors of one forward pass, kept for backward.
struct HeadPass {
  torch::Tensor input;      // B×F (shared by all heads) or H×B×F
  torch::Tensor hidden;     // what W multiplies: the input, or ŷ (H×B×K)
  torch::Tensor mask;       // H×B×K bool (interpretable only)
  torch::Tensor threshold;  // H×B float (interpretable only)
  torch::Tensor logits;     // H×B×C
};

// H heads whose parameters live in one flat buffer (γ: H×K, β: H×K, W: H×C×F, b: H×C), with
// Adam state beside them. Gradients are computed explicitly (no autograd): the model is small
// and known, and fusing the per-entry work matters more than generality here.
class HeadStack {
 public:
  // Weights start truncated-normal (std 0.02, the same draw for every head, from `init_seed`),
  // biases 0, γ 1, β 0. All tensors live on `device`.
  HeadStack(HeadStackConfig config, torch::Device device, uint64_t init_seed);

  const HeadStackConfig& config() const { return config_; }

  // Logits of every head for a batch. `input`: B×F shared, or H×B×F, float32 on the device.
  HeadPass forward(const torch::Tensor& input, const ThresholdHint* hint = nullptr) const;

  // Cross-entropy (mean over the batch, per head) against `labels` (B int64): fills the
  // gradients and returns the per-head loss (H float, device). When `grad_input` is given it
  // receives dL/d(input) (same shape as pass.input) for a learnable input stage. Consumes the
  // pass: its logits are overwritten. Results of forward() share buffers reused by the next
  // forward(), so finish with one pass before starting the next.
  torch::Tensor backward(const HeadPass& pass, const torch::Tensor& labels,
                         torch::Tensor* grad_input = nullptr);

  // forward() then backward() in one call, returning the per-head loss (H float, device).
  // Interpretable stacks on the CPU run the fused kernel (sparse_heads_step): no H×B×K
  // tensors, same numbers up to float rounding. `threshold` (optional) receives the H×B
  // thresholds of interpretable heads; `grad_input` as in backward().
  torch::Tensor train_step(const torch::Tensor& input, const torch::Tensor& labels,
                           const ThresholdHint* hint = nullptr, torch::Tensor* threshold = nullptr,
                           torch::Tensor* grad_input = nullptr);

  // Top-1 and top-5 hit counts of every head on a batch (`labels`: B int64): two H int64
  // tensors on the device. Fused on the CPU for interpretable stacks; `threshold` as above.
  // `logits` (optional) receives the H×B×C logits that were ranked (float32, device).
  std::pair<torch::Tensor, torch::Tensor> hits(const torch::Tensor& input,
                                               const torch::Tensor& labels,
                                               const ThresholdHint* hint = nullptr,
                                               torch::Tensor* threshold = nullptr,
                                               torch::Tensor* logits = nullptr) const;

  // Threads of the fused CPU kernel (0: at::get_num_threads() at each call).
  void set_kernel_threads(int threads) { sparse_workspace_.threads = threads; }

  // One Adam step (core::adam_update) with lr = lrs[h] · lr_scale.
  void adam_step(double lr_scale);

  // Copy of head h's parameters on the CPU, and the reverse.
  HeadParams head(int64_t h) const;
  void set_head(int64_t h, const HeadParams& params);

  // Views into the flat parameter buffer (device tensors).
  torch::Tensor gamma, beta, weight, bias;

 private:
  HeadStackConfig config_;
  torch::Tensor params_, grads_, exp_avg_, exp_avg_sq_, lr_;
  torch::Tensor grad_gamma_, grad_beta_, grad_weight_, grad_bias_;
  // Buffers reused from batch to batch (the largest per-step tensors).
  mutable SparseActivations sparse_buffers_;
  mutable torch::Tensor logits_buffer_;
  torch::Tensor grad_hidden_buffer_;
  // The fused CPU kernel's view of the parameters and its scratch.
  bool use_sparse_kernel(const torch::Tensor& input) const;
  SparseHeads sparse_heads() const;
  mutable SparseHeadsWorkspace sparse_workspace_;
  int64_t step_ = 0;
};

// Top-1 and top-5 hit counts of logits (H×B×C float) against labels (B int64): two H int64
// tensors on the logits' device. Classes rank as argmax ranks them: by logit, ties to the lower
// class index, NaN as the largest value; a row is a top-k hit when fewer than k classes rank
// before its label. The fused CPU kernel (sparse_heads_hits) counts the same way.
std::pair<torch::Tensor, torch::Tensor> logit_hits(const torch::Tensor& logits,
                                                   const torch::Tensor& labels);

}  // namespace iis::heads
