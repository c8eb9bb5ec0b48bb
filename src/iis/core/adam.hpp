// Adam, the optimiser of the heads, the end2end assignments and the native backbones: its
// constants (torch.optim.Adam's defaults, which the reference trains with) and its step.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace iis::core {

constexpr double kAdamBeta1 = 0.9;
constexpr double kAdamBeta2 = 0.999;
constexpr double kAdamEps = 1e-8;

// The bias corrections of step t (1-based): 1 − β1^t and 1 − β2^t.
struct AdamBiasCorrection {
  explicit AdamBiasCorrection(int64_t step);
  double first, second;
};

// One Adam step in place, torch.optim.Adam's formula and order of operations:
//   avg ← β1·avg + (1 − β1)·g,  sq ← β2·sq + (1 − β2)·g²,
//   param ← param − (lr_scale / bc.first) · (avg · lr) / (√sq / √bc.second + ε).
// `lr` broadcasts against param (one rate per element, or per head as H×1×…). Float32 tensors
// on one device.
void adam_update(torch::Tensor& param, const torch::Tensor& grad, torch::Tensor& avg,
                 torch::Tensor& sq, const torch::Tensor& lr, double lr_scale,
                 const AdamBiasCorrection& bc);

// The same step in one fused pass over contiguous CPU float32 tensors whose leading dimension
// is the head: lr[h] · lr_scale applies to the h-th of lr.size() equal slices. It computes in
// float32 with the β's rounded to float and no temporaries, so its last bits differ from
// adam_update's: the end2end assignments on the CPU have always been trained with this one.
void adam_update_fused_cpu(torch::Tensor& param, const torch::Tensor& grad, torch::Tensor& avg,
                           torch::Tensor& sq, const std::vector<double>& lr, double lr_scale,
                           const AdamBiasCorrection& bc);

}  // namespace iis::core
