// Proximal SAGA for the elastic-net multinomial logistic regression (saga.hpp).
#include "iis/heads/saga.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/random.hpp"
#include "iis/heads/head_stack.hpp"

namespace iis::heads {

void validate(const SagaOptions& o) {
  IIS_CHECK_HINT(o.alpha >= 0 && o.alpha <= 1, "--saga-alpha " << o.alpha << " is outside [0, 1]",
                 "the L1 share of the elastic net: 1 is the lasso, 0 ridge");
  IIS_CHECK_HINT(o.lambda >= 0 && std::isfinite(o.lambda), "--saga-lambda must be ≥ 0",
                 "the label-free bottleneck uses 0.0007");
  IIS_CHECK_HINT(o.step > 0 && std::isfinite(o.step), "--saga-step must be > 0",
                 "the label-free bottleneck uses 0.1");
  IIS_CHECK_HINT(o.max_epochs >= 1, "--saga-epochs must be ≥ 1", "e.g. 1000");
  IIS_CHECK_HINT(o.tol >= 0, "--saga-tol must be ≥ 0", "0 runs every epoch; e.g. 1e-4");
  IIS_CHECK_HINT(o.batch_size >= 1, "--saga-batch-size must be ≥ 1", "e.g. 256");
}

namespace {

// softmax(x Wᵀ + b) − onehot(y): the residuals whose outer products with x are the gradients.
torch::Tensor residuals(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& w,
                        const torch::Tensor& b) {
  auto r = torch::softmax(torch::addmm(b, x, w.t()), 1);
  const auto rows = torch::arange(y.size(0), y.options());
  r.index_put_({rows, y}, r.index({rows, y}) - 1);
  return r;
}

// The proximal map of η·λ(α‖·‖₁ + (1 − α)/2 ‖·‖²), in place.
void prox_elastic_net(torch::Tensor& w, const SagaOptions& o) {
  const double shrink = o.step * o.lambda * o.alpha;
  const double scale = 1.0 / (1.0 + o.step * o.lambda * (1.0 - o.alpha));
  w.copy_(torch::sign(w) * torch::clamp_min(w.abs() - shrink, 0) * scale);
}

// The solver's state: the iterate, the residual table and its mean gradient.
struct SagaState {
  torch::Tensor w, b;            // C×K, C
  torch::Tensor table;           // N×C: each row's residual when last visited
  torch::Tensor mean_w, mean_b;  // (1/N) Σ table_iᵀ x_i, (1/N) Σ table_i
};

// The table at W = 0, b = 0 (every class 1/C) and its mean gradient.
SagaState start_state(const torch::Tensor& x, const torch::Tensor& y, int64_t num_classes) {
  SagaState s;
  const auto f32 = x.options().dtype(torch::kFloat32);
  s.w = torch::zeros({num_classes, x.size(1)}, f32);
  s.b = torch::zeros({num_classes}, f32);
  s.table = residuals(x, y, s.w, s.b);
  const double n = static_cast<double>(x.size(0));
  s.mean_w = s.table.t().mm(x) / n;
  s.mean_b = s.table.sum(0) / n;
  return s;
}

// One step on the rows `index`.
void saga_step(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& index,
               const SagaOptions& o, SagaState& s) {
  const auto xb = x.index_select(0, index);
  const auto r = residuals(xb, y.index_select(0, index), s.w, s.b);
  const auto d = r - s.table.index_select(0, index);
  const auto dw = d.t().mm(xb);
  const auto db = d.sum(0);
  const double batch = static_cast<double>(index.size(0));
  const double n = static_cast<double>(x.size(0));
  s.w.sub_(o.step * (dw / batch + s.mean_w));
  prox_elastic_net(s.w, o);
  s.b.sub_(o.step * (db / batch + s.mean_b));
  s.mean_w.add_(dw / n);
  s.mean_b.add_(db / n);
  s.table.index_copy_(0, index, r);
}

// One pass over the rows in a seeded order.
void saga_epoch(const torch::Tensor& x, const torch::Tensor& y, const SagaOptions& o, int64_t epoch,
                SagaState& s) {
  core::SeededRandom rng(o.seed, "saga batches", static_cast<uint64_t>(epoch));
  const auto order = rng.permutation(x.size(0), core::IndexMap::Exact);
  const auto order_t = torch::tensor(order, torch::kInt64).to(x.device());
  for (int64_t start = 0; start < x.size(0); start += o.batch_size) {
    const int64_t end = std::min(x.size(0), start + o.batch_size);
    saga_step(x, y, order_t.slice(0, start, end), o, s);
  }
  // The running mean drifts by rounding over many steps; recompute it from the table.
  const double n = static_cast<double>(x.size(0));
  s.mean_w = s.table.t().mm(x) / n;
  s.mean_b = s.table.sum(0) / n;
}

double relative_change(const SagaState& s, const torch::Tensor& w0, const torch::Tensor& b0) {
  const double change =
      std::sqrt((s.w - w0).pow(2).sum().item<double>() + (s.b - b0).pow(2).sum().item<double>());
  const double norm = std::sqrt(s.w.pow(2).sum().item<double>() + s.b.pow(2).sum().item<double>());
  return norm > 0 ? change / norm : change;
}

}  // namespace

double elastic_net_objective(const torch::Tensor& x, const torch::Tensor& y,
                             const torch::Tensor& weight, const torch::Tensor& bias,
                             const SagaOptions& o) {
  const auto w = weight.to(torch::kFloat64);
  const auto logits = torch::addmm(bias.to(torch::kFloat64), x.to(torch::kFloat64), w.t());
  const double ce = torch::nll_loss(torch::log_softmax(logits, 1), y).item<double>();
  const double l1 = w.abs().sum().item<double>();
  const double l2 = w.pow(2).sum().item<double>();
  return ce + o.lambda * (o.alpha * l1 + 0.5 * (1.0 - o.alpha) * l2);
}

std::pair<torch::Tensor, torch::Tensor> cross_entropy_gradient(const torch::Tensor& x,
                                                               const torch::Tensor& y,
                                                               const torch::Tensor& weight,
                                                               const torch::Tensor& bias) {
  const auto xd = x.to(torch::kFloat64);
  const auto r = residuals(xd, y, weight.to(torch::kFloat64), bias.to(torch::kFloat64));
  const double n = static_cast<double>(x.size(0));
  return {r.t().mm(xd) / n, r.sum(0) / n};
}

SagaFit elastic_net_saga(const torch::Tensor& x, const torch::Tensor& y, int64_t num_classes,
                         const SagaOptions& o, const SagaEpochHook& on_epoch) {
  validate(o);
  IIS_ASSERT(x.dim() == 2 && y.dim() == 1 && x.size(0) == y.size(0) && x.size(0) > 0,
             "rows and labels of the SAGA solve");
  const auto xc = x.to(torch::kFloat32).contiguous();
  const auto yc = y.to(x.device(), torch::kInt64).contiguous();
  SagaState s = start_state(xc, yc, num_classes);
  SagaFit fit;
  const double start_objective = std::log(static_cast<double>(num_classes));
  for (int64_t epoch = 1; epoch <= o.max_epochs && !fit.converged; ++epoch) {
    const auto w0 = s.w.clone(), b0 = s.b.clone();
    saga_epoch(xc, yc, o, epoch, s);
    fit.epochs = epoch;
    fit.objective = elastic_net_objective(xc, yc, s.w, s.b, o);
    // A step too large for the features makes the iterates swing ever wider: the objective
    // then climbs far above its value at the start, F(0, 0) = log C.
    IIS_CHECK_HINT(std::isfinite(fit.objective) && fit.objective < 100 * start_objective,
                   "the SAGA solve diverged at epoch " << epoch << " (step " << o.step << ")",
                   "lower --saga-step");
    fit.converged = relative_change(s, w0, b0) < o.tol;
    if (on_epoch) on_epoch(epoch, fit.objective, s.w, s.b);
  }
  fit.weight = s.w.to(torch::kCPU);
  fit.bias = s.b.to(torch::kCPU);
  fit.nonzero_share = s.w.ne(0).to(torch::kFloat64).mean().item<double>();
  return fit;
}

namespace {

// ŷ of every row at `ratio`: y = z (γ = 1, β = 0), then the rule's mask.
torch::Tensor masked_scores(const torch::Tensor& z, double ratio, ThresholdRule rule) {
  const int64_t k = z.size(1);
  const auto a =
      sparsify(z, torch::ones({1, k}, z.options()), torch::zeros({1, k}, z.options()),
               {threshold_position(k, ratio, rule)}, {kept_concepts(k, ratio, rule)}, rule);
  return a.values[0].clone();
}

// Validation top-1 and top-5 of the linear layer (w, b) on rows x, counted as the joint heads
// count them (logit_hits).
EpochRecord evaluate(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& w,
                     const torch::Tensor& b, double objective) {
  const auto [top1, top5] = logit_hits(torch::addmm(b, x, w.t()).unsqueeze(0), y);
  const double n = static_cast<double>(y.size(0));
  EpochRecord e;
  e.train_loss = objective;
  e.val_top1 = static_cast<double>(top1[0].item<int64_t>()) / n;
  e.val_top5 = static_cast<double>(top5[0].item<int64_t>()) / n;
  e.holdout_top1 = NAN;
  return e;
}

// All rows' scores of one split, on the labels' device.
torch::Tensor all_scores(ConceptScores& scores, const torch::Tensor& labels, bool train) {
  const auto index = torch::arange(labels.size(0), labels.options());
  const auto z = train ? scores.train_scores(index) : scores.val_scores(index);
  IIS_ASSERT(z.dim() == 2, "SAGA heads need scores shared by every head");
  return z.to(torch::kFloat32).contiguous();
}

// "r 0.5: 585 epochs, converged; 62.5 % of the weights not zero", for the log.
std::string describe(double ratio, const SagaFit& fit) {
  std::ostringstream line;
  line << "SAGA r " << ratio << ": " << fit.epochs << " epochs, "
       << (fit.converged ? "converged" : "stopped before --saga-tol (raise --saga-epochs)") << "; "
       << std::fixed << std::setprecision(1) << 100 * fit.nonzero_share
       << " % of the weights not zero";
  return line.str();
}

}  // namespace

std::vector<HeadOutcome> saga_heads(const TrainSplits& splits, ConceptScores& scores,
                                    const std::vector<double>& ratios, ThresholdRule rule,
                                    const SagaOptions& options, const std::string& stage,
                                    std::vector<SagaFit>* fits) {
  const auto &y = splits.train_labels, &yv = splits.val_labels;
  const auto z = all_scores(scores, y, true), zv = all_scores(scores, yv, false);
  const int64_t k = z.size(1);
  std::vector<HeadOutcome> heads;
  core::Progress progress(stage, static_cast<int64_t>(ratios.size()), "ratios");
  for (double ratio : ratios) {
    const auto x = masked_scores(z, ratio, rule), xv = masked_scores(zv, ratio, rule);
    HeadOutcome h;
    h.ratio = ratio;
    h.lr = options.step;
    h.kept = kept_concepts(k, ratio, rule);
    const auto fit = elastic_net_saga(
        x, y, splits.num_classes, options,
        [&](int64_t epoch, double f, const torch::Tensor& w, const torch::Tensor& b) {
          h.epochs.push_back(evaluate(xv, yv, w, b, f));
          progress.set_status("r " + std::to_string(ratio).substr(0, 4) + ", epoch " +
                              std::to_string(epoch));
        });
    h.epoch = h.top5_epoch = fit.epochs;
    h.top1 = h.select_top1 = h.epochs.back().val_top1;
    h.top5 = h.epochs.back().val_top5;
    h.params = {torch::ones({k}), torch::zeros({k}), fit.weight, fit.bias};
    core::log_info(describe(ratio, fit));
    heads.push_back(std::move(h));
    if (fits) fits->push_back(fit);
    progress.advance();
  }
  progress.finish();
  return heads;
}

}  // namespace iis::heads
