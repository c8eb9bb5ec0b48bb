// Batched standard and interpretable heads with explicit gradients and one Adam step over a
// flat buffer of all their parameters.
#include "iis/heads/head_stack.hpp"

#include <torch/torch.h>

#include <cmath>

#include "iis/core/adam.hpp"
#include "iis/core/error.hpp"
#include "iis/core/random.hpp"

namespace iis::heads {

namespace {

constexpr double kInitStd = 0.02;

// Views of a flat buffer laid out as γ (H×K), β (H×K), W (H×C×F), b (H×C).
struct Views {
  torch::Tensor gamma, beta, weight, bias;
};

Views carve(const torch::Tensor& flat, const HeadStackConfig& c) {
  const int64_t h = c.num_heads, f = c.in_features, k = c.interpretable ? f : 0;
  Views v;
  int64_t offset = 0;
  if (c.interpretable) {
    v.gamma = flat.narrow(0, offset, h * k).view({h, k});
    offset += h * k;
    v.beta = flat.narrow(0, offset, h * k).view({h, k});
    offset += h * k;
  }
  v.weight = flat.narrow(0, offset, h * c.num_classes * f).view({h, c.num_classes, f});
  offset += h * c.num_classes * f;
  v.bias = flat.narrow(0, offset, h * c.num_classes).view({h, c.num_classes});
  return v;
}

int64_t flat_size(const HeadStackConfig& c) {
  const int64_t per_head =
      (c.interpretable ? 2 * c.in_features : 0) + c.num_classes * c.in_features + c.num_classes;
  return c.num_heads * per_head;
}

}  // namespace

HeadStack::HeadStack(HeadStackConfig config, torch::Device device, uint64_t init_seed)
    : config_(std::move(config)) {
  const auto& c = config_;
  IIS_ASSERT(static_cast<int64_t>(c.lrs.size()) == c.num_heads, "HeadStack: one lr per head");
  if (c.interpretable) {
    IIS_ASSERT(static_cast<int64_t>(c.positions.size()) == c.num_heads &&
                   static_cast<int64_t>(c.keep.size()) == c.num_heads,
               "HeadStack: one threshold position and keep count per head");
  }
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const int64_t n = flat_size(c);
  params_ = torch::zeros({n}, opts);
  grads_ = torch::zeros({n}, opts);
  exp_avg_ = torch::zeros({n}, opts);
  exp_avg_sq_ = torch::zeros({n}, opts);
  auto v = carve(params_, c);
  gamma = v.gamma;
  beta = v.beta;
  weight = v.weight;
  bias = v.bias;
  auto g = carve(grads_, c);
  grad_gamma_ = g.gamma;
  grad_beta_ = g.beta;
  grad_weight_ = g.weight;
  grad_bias_ = g.bias;
  if (c.interpretable) gamma.fill_(1.0);
  auto w0 = core::truncated_normal({c.num_classes, c.in_features}, kInitStd, init_seed).to(device);
  weight.copy_(w0.unsqueeze(0).expand_as(weight));
  // Per-element learning rate, so one set of flat operations updates heads with different lrs.
  auto lr_cpu = torch::empty({n}, torch::kFloat32);
  auto lv = carve(lr_cpu, c);
  for (int64_t h = 0; h < c.num_heads; ++h) {
    const auto lr = static_cast<float>(c.lrs[h]);
    if (c.interpretable) {
      lv.gamma[h].fill_(lr);
      lv.beta[h].fill_(lr);
    }
    lv.weight[h].fill_(lr);
    lv.bias[h].fill_(lr);
  }
  lr_ = lr_cpu.to(device);
}

HeadPass HeadStack::forward(const torch::Tensor& input, const ThresholdHint* hint) const {
  const auto& c = config_;
  const int64_t h = c.num_heads;
  HeadPass pass;
  pass.input = input;
  if (c.interpretable) {
    auto sparse = sparsify(input, gamma, beta, c.positions, c.keep, c.rule, hint,
                           input.device().is_cpu() ? &sparse_buffers_ : nullptr);
    pass.hidden = sparse.values;
    pass.mask = sparse.mask;
    pass.threshold = sparse.threshold;
  } else {
    pass.hidden = input;
  }
  if (pass.hidden.dim() == 2) {
    // Shared input: one B×F · F×(H·C) product instead of H small ones.
    const int64_t b = pass.hidden.size(0);
    auto flat = torch::mm(pass.hidden, weight.view({h * c.num_classes, c.in_features}).t());
    pass.logits =
        (flat.view({b, h, c.num_classes}).permute({1, 0, 2}) + bias.unsqueeze(1)).contiguous();
  } else {
    const int64_t b = pass.hidden.size(1);
    if (!logits_buffer_.defined() || logits_buffer_.size(1) != b ||
        logits_buffer_.device() != pass.hidden.device()) {
      logits_buffer_ = torch::empty({h, b, c.num_classes}, pass.hidden.options());
    }
    torch::baddbmm_out(logits_buffer_, bias.unsqueeze(1), pass.hidden, weight.transpose(1, 2));
    pass.logits = logits_buffer_;
  }
  return pass;
}

torch::Tensor HeadStack::backward(const HeadPass& pass, const torch::Tensor& labels,
                                  torch::Tensor* grad_input) {
  const auto& c = config_;
  const int64_t h = c.num_heads, b = pass.logits.size(1);
  // log-softmax in place (the logits are not needed afterwards).
  auto log_p = pass.logits.sub_(pass.logits.logsumexp(/*dim=*/-1, /*keepdim=*/true));
  auto index = labels.view({1, b, 1}).expand({h, b, 1});
  auto loss = -log_p.gather(-1, index).squeeze(-1).mean(1);
  // dL/dlogits = (softmax − onehot) / B.
  auto grad = log_p.exp_();
  grad.scatter_add_(-1, index, torch::full({h, b, 1}, -1.0f, grad.options()));
  grad.mul_(1.0 / static_cast<double>(b));
  torch::sum_out(grad_bias_, grad, /*dim=*/{1});
  if (pass.hidden.dim() == 2) {
    auto g2 = grad.permute({1, 0, 2}).reshape({b, h * c.num_classes});
    auto grad_weight_2d = grad_weight_.view({h * c.num_classes, c.in_features});
    torch::mm_out(grad_weight_2d, g2.t(), pass.hidden);
  } else {
    torch::bmm_out(grad_weight_, grad.transpose(1, 2), pass.hidden);
  }
  if (c.interpretable || grad_input != nullptr) {
    const int64_t f = c.in_features;
    if (!grad_hidden_buffer_.defined() || grad_hidden_buffer_.size(1) != b ||
        grad_hidden_buffer_.device() != grad.device()) {
      grad_hidden_buffer_ = torch::empty({h, b, f}, grad.options());
    }
    auto grad_hidden = torch::bmm_out(grad_hidden_buffer_, grad, weight);  // H×B×F
    if (c.interpretable) {
      auto grad_y = sparsify_backward(grad_hidden, pass.mask, pass.input, grad_gamma_, grad_beta_);
      if (grad_input != nullptr) {
        // y = γ ⊙ z + β, so dL/dz = γ ⊙ dL/dy, summed over heads when z is shared.
        auto gz = grad_y * gamma.unsqueeze(1);
        *grad_input = pass.input.dim() == 2 ? gz.sum(0) : gz;
      }
    } else if (grad_input != nullptr) {
      *grad_input = pass.input.dim() == 2 ? grad_hidden.sum(0) : grad_hidden;
    }
  }
  return loss;
}

bool HeadStack::use_sparse_kernel(const torch::Tensor& input) const {
  return config_.interpretable && sparse_heads_apply(input.device(), config_.num_classes) &&
         input.scalar_type() == torch::kFloat32 && params_.device().is_cpu();
}

SparseHeads HeadStack::sparse_heads() const {
  SparseHeads s;
  s.gamma = gamma;
  s.beta = beta;
  s.weight = weight;
  s.bias = bias;
  s.positions = config_.positions;
  s.keep = config_.keep;
  s.rule = config_.rule;
  return s;
}

torch::Tensor HeadStack::train_step(const torch::Tensor& input, const torch::Tensor& labels,
                                    const ThresholdHint* hint, torch::Tensor* threshold,
                                    torch::Tensor* grad_input) {
  if (use_sparse_kernel(input)) {
    SparseHeadsGrads g;
    g.gamma = grad_gamma_;
    g.beta = grad_beta_;
    g.weight = grad_weight_;
    g.bias = grad_bias_;
    g.scores = grad_input;
    torch::Tensor t;
    auto loss = sparse_heads_step(sparse_heads(), input, labels.to(torch::kCPU), hint, g, t,
                                  sparse_workspace_);
    if (threshold != nullptr) *threshold = t;
    return loss;
  }
  auto pass = forward(input, hint);
  if (threshold != nullptr) *threshold = pass.threshold;
  return backward(pass, labels, grad_input);
}

std::pair<torch::Tensor, torch::Tensor> HeadStack::hits(const torch::Tensor& input,
                                                        const torch::Tensor& labels,
                                                        const ThresholdHint* hint,
                                                        torch::Tensor* threshold,
                                                        torch::Tensor* logits) const {
  if (use_sparse_kernel(input)) {
    torch::Tensor t;
    auto counts = sparse_heads_hits(sparse_heads(), input, labels.to(torch::kCPU), hint, t,
                                    sparse_workspace_, logits);
    if (threshold != nullptr) *threshold = t;
    return {torch::tensor(counts.top1, torch::kInt64), torch::tensor(counts.top5, torch::kInt64)};
  }
  auto pass = forward(input, hint);
  if (threshold != nullptr) *threshold = pass.threshold;
  if (logits != nullptr) *logits = pass.logits.clone();
  return logit_hits(pass.logits, labels);
}

std::pair<torch::Tensor, torch::Tensor> logit_hits(const torch::Tensor& logits,
                                                   const torch::Tensor& labels) {
  const int64_t h = logits.size(0), b = logits.size(1), c = logits.size(2);
  auto label = labels.to(logits.device(), torch::kInt64).view({1, b, 1});
  auto target = logits.gather(-1, label.expand({h, b, 1}));
  // Class j ranks before the label t when its logit is larger, or equal and j < t. NaN is the
  // largest value and equal to itself, as argmax treats it. (topk would leave the order of
  // tied logits unspecified, and a head whose logits all tie would hit on every row.)
  auto earlier = torch::arange(c, label.options()).view({1, 1, c}) < label;
  auto nan = logits.isnan(), target_nan = target.isnan();
  auto larger = (logits > target) | (nan & target_nan.logical_not());
  auto equal = (logits == target) | (nan & target_nan);
  auto before = (larger | (equal & earlier)).sum(-1);  // H×B
  return {(before == 0).sum(1), (before < 5).sum(1)};
}

void HeadStack::adam_step(double lr_scale) {
  ++step_;
  core::adam_update(params_, grads_, exp_avg_, exp_avg_sq_, lr_, lr_scale,
                    core::AdamBiasCorrection(step_));
}

HeadParams HeadStack::head(int64_t h) const {
  HeadParams p;
  if (config_.interpretable) {
    p.gamma = gamma[h].to(torch::kCPU).clone();
    p.beta = beta[h].to(torch::kCPU).clone();
  }
  p.weight = weight[h].to(torch::kCPU).clone();
  p.bias = bias[h].to(torch::kCPU).clone();
  return p;
}

void HeadStack::set_head(int64_t h, const HeadParams& p) {
  if (config_.interpretable) {
    gamma[h].copy_(p.gamma);
    beta[h].copy_(p.beta);
  }
  weight[h].copy_(p.weight);
  bias[h].copy_(p.bias);
}

}  // namespace iis::heads
