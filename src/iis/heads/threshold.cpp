// Sparsity rules and the fused CPU kernel that applies them to many heads at once.
#include "iis/heads/threshold.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "iis/core/error.hpp"
#include "iis/core/parallel.hpp"

namespace iis::heads {

ThresholdRule parse_threshold_rule(const std::string& name) {
  if (name == "strict") return ThresholdRule::Strict;
  if (name == "exact") return ThresholdRule::Exact;
  if (name == "soft") return ThresholdRule::Soft;
  IIS_FAIL("--threshold: unknown rule '" << name << "'",
           "valid: strict (the reference), exact, soft");
}

std::string to_string(ThresholdRule rule) {
  switch (rule) {
    case ThresholdRule::Strict:
      return "strict";
    case ThresholdRule::Exact:
      return "exact";
    case ThresholdRule::Soft:
      return "soft";
  }
  return "?";
}

int64_t floor_count(int64_t num_concepts, double ratio) {
  return static_cast<int64_t>(std::floor(static_cast<double>(num_concepts) * ratio));
}

int64_t kept_concepts(int64_t num_concepts, double ratio, ThresholdRule rule) {
  if (rule == ThresholdRule::Exact) {
    return static_cast<int64_t>(std::llround(static_cast<double>(num_concepts) * (1.0 - ratio)));
  }
  return num_concepts - floor_count(num_concepts, ratio) - 1;
}

int64_t smallest_k_keeping_one(const std::vector<double>& ratios, ThresholdRule rule) {
  int64_t smallest = 1;
  for (double r : ratios) {
    // kept_concepts never decreases with K, and every rule keeps at least K·(1 − r) − 1, so
    // K = 2 / (1 − r) keeps one: a bisection below it finds the first K that does.
    int64_t lo = 1, hi = static_cast<int64_t>(std::min(std::ceil(2.0 / (1.0 - r)) + 2, 1e15));
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (kept_concepts(mid, r, rule) >= 1) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    smallest = std::max(smallest, lo);
  }
  return smallest;
}

int64_t threshold_position(int64_t num_concepts, double ratio, ThresholdRule rule) {
  if (rule == ThresholdRule::Exact)
    return num_concepts - kept_concepts(num_concepts, ratio, rule) - 1;
  return floor_count(num_concepts, ratio);
}

// The m-th smallest of a[0..k) (0-based). Looks first in [guess − width, guess + width): one
// pass counts the entries below the bracket and gathers those inside it, so a good guess costs
// one pass plus a selection among a few values. A miss doubles the bracket towards the
// target; without a usable guess, or after too many misses, it selects over everything.
float select_position(const float* a, int64_t k, int64_t m, float guess, float width, float* buf) {
  auto pass = [&](float lo, float hi, float* out, int64_t& below, int64_t& inside) {
    for (int64_t j = 0; j < k; ++j) {
      const float v = a[j];
      below += v < lo;
      out[inside] = v;  // branch-free gather: kept only when v lies in [lo, hi)
      inside += (v >= lo) & (v < hi);
    }
  };
  float t;
  if (select_bracketed(pass, m, guess, width, buf, t)) return t;
  std::copy(a, a + k, buf);
  return small_select(buf, k, m);
}

namespace {

SparseActivations sparsify_cpu(const torch::Tensor& scores, const torch::Tensor& gamma,
                               const torch::Tensor& beta, const std::vector<int64_t>& positions,
                               const std::vector<int64_t>& keep, ThresholdRule rule,
                               const ThresholdHint* hint, SparseActivations* workspace) {
  const int64_t h_count = gamma.size(0), k = gamma.size(1);
  const bool shared = scores.dim() == 2;
  const int64_t b_count = shared ? scores.size(0) : scores.size(1);
  auto z = scores.contiguous();
  auto g = gamma.contiguous(), be = beta.contiguous();
  // Reusing the buffers of the previous batch avoids fresh pages (and their faults) per step.
  SparseActivations out;
  if (workspace != nullptr) out = *workspace;
  auto fit = [](torch::Tensor& t, std::vector<int64_t> shape, torch::ScalarType type) {
    if (!t.defined() || t.sizes() != c10::IntArrayRef(shape)) t = torch::empty(shape, type);
  };
  fit(out.values, {h_count, b_count, k}, torch::kFloat32);
  fit(out.mask, {h_count, b_count, k}, torch::kBool);
  fit(out.threshold, {h_count, b_count}, torch::kFloat32);
  if (workspace != nullptr) *workspace = out;
  const float* zp = z.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  const float* bp = be.data_ptr<float>();
  float* vp = out.values.data_ptr<float>();
  bool* mp = out.mask.data_ptr<bool>();
  float* tp = out.threshold.data_ptr<float>();
  const float* guess = nullptr;
  torch::Tensor guess_c;
  if (hint != nullptr && hint->guess.defined()) {
    guess_c = hint->guess.contiguous();
    guess = guess_c.data_ptr<float>();
  }
  const int64_t head_stride = shared ? 0 : b_count * k;
  core::parallel_for(0, h_count * b_count, /*grain_size=*/32, [&](int64_t begin, int64_t end) {
    std::vector<float> magnitude(k), buf(k);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t h = row / b_count, i = row % b_count;
      const float* zr = zp + h * head_stride + i * k;
      const float* gh = gp + h * k;
      const float* bh = bp + h * k;
      float* y = vp + row * k;
      bool* keep_row = mp + row * k;
      for (int64_t j = 0; j < k; ++j) {
        y[j] = gh[j] * zr[j] + bh[j];
        magnitude[j] = std::fabs(y[j]);
      }
      const int64_t m = positions[h];
      if (m < 0) {
        std::fill(keep_row, keep_row + k, true);
        tp[row] = -1;
        continue;
      }
      const float guess_value = guess != nullptr ? guess[row] : NAN;
      const float width = hint != nullptr ? hint->width[h] : 0.f;
      const float t = select_position(magnitude.data(), k, m, guess_value, width, buf.data());
      tp[row] = t;
      int64_t kept = 0;
      for (int64_t j = 0; j < k; ++j) {
        keep_row[j] = magnitude[j] > t;
        kept += keep_row[j];
      }
      if (rule == ThresholdRule::Exact) {
        // Ties at t: keep the lowest-index tied entries until exactly `keep` survive.
        for (int64_t j = 0; j < k && kept < keep[h]; ++j) {
          if (!keep_row[j] && magnitude[j] == t) {
            keep_row[j] = true;
            ++kept;
          }
        }
      }
      if (rule == ThresholdRule::Soft) {
        for (int64_t j = 0; j < k; ++j) {
          y[j] = keep_row[j] ? std::copysign(magnitude[j] - t, y[j]) : 0.f;
        }
      } else {
        for (int64_t j = 0; j < k; ++j) y[j] = keep_row[j] ? y[j] : 0.f;
      }
    }
  });
  return out;
}

}  // namespace

SparseActivations sparsify_reference(const torch::Tensor& scores, const torch::Tensor& gamma,
                                     const torch::Tensor& beta,
                                     const std::vector<int64_t>& positions,
                                     const std::vector<int64_t>& keep, ThresholdRule rule) {
  const int64_t h_count = gamma.size(0), k = gamma.size(1);
  auto z = scores.dim() == 2 ? scores.unsqueeze(0) : scores;
  auto y = z * gamma.unsqueeze(1) + beta.unsqueeze(1);  // H×B×K
  const int64_t b_count = y.size(1);
  auto magnitude = y.abs();
  auto dev = torch::TensorOptions().dtype(torch::kInt64).device(y.device());
  auto pos = torch::tensor(positions, torch::kInt64).to(y.device());
  auto sorted = std::get<0>(magnitude.sort(-1));
  auto index = pos.clamp_min(0).view({h_count, 1, 1}).expand({h_count, b_count, 1});
  auto t = sorted.gather(-1, index).squeeze(-1);
  t = torch::where(pos.view({h_count, 1}).expand_as(t) < 0, torch::full_like(t, -1), t);
  SparseActivations out;
  out.threshold = t;
  if (rule == ThresholdRule::Exact) {
    // Rank of each entry in descending |y| (stable: ties by index), kept when rank < keep.
    auto order = std::get<1>(magnitude.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/true));
    auto ranks = torch::empty_like(order).scatter_(
        -1, order, torch::arange(k, dev).view({1, 1, k}).expand_as(order).contiguous());
    auto keep_t = torch::tensor(keep, torch::kInt64).to(y.device()).view({h_count, 1, 1});
    out.mask = ranks < keep_t;
  } else {
    out.mask = magnitude > t.unsqueeze(-1);
  }
  if (rule == ThresholdRule::Soft) {
    out.values = torch::sign(y) * (magnitude - t.unsqueeze(-1)) * out.mask;
  } else {
    out.values = y * out.mask;
  }
  return out;
}

SparseActivations sparsify(const torch::Tensor& scores, const torch::Tensor& gamma,
                           const torch::Tensor& beta, const std::vector<int64_t>& positions,
                           const std::vector<int64_t>& keep, ThresholdRule rule,
                           const ThresholdHint* hint, SparseActivations* workspace) {
  IIS_ASSERT(scores.dim() == 2 || scores.dim() == 3, "sparsify: scores must be B×K or H×B×K");
  IIS_ASSERT(static_cast<int64_t>(positions.size()) == gamma.size(0) &&
                 static_cast<int64_t>(keep.size()) == gamma.size(0),
             "sparsify: one position and keep count per head");
  if (scores.device().is_cpu() && scores.scalar_type() == torch::kFloat32) {
    return sparsify_cpu(scores, gamma, beta, positions, keep, rule, hint, workspace);
  }
  return sparsify_reference(scores, gamma, beta, positions, keep, rule);
}

torch::Tensor sparsify_backward(const torch::Tensor& grad_values, const torch::Tensor& mask,
                                const torch::Tensor& scores, torch::Tensor& grad_gamma,
                                torch::Tensor& grad_beta) {
  const int64_t h_count = grad_values.size(0), b_count = grad_values.size(1),
                k = grad_values.size(2);
  const bool shared = scores.dim() == 2;
  if (!grad_values.device().is_cpu()) {
    auto grad_y = grad_values * mask;
    auto z = shared ? scores.unsqueeze(0) : scores;
    grad_gamma.copy_((grad_y * z).sum(1));
    grad_beta.copy_(grad_y.sum(1));
    return grad_y;
  }
  auto grad_y = grad_values.is_contiguous() ? grad_values : grad_values.contiguous();
  auto m = mask.contiguous();
  auto z = scores.contiguous();
  auto gg = torch::empty({h_count, k}, torch::kFloat32);
  auto gb = torch::empty({h_count, k}, torch::kFloat32);
  float* dy = grad_y.data_ptr<float>();
  const bool* mp = m.data_ptr<bool>();
  const float* zp = z.data_ptr<float>();
  float* ggp = gg.data_ptr<float>();
  float* gbp = gb.data_ptr<float>();
  const int64_t head_stride = shared ? 0 : b_count * k;
  // One head per task: the sums over rows run in a fixed order, so results are reproducible.
  core::parallel_for(0, h_count, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc_g(k), acc_b(k);
    for (int64_t h = begin; h < end; ++h) {
      std::fill(acc_g.begin(), acc_g.end(), 0.0);
      std::fill(acc_b.begin(), acc_b.end(), 0.0);
      for (int64_t i = 0; i < b_count; ++i) {
        float* d = dy + (h * b_count + i) * k;
        const bool* keep_row = mp + (h * b_count + i) * k;
        const float* zr = zp + h * head_stride + i * k;
        for (int64_t j = 0; j < k; ++j) {
          const float v = keep_row[j] ? d[j] : 0.f;
          d[j] = v;
          acc_g[j] += v * zr[j];
          acc_b[j] += v;
        }
      }
      for (int64_t j = 0; j < k; ++j) {
        ggp[h * k + j] = static_cast<float>(acc_g[j]);
        gbp[h * k + j] = static_cast<float>(acc_b[j]);
      }
    }
  });
  grad_gamma.copy_(gg);
  grad_beta.copy_(gb);
  return grad_y;
}

}  // namespace iis::heads
