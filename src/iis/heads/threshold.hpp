// The sparsity rule of the interpretable head: which normalised concept scores survive at
// ratio r (docs/design.md §5), computed for many heads at once.
#pragma once

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace iis::heads {

// How the threshold t = sorted(|y|)[position] is applied to y (K scores of one row).
//   Strict: keep |y| > t with position floor(K·r) — the reference; keeps K − floor(K·r) − 1,
//           so r = 0 already drops one concept.
//   Exact:  keep exactly round(K·(1 − r)) entries (the largest |y|; ties broken by index).
//   Soft:   Strict's mask, and kept entries shrink towards 0 by t: sign(y)·(|y| − t).
enum class ThresholdRule { Strict, Exact, Soft };

// "strict" | "exact" | "soft"; throws iis::Error naming --threshold otherwise.
ThresholdRule parse_threshold_rule(const std::string& name);
std::string to_string(ThresholdRule rule);

// floor(K·r) in double precision, as Python's int(K * r) computes it.
int64_t floor_count(int64_t num_concepts, double ratio);

// Concepts kept per row at `ratio` (0 ≤ r < 1) out of K under `rule` (ties aside).
int64_t kept_concepts(int64_t num_concepts, double ratio, ThresholdRule rule);

// The smallest K at which `rule` keeps at least one concept at every one of `ratios` (each in
// [0, 1)); below it some head keeps none and outputs only its bias. Strict, r = 0.98: 51.
int64_t smallest_k_keeping_one(const std::vector<double>& ratios, ThresholdRule rule);

// The ascending position of the threshold in sorted |y|: entries strictly above it are kept.
// Strict/Soft: floor(K·r). Exact: K − round(K·(1−r)) − 1, or −1 when every entry is kept.
int64_t threshold_position(int64_t num_concepts, double ratio, ThresholdRule rule);

// Where the selection may look first, per head and row: thresholds seen on earlier passes
// over the same rows. Purely a speed hint for the CPU kernel — results never depend on it.
struct ThresholdHint {
  torch::Tensor guess;       // H×B float32 CPU; NaN where unknown
  std::vector<float> width;  // H: half-width of the first bracket tried around each guess
};

// The m-th smallest of a[0..k) (0-based), looking first in [guess − width, guess + width)
// (a NaN guess or width ≤ 0: no bracket). `buf` holds k floats of scratch. The result never
// depends on the guess; a good one makes it one pass over `a` plus a small selection.
float select_position(const float* a, int64_t k, int64_t m, float guess, float width, float* buf);

// The r-th smallest of buf[0..n) (0-based; buf may be reordered). A good bracket leaves a
// handful of entries: their ranks are counted without branches (ties ranked by position, so
// exactly one entry has rank r), which costs less than std::nth_element's setup and branches.
inline float small_select(float* buf, int64_t n, int64_t r) {
  if (n > 16) {
    std::nth_element(buf, buf + r, buf + n);
    return buf[r];
  }
  float out = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = buf[i];
    int64_t rank = 0;
    for (int64_t j = 0; j < n; ++j) rank += (buf[j] < v) | ((buf[j] == v) & (j < i));
    out = rank == r ? v : out;
  }
  return out;
}

// The bracket search of select_position, for callers with their own pass over the entries:
// `pass(lo, hi, buf, below, inside)` counts the entries below lo into `below` and gathers those
// in [lo, hi) into buf, counting them in `inside`. A miss doubles the bracket towards the
// target. Returns true with the m-th smallest in `out`; false when the guess is unusable or
// 40 tries missed (the caller then selects over everything).
template <typename Pass>
inline bool select_bracketed(const Pass& pass, int64_t m, float guess, float width, float* buf,
                             float& out) {
  if (!std::isfinite(guess) || !(width > 0)) return false;
  float lo = guess - width, hi = guess + width;
  for (int attempt = 0; attempt < 40; ++attempt) {
    int64_t below = 0, inside = 0;
    pass(lo, hi, buf, below, inside);
    if (below > m) {
      width *= 2;
      hi = lo;
      lo = hi - width;
    } else if (below + inside <= m) {
      width *= 2;
      lo = hi;
      hi = lo + width;
    } else {
      out = small_select(buf, inside, m - below);
      return true;
    }
  }
  return false;
}

// The sparse activations of H heads on one batch.
struct SparseActivations {
  torch::Tensor values;     // H×B×K float32: ŷ (zeros where dropped)
  torch::Tensor mask;       // H×B×K bool: kept entries
  torch::Tensor threshold;  // H×B float32: t per row (−1 where every entry is kept)
};

// y = γ_h ⊙ z + β_h, then the rule's mask per head h. `scores`: B×K (shared by every head) or
// H×B×K, float32; `gamma`, `beta`: H×K; `positions`, `keep`: H entries from
// threshold_position / kept_concepts. CPU float32 inputs use a fused multi-threaded kernel
// (with `hint` when given), writing into `workspace`'s tensors when their shapes fit (the
// result then shares their storage); other devices use tensor operations. No autograd.
SparseActivations sparsify(const torch::Tensor& scores, const torch::Tensor& gamma,
                           const torch::Tensor& beta, const std::vector<int64_t>& positions,
                           const std::vector<int64_t>& keep, ThresholdRule rule,
                           const ThresholdHint* hint = nullptr,
                           SparseActivations* workspace = nullptr);

// The same with tensor operations only (sort, gather, compare): the reference the fused
// kernel is tested against, and the path used on CUDA.
SparseActivations sparsify_reference(const torch::Tensor& scores, const torch::Tensor& gamma,
                                     const torch::Tensor& beta,
                                     const std::vector<int64_t>& positions,
                                     const std::vector<int64_t>& keep, ThresholdRule rule);

// Backward of sparsify for the affine parameters: given dL/dŷ (H×B×K), returns dL/dy
// (= dL/dŷ on kept entries, 0 elsewhere; t carries no gradient; on the CPU it is computed in
// place, overwriting a contiguous `grad_values`) and writes
// dL/dγ (H×K) = Σ_rows dL/dy ⊙ z and dL/dβ (H×K) = Σ_rows dL/dy into the given tensors
// (overwritten).
torch::Tensor sparsify_backward(const torch::Tensor& grad_values, const torch::Tensor& mask,
                                const torch::Tensor& scores, torch::Tensor& grad_gamma,
                                torch::Tensor& grad_beta);

}  // namespace iis::heads
