// Adam's step on tensors and its fused CPU pass (adam.hpp).
#include "iis/core/adam.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "iis/core/parallel.hpp"

namespace iis::core {

AdamBiasCorrection::AdamBiasCorrection(int64_t step)
    : first(1.0 - std::pow(kAdamBeta1, static_cast<double>(step))),
      second(1.0 - std::pow(kAdamBeta2, static_cast<double>(step))) {}

void adam_update(torch::Tensor& param, const torch::Tensor& grad, torch::Tensor& avg,
                 torch::Tensor& sq, const torch::Tensor& lr, double lr_scale,
                 const AdamBiasCorrection& bc) {
  avg.mul_(kAdamBeta1).add_(grad, 1.0 - kAdamBeta1);
  sq.mul_(kAdamBeta2).addcmul_(grad, grad, 1.0 - kAdamBeta2);
  auto denom = (sq.sqrt() / std::sqrt(bc.second)).add_(kAdamEps);
  param.addcdiv_(avg * lr, denom, -lr_scale / bc.first);
}

void adam_update_fused_cpu(torch::Tensor& param, const torch::Tensor& grad, torch::Tensor& avg,
                           torch::Tensor& sq, const std::vector<double>& lr, double lr_scale,
                           const AdamBiasCorrection& bc) {
  const int64_t n = param.numel(), per_head = n / static_cast<int64_t>(lr.size());
  float* p = param.data_ptr<float>();
  const float* g = grad.data_ptr<float>();
  float* m = avg.data_ptr<float>();
  float* v = sq.data_ptr<float>();
  const float b1 = static_cast<float>(kAdamBeta1), b2 = static_cast<float>(kAdamBeta2);
  const float eps = static_cast<float>(kAdamEps);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc.second));
  parallel_for(0, n, 16384, [&](int64_t begin, int64_t end) {
    // Head by head, so the step size is computed once per head and the loop vectorises.
    for (int64_t lo = begin; lo < end;) {
      const int64_t head = lo / per_head;
      const int64_t hi = std::min(end, (head + 1) * per_head);
      const float step = static_cast<float>(lr[static_cast<size_t>(head)] * lr_scale / bc.first);
      for (int64_t i = lo; i < hi; ++i) {
        m[i] = m[i] * b1 + g[i] * (1.0f - b1);
        v[i] = v[i] * b2 + g[i] * g[i] * (1.0f - b2);
        p[i] -= step * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
      }
      lo = hi;
    }
  });
}

}  // namespace iis::core
