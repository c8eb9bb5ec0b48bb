// Fused CPU kernel of H interpretable heads: per row the affine map, the threshold rule, the
// sparse linear layer, softmax cross-entropy and every gradient, in one pass over a batch.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "iis/heads/threshold.hpp"

namespace iis::heads {

// The parameters and rule of H interpretable heads. Tensors are CPU float32: gamma, beta
// H×K; weight H×C×K; bias H×C. positions / keep: H entries (threshold_position /
// kept_concepts).
struct SparseHeads {
  torch::Tensor gamma, beta, weight, bias;
  std::vector<int64_t> positions, keep;
  ThresholdRule rule = ThresholdRule::Strict;
};

// Where the kernel is used instead of batched matrix products: on the CPU, up to this many
// classes. Beyond it a row's work per kept concept is long enough for BLAS's blocking (which
// reuses each weight across rows) to win; below it LibTorch's per-operation overhead dominates.
constexpr int64_t kSparseHeadsMaxClasses = 64;
bool sparse_heads_apply(const torch::Device& device, int64_t num_classes);

// Scratch reused from batch to batch (transposed weights, per-chunk gradient sums).
struct SparseHeadsWorkspace {
  std::vector<float> weight_t;  // H×K×Cp
  std::vector<float> weight_p;  // H×C×Kp
  std::vector<float> partial;   // chunks × H × (max(K·Cp, C·Kp) + 2K + Cp)
  std::vector<double> loss;     // chunks × H
  std::vector<uint8_t> dense;   // H: which heads take the dense path
  int threads = 0;              // threads of the kernel; 0: at::get_num_threads()
  bool portable = false;        // use the baseline build even where AVX2 is present (tests)
};

// The gradients of one step (overwritten): dL/dγ, dL/dβ H×K, dL/dW H×C×K, dL/db H×C, with L
// the per-head cross-entropy averaged over the batch. `scores` (optional): dL/dscores, same
// shape as the scores (B×K summed over heads when the scores are shared, or H×B×K).
struct SparseHeadsGrads {
  torch::Tensor gamma, beta, weight, bias;
  torch::Tensor* scores = nullptr;
};

// One training step's forward and backward. `scores`: B×K (shared by every head) or H×B×K,
// float32 CPU; `labels`: B int64 CPU in [0, C); `hint` (optional) speeds up the selection.
// Returns the per-head loss (H float32) and fills `threshold` (H×B float32, −1 where every
// entry is kept). Equal to sparsify() + logits + cross-entropy + HeadStack's backward up to
// float rounding. Rows are split into a fixed number of chunks whose sums are added in order,
// so results do not depend on the thread count.
torch::Tensor sparse_heads_step(const SparseHeads& heads, const torch::Tensor& scores,
                                const torch::Tensor& labels, const ThresholdHint* hint,
                                SparseHeadsGrads& grads, torch::Tensor& threshold,
                                SparseHeadsWorkspace& workspace);

// Forward only: per head, how many rows have their label as the top logit (top1) and among
// the five largest (top5), ties decided as argmax decides them (see logit_hits). Fills
// `threshold` (H×B) as sparse_heads_step does.
struct SparseHits {
  std::vector<int64_t> top1, top5;
};
// `logits` (optional) receives the H×B×C float32 logits it ranked (what `iis predict` reports,
// so that its predictions are the rows these counts call hits).
SparseHits sparse_heads_hits(const SparseHeads& heads, const torch::Tensor& scores,
                             const torch::Tensor& labels, const ThresholdHint* hint,
                             torch::Tensor& threshold, SparseHeadsWorkspace& workspace,
                             torch::Tensor* logits = nullptr);

}  // namespace iis::heads
