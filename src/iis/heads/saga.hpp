// The label-free concept bottleneck's sparse final layer (docs/design.md §5): a multinomial
// logistic regression with an elastic-net penalty, solved by proximal SAGA.
//
//   minimise  F(W, b) = (1/N) Σ_i CE(W x_i + b, y_i) + λ (α ‖W‖₁ + (1 − α)/2 ‖W‖²)
//
// (the bias is not penalised). SAGA keeps, per row, the residual r_i = softmax(W x_i + b) − e_yi
// of the last time the row was visited — the row's gradient is r_i x_iᵀ, so N×C numbers stand
// for N gradients — and their running mean ḡ. One step on a batch B of rows:
//   d_i = r_i(new) − r_i(table)                      for i in B
//   G   = (1/|B|) Σ_B d_i x_iᵀ + ḡ                   (an unbiased, variance-reduced gradient)
//   W  ← prox(W − η G),  b ← b − η (mean_B d_i + ḡ_b)
//   prox(w) = sign(w) max(|w| − ηλα, 0) / (1 + ηλ(1 − α))
//   ḡ  += (1/N) Σ_B d_i x_iᵀ,  table ← r(new)
// Batches are a seeded permutation of the rows each epoch. It stops when an epoch changes
// (W, b) by less than tol relative to their norm, or after max_epochs.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "iis/heads/threshold.hpp"
#include "iis/heads/train.hpp"

namespace iis::heads {

struct SagaOptions {
  double alpha = 0.99;        // the L1 share of the penalty
  double lambda = 0.0007;     // the penalty's weight λ
  double step = 0.1;          // η
  int64_t max_epochs = 1000;  // passes over the rows
  double tol = 1e-4;          // relative change of (W, b) over an epoch that ends the solve
  int64_t batch_size = 256;   // rows per step
  uint64_t seed = 0;          // the batches' order
};

// Throws iis::Error naming the flag (--saga-*) and its valid range.
void validate(const SagaOptions& options);

struct SagaFit {
  torch::Tensor weight;  // C×K float32 CPU
  torch::Tensor bias;    // C
  int64_t epochs = 0;    // epochs run
  bool converged = false;
  double objective = 0;      // F at the result
  double nonzero_share = 0;  // share of the entries of W that are not 0
};

// Called after every epoch with the epoch (1-based), F, and the current W and b.
using SagaEpochHook = std::function<void(int64_t epoch, double objective,
                                         const torch::Tensor& weight, const torch::Tensor& bias)>;

// Solves the problem of the header for rows `x` (N×K float32) and labels `y` (N int64 in
// [0, C)), starting from W = 0, b = 0. Throws iis::Error when the iterates stop being finite
// (the step is too large for these features).
SagaFit elastic_net_saga(const torch::Tensor& x, const torch::Tensor& y, int64_t num_classes,
                         const SagaOptions& options, const SagaEpochHook& on_epoch = {});

// F(W, b) of the header, in double precision.
double elastic_net_objective(const torch::Tensor& x, const torch::Tensor& y,
                             const torch::Tensor& weight, const torch::Tensor& bias,
                             const SagaOptions& options);

// The gradient of the smooth part of F, (1/N) Σ r_i x_iᵀ (C×K) and (1/N) Σ r_i (C), in double
// precision: what optimality is checked against.
std::pair<torch::Tensor, torch::Tensor> cross_entropy_gradient(const torch::Tensor& x,
                                                               const torch::Tensor& y,
                                                               const torch::Tensor& weight,
                                                               const torch::Tensor& bias);

// The interpretable heads solved by SAGA instead of trained jointly: per ratio, y = z (γ = 1,
// β = 0: the scores are already standardised), the rule's mask at that ratio, then the
// elastic-net layer on the masked scores of every training row. One outcome per ratio, with
// the objective as train_loss and the validation accuracy of every epoch; the reported epoch is
// the last (the solution; nothing is picked on validation). `fits` (optional) receives each
// ratio's solve.
std::vector<HeadOutcome> saga_heads(const TrainSplits& splits, ConceptScores& scores,
                                    const std::vector<double>& ratios, ThresholdRule rule,
                                    const SagaOptions& options, const std::string& stage,
                                    std::vector<SagaFit>* fits = nullptr);

}  // namespace iis::heads
