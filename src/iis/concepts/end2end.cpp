// End-to-end concepts: hard Gumbel-softmax assignment with explicit straight-through gradients.
#include "iis/concepts/end2end.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

#include "iis/core/error.hpp"
#include "iis/heads/random.hpp"

namespace iis::concepts {

namespace {

constexpr double kLayerNormEps = 1e-5;  // nn.LayerNorm's default, as the heads use
constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kAdamEps = 1e-8;

uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Sum of the elements assigned to each concept, per head, and its L2 norm.
// index: H×M int64 (elements' device); elements: M×D. Returns S: (H·K)×D and norm (H·K)×1.
std::pair<torch::Tensor, torch::Tensor> concept_sums(const torch::Tensor& elements,
                                                     const torch::Tensor& index, int64_t k) {
  const int64_t h = index.size(0), m = elements.size(0), d = elements.size(1);
  auto offset = torch::arange(h, index.options()).mul_(k).unsqueeze(1);
  auto flat = (index + offset).reshape({h * m});
  auto sums = torch::zeros({h * k, d}, elements.options());
  sums.index_add_(0, flat, elements.unsqueeze(0).expand({h, m, d}).reshape({h * m, d}));
  auto norm = sums.norm(2, /*dim=*/1, /*keepdim=*/true);
  return {sums, norm};
}

}  // namespace

void validate(const End2EndOptions& o) {
  IIS_CHECK_HINT(o.num_concepts >= 1, "--num-concepts must be ≥ 1, got " << o.num_concepts,
                 "the reference uses 200");
  IIS_CHECK_HINT(o.temperature > 0 && std::isfinite(o.temperature),
                 "--temperature must be a positive number, got " << o.temperature,
                 "the reference uses --temperature 0.1");
  IIS_CHECK_HINT(o.init_std > 0 && std::isfinite(o.init_std),
                 "end2end initial std must be positive, got " << o.init_std,
                 "the reference uses 0.02");
}

float uniform_open01(uint64_t bits) {
  // (j + 0.5)·2⁻²³ for a 23-bit j needs 24 significant bits: exact in float32, in
  // [2⁻²⁴, 1 − 2⁻²⁴]. (24 bits of j would round the largest draw up to 1.0, whose Gumbel
  // value is +∞ and turns the whole assignment into NaN.)
  return (static_cast<float>(bits >> 41) + 0.5f) * 0x1.0p-23f;
}

torch::Tensor gumbel_noise(const std::vector<int64_t>& shape, uint64_t seed) {
  auto u = torch::empty(shape, torch::kFloat32);
  float* p = u.data_ptr<float>();
  const int64_t n = u.numel();
  at::parallel_for(0, n, /*grain_size=*/32768, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      // The i-th output of a splitmix64 stream started at `seed`.
      p[i] =
          uniform_open01(splitmix64(seed + static_cast<uint64_t>(i + 1) * 0x9e3779b97f4a7c15ULL));
    }
  });
  return u.log_().neg_().log_().neg_();
}

End2EndScores::End2EndScores(const torch::Tensor& elements, torch::Tensor train_features,
                             torch::Tensor val_features, std::vector<double> head_lrs,
                             const End2EndOptions& options)
    : options_(options), train_x_(std::move(train_features)), val_x_(std::move(val_features)) {
  validate(options_);
  IIS_CHECK_HINT(elements.defined() && elements.dim() == 2 && elements.size(0) > 0,
                 "end2end concepts: the element set is empty",
                 "pass element vectors (M×D, M ≥ --num-concepts) with --concepts");
  m_ = elements.size(0);
  d_ = elements.size(1);
  k_ = options_.num_concepts;
  h_ = static_cast<int64_t>(head_lrs.size());
  IIS_CHECK_HINT(k_ <= m_,
                 "--num-concepts " << k_ << " is more than the " << m_ << " elements to assign",
                 "pass --num-concepts " << m_ << " or fewer, or more element vectors");
  IIS_CHECK(h_ >= 1, "end2end concepts: no heads to train (give at least one ratio and lr)");
  IIS_CHECK_HINT(
      train_x_.dim() == 2 && train_x_.size(1) == d_ && val_x_.dim() == 2 && val_x_.size(1) == d_,
      "end2end concepts: the features do not have the elements' dimension " << d_,
      "elements and features must come from the same backbone layer");
  const auto device = train_x_.device();
  auto e = elements.to(device, torch::kFloat32);
  elements_ = (e / e.norm(2, /*dim=*/1, /*keepdim=*/true).clamp_min(1e-12)).contiguous();
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  // The same draw for every head, as the heads' weights and separate runs of one seed share.
  auto q0 = heads::truncated_normal({m_, k_}, options_.init_std,
                                    heads::derive_seed(options_.seed, "end2end-init"));
  q_ = q0.to(device).unsqueeze(0).repeat({h_, 1, 1});
  gamma_ = torch::ones({h_, k_}, opts);
  beta_ = torch::zeros({h_, k_}, opts);
  lr_ = torch::tensor(head_lrs, torch::kFloat64).to(opts);
  grad_q_ = torch::zeros_like(q_);
  grad_gamma_ = torch::zeros_like(gamma_);
  grad_beta_ = torch::zeros_like(beta_);
  avg_q_ = torch::zeros_like(q_);
  sq_q_ = torch::zeros_like(q_);
  avg_gamma_ = torch::zeros_like(gamma_);
  sq_gamma_ = torch::zeros_like(gamma_);
  avg_beta_ = torch::zeros_like(beta_);
  sq_beta_ = torch::zeros_like(beta_);
}

torch::Tensor End2EndScores::logits() const {
  return torch::layer_norm(q_, {k_}, {}, {}, kLayerNormEps) * gamma_.unsqueeze(1) +
         beta_.unsqueeze(1);
}

torch::Tensor End2EndScores::build_concepts(const torch::Tensor& index) const {
  auto [sums, norm] = concept_sums(elements_, index, k_);
  return (sums / norm.clamp_min(1e-12)).view({h_, k_, d_});
}

torch::Tensor End2EndScores::scores(const torch::Tensor& x, const torch::Tensor& p) const {
  const int64_t b = x.size(0);
  auto a = torch::mm(x, p.view({h_ * k_, d_}).t()).view({b, h_, k_}).permute({1, 0, 2});
  return torch::layer_norm(a, {k_}, {}, {}, kLayerNormEps);
}

const torch::Tensor& End2EndScores::eval_concepts() {
  if (!eval_p_.defined()) {
    torch::NoGradGuard no_grad;
    eval_p_ = build_concepts(logits().argmax(-1));
  }
  return eval_p_;
}

torch::Tensor End2EndScores::train_scores(const torch::Tensor& index) {
  torch::NoGradGuard no_grad;
  noise_ =
      gumbel_noise({m_, k_}, heads::derive_seed(options_.seed, "gumbel", draws_++)).to(q_.device());
  auto mean = q_.mean(-1, /*keepdim=*/true);
  auto var = q_.var(-1, /*unbiased=*/false, /*keepdim=*/true);
  rstd_q_ = (var + kLayerNormEps).rsqrt_();
  qhat_ = (q_ - mean) * rstd_q_;
  auto u = (qhat_ * gamma_.unsqueeze(1) + beta_.unsqueeze(1) + noise_.unsqueeze(0))
               .div_(options_.temperature);
  index_ = u.argmax(-1);
  soft_ = torch::softmax(u, -1);
  auto [sums, norm] = concept_sums(elements_, index_, k_);
  norm_ = norm;
  p_ = sums / norm.clamp_min(1e-12);  // (H·K)×D
  x_ = train_x_.index_select(0, index);
  const int64_t b = x_.size(0);
  auto a = torch::mm(x_, p_.t()).view({b, h_, k_}).permute({1, 0, 2});
  auto a_mean = a.mean(-1, /*keepdim=*/true);
  auto a_var = a.var(-1, /*unbiased=*/false, /*keepdim=*/true);
  rstd_a_ = (a_var + kLayerNormEps).rsqrt_();
  z_ = (a - a_mean) * rstd_a_;
  return z_;
}

torch::Tensor End2EndScores::val_scores(const torch::Tensor& index) {
  torch::NoGradGuard no_grad;
  return scores(val_x_.index_select(0, index), eval_concepts());
}

torch::Tensor End2EndScores::eval_train_scores(const torch::Tensor& index) {
  torch::NoGradGuard no_grad;
  return scores(train_x_.index_select(0, index), eval_concepts());
}

void End2EndScores::backward(const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(z_.defined() && grad.sizes() == z_.sizes(),
              "End2EndScores::backward: the gradient does not match the last train_scores()");
  const int64_t b = x_.size(0);
  // Through the parameter-free LayerNorm over K.
  auto da = rstd_a_ *
            (grad - grad.mean(-1, /*keepdim=*/true) - z_ * (grad * z_).mean(-1, /*keepdim=*/true));
  // a = x Pᵀ for all heads at once: dP = daᵀ x, (H·K)×D.
  auto dp = torch::mm(da.permute({1, 0, 2}).reshape({b, h_ * k_}).t(), x_);
  // Through P = S / ‖S‖; an empty concept passes dP through (see the header).
  auto radial = (p_ * dp).sum(1, /*keepdim=*/true);
  auto nonempty = norm_ > 0;
  auto ds = torch::where(nonempty, (dp - p_ * radial) / norm_.clamp_min(1e-12), dp);
  // S = Yᵀ E, so dY = E dSᵀ (M×(H·K) → H×M×K); straight through to the soft probabilities.
  auto dy = torch::mm(elements_, ds.t()).view({m_, h_, k_}).permute({1, 0, 2});
  auto du = soft_ * (dy - (dy * soft_).sum(-1, /*keepdim=*/true));
  du.div_(options_.temperature);
  // Through the learnable LayerNorm over K of q.
  torch::sum_out(grad_gamma_, du * qhat_, /*dim=*/{1});
  torch::sum_out(grad_beta_, du, /*dim=*/{1});
  auto dqhat = du * gamma_.unsqueeze(1);
  grad_q_.copy_(rstd_q_ * (dqhat - dqhat.mean(-1, /*keepdim=*/true) -
                           qhat_ * (dqhat * qhat_).mean(-1, /*keepdim=*/true)));
}

void End2EndScores::step(double lr_scale) {
  torch::NoGradGuard no_grad;
  ++adam_steps_;
  const double bc1 = 1.0 - std::pow(kBeta1, static_cast<double>(adam_steps_));
  const double bc2 = 1.0 - std::pow(kBeta2, static_cast<double>(adam_steps_));
  auto update = [&](torch::Tensor& param, const torch::Tensor& grad, torch::Tensor& avg,
                    torch::Tensor& sq, const torch::Tensor& lr) {
    avg.mul_(kBeta1).add_(grad, 1.0 - kBeta1);
    sq.mul_(kBeta2).addcmul_(grad, grad, 1.0 - kBeta2);
    auto denom = (sq.sqrt() / std::sqrt(bc2)).add_(kAdamEps);
    param.addcdiv_(avg * lr, denom, -lr_scale / bc1);
  };
  update(q_, grad_q_, avg_q_, sq_q_, lr_.view({h_, 1, 1}));
  update(gamma_, grad_gamma_, avg_gamma_, sq_gamma_, lr_.view({h_, 1}));
  update(beta_, grad_beta_, avg_beta_, sq_beta_, lr_.view({h_, 1}));
  eval_p_ = torch::Tensor();
}

void End2EndScores::end_epoch() { history_.push_back(assignment()); }

torch::Tensor End2EndScores::assignment() const {
  torch::NoGradGuard no_grad;
  return logits().argmax(-1).to(torch::kCPU);
}

torch::Tensor End2EndScores::assignment_at(int64_t epoch) const {
  IIS_CHECK(epoch >= 1 && epoch <= static_cast<int64_t>(history_.size()),
            "end2end: no assignment stored for epoch " << epoch << " (" << history_.size()
                                                       << " epochs trained)");
  return history_[epoch - 1];
}

torch::Tensor End2EndScores::last_train_assignment() const {
  IIS_CHECK(index_.defined(), "end2end: train_scores() has not been called");
  return index_.to(torch::kCPU);
}

torch::Tensor End2EndScores::concepts_of(const torch::Tensor& assignment) const {
  torch::NoGradGuard no_grad;
  const bool single = assignment.dim() == 1;
  auto index =
      (single ? assignment.unsqueeze(0) : assignment).to(elements_.device(), torch::kInt64);
  IIS_CHECK(index.dim() == 2 && index.size(1) == m_,
            "end2end: an assignment must hold one concept per element (" << m_ << ")");
  IIS_CHECK(
      index.numel() == 0 || (index.min().item<int64_t>() >= 0 && index.max().item<int64_t>() < k_),
      "end2end: assignment outside [0, " << k_ << ")");
  auto [sums, norm] = concept_sums(elements_, index, k_);
  auto p = (sums / norm.clamp_min(1e-12)).view({index.size(0), k_, d_}).to(torch::kCPU);
  return single ? p.squeeze(0) : p;
}

}  // namespace iis::concepts
