// End-to-end concepts: hard Gumbel-softmax assignment with explicit straight-through gradients.
#include "iis/concepts/end2end.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "iis/core/adam.hpp"
#include "iis/core/error.hpp"
#include "iis/core/parallel.hpp"
#include "iis/core/random.hpp"

namespace iis::concepts {

namespace {

using heads::kLayerNormEps;

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

// Rows of the assignment logits are short (K) and many (H·M): on the CPU one pass per row does
// what a dozen whole-tensor operations would, without their temporaries.
constexpr int64_t kRowChunks = 16;  // fixed, so sums are the same for any thread count

// Mean and 1/sqrt(var + ε) of a row of K floats (accumulated in double), as LayerNorm uses.
std::pair<float, float> row_moments(const float* x, int64_t k) {
  double mean = 0;
  for (int64_t j = 0; j < k; ++j) mean += x[j];
  mean /= static_cast<double>(k);
  double var = 0;
  for (int64_t j = 0; j < k; ++j) var += (x[j] - mean) * (x[j] - mean);
  return {static_cast<float>(mean),
          static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(k) + kLayerNormEps))};
}

// Forward of one Gumbel draw, per row (h, m): q̂ = LayerNorm_K(q), u = (q̂γ + β + g)/τ, the
// argmax of u and softmax(u). q: H×M×K, gamma/beta: H×K, noise: M×K (contiguous CPU float32).
void assign_forward_cpu(const torch::Tensor& q, const torch::Tensor& gamma,
                        const torch::Tensor& beta, const torch::Tensor& noise, double temperature,
                        torch::Tensor& qhat, torch::Tensor& rstd, torch::Tensor& index,
                        torch::Tensor& soft) {
  const int64_t h = q.size(0), m = q.size(1), k = q.size(2);
  // Reused from the last draw (backward has consumed them): no fresh pages every batch.
  auto reuse = [](torch::Tensor& t, at::IntArrayRef shape, const torch::TensorOptions& o) {
    if (!t.defined() || t.sizes() != shape || !t.is_contiguous()) t = torch::empty(shape, o);
  };
  reuse(qhat, q.sizes(), q.options());
  reuse(soft, q.sizes(), q.options());
  reuse(rstd, {h, m, 1}, q.options());
  reuse(index, {h, m}, q.options().dtype(torch::kInt64));
  const float* pq = q.data_ptr<float>();
  const float* pg = gamma.data_ptr<float>();
  const float* pb = beta.data_ptr<float>();
  const float* pn = noise.data_ptr<float>();
  float* ph = qhat.data_ptr<float>();
  float* ps = soft.data_ptr<float>();
  float* pr = rstd.data_ptr<float>();
  int64_t* pi = index.data_ptr<int64_t>();
  const float inv_t = static_cast<float>(1.0 / temperature);
  core::parallel_for(0, h * m, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t hh = r / m, mm = r % m;
      const float* x = pq + r * k;
      const float* g = pg + hh * k;
      const float* b = pb + hh * k;
      const float* n = pn + mm * k;
      float* y = ph + r * k;
      float* sm = ps + r * k;
      const auto [mu, rs] = row_moments(x, k);
      int64_t best = 0;
      float top = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < k; ++j) {
        y[j] = (x[j] - mu) * rs;
        sm[j] = (y[j] * g[j] + b[j] + n[j]) * inv_t;
        if (sm[j] > top) top = sm[j], best = j;
      }
      float sum = 0;
      // exp(−30) ≈ 1e-13 of the top entry: below float rounding of the sum, so not computed.
      for (int64_t j = 0; j < k; ++j) {
        const float t = sm[j] - top;
        sum += (sm[j] = t > -30.0f ? std::exp(t) : 0.0f);
      }
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < k; ++j) sm[j] *= inv;
      pr[r] = rs;
      pi[r] = best;
    }
  });
}

// Backward per row of the straight-through softmax and the learnable LayerNorm:
// du = soft ⊙ (dy − ⟨dy, soft⟩)/τ; dγ += du ⊙ q̂, dβ += du (summed over m in fixed chunks);
// dq = rstd · (du γ − mean(du γ) − q̂ mean(du γ ⊙ q̂)). dy: H×M×K (any strides along M×K
// collapsed: contiguous), the rest as assign_forward_cpu left them.
void assign_backward_cpu(const torch::Tensor& dy, const torch::Tensor& soft,
                         const torch::Tensor& qhat, const torch::Tensor& rstd,
                         const torch::Tensor& gamma, double temperature, torch::Tensor& grad_q,
                         torch::Tensor& grad_gamma, torch::Tensor& grad_beta) {
  const int64_t h = qhat.size(0), m = qhat.size(1), k = qhat.size(2);
  const int64_t rows = h * m;
  const int64_t chunks = std::min<int64_t>(kRowChunks, rows);
  // Per chunk: dγ and dβ for every head (a chunk may span two heads).
  std::vector<float> partial(static_cast<size_t>(chunks * 2 * h * k), 0.0f);
  const float* pdy = dy.data_ptr<float>();
  const float* ps = soft.data_ptr<float>();
  const float* ph = qhat.data_ptr<float>();
  const float* pr = rstd.data_ptr<float>();
  const float* pg = gamma.data_ptr<float>();
  float* pq = grad_q.data_ptr<float>();
  const float inv_t = static_cast<float>(1.0 / temperature);
  const float inv_k = 1.0f / static_cast<float>(k);
  core::parallel_for(0, chunks, 1, [&](int64_t cb, int64_t ce) {
    std::vector<float> du(static_cast<size_t>(k));
    for (int64_t c = cb; c < ce; ++c) {
      float* dgam = partial.data() + c * 2 * h * k;
      float* dbet = dgam + h * k;
      for (int64_t r = rows * c / chunks; r < rows * (c + 1) / chunks; ++r) {
        const int64_t hh = r / m;
        const float* d = pdy + r * k;
        const float* sm = ps + r * k;
        const float* y = ph + r * k;
        const float* g = pg + hh * k;
        float dot = 0;
        for (int64_t j = 0; j < k; ++j) dot += d[j] * sm[j];
        float mean1 = 0, mean2 = 0;
        for (int64_t j = 0; j < k; ++j) {
          du[j] = sm[j] * (d[j] - dot) * inv_t;
          dgam[hh * k + j] += du[j] * y[j];
          dbet[hh * k + j] += du[j];
          const float dq = du[j] * g[j];
          mean1 += dq;
          mean2 += dq * y[j];
        }
        mean1 *= inv_k;
        mean2 *= inv_k;
        float* out = pq + r * k;
        const float rs = pr[r];
        for (int64_t j = 0; j < k; ++j) out[j] = rs * (du[j] * g[j] - mean1 - y[j] * mean2);
      }
    }
  });
  float* pgg = grad_gamma.data_ptr<float>();
  float* pgb = grad_beta.data_ptr<float>();
  std::fill(pgg, pgg + h * k, 0.0f);
  std::fill(pgb, pgb + h * k, 0.0f);
  for (int64_t c = 0; c < chunks; ++c) {
    const float* dgam = partial.data() + c * 2 * h * k;
    for (int64_t i = 0; i < h * k; ++i) pgg[i] += dgam[i], pgb[i] += dgam[h * k + i];
  }
}

// Parameter-free LayerNorm over K of a = x Pᵀ, per (row b, head h): a is B×(H·K) as the
// product leaves it; z comes out H×B×K (the heads' layout) with rstd H×B.
void scores_forward_cpu(const torch::Tensor& a, int64_t h, int64_t k, torch::Tensor& z,
                        torch::Tensor& rstd) {
  const int64_t b = a.size(0);
  z = torch::empty({h, b, k}, a.options());
  rstd = torch::empty({h, b}, a.options());
  const float* pa = a.data_ptr<float>();
  float* pz = z.data_ptr<float>();
  float* pr = rstd.data_ptr<float>();
  core::parallel_for(0, b * h, 256, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t bb = r / h, hh = r % h;
      const float* x = pa + r * k;
      float* y = pz + (hh * b + bb) * k;
      const auto [mu, rs] = row_moments(x, k);
      for (int64_t j = 0; j < k; ++j) y[j] = (x[j] - mu) * rs;
      pr[hh * b + bb] = rs;
    }
  });
}

// Its backward: da = rstd (g − mean_K g − z mean_K(g z)); g and z H×B×K, da B×(H·K).
torch::Tensor scores_backward_cpu(const torch::Tensor& grad, const torch::Tensor& z,
                                  const torch::Tensor& rstd) {
  const int64_t h = z.size(0), b = z.size(1), k = z.size(2);
  auto g = grad.contiguous();
  auto da = torch::empty({b, h * k}, z.options());
  const float* pg = g.data_ptr<float>();
  const float* pz = z.data_ptr<float>();
  const float* pr = rstd.data_ptr<float>();
  float* pd = da.data_ptr<float>();
  const float inv_k = 1.0f / static_cast<float>(k);
  core::parallel_for(0, h * b, 256, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t hh = r / b, bb = r % b;
      const float* gr = pg + r * k;
      const float* zr = pz + r * k;
      float* out = pd + (bb * h + hh) * k;
      float m1 = 0, m2 = 0;
      for (int64_t j = 0; j < k; ++j) m1 += gr[j], m2 += gr[j] * zr[j];
      m1 *= inv_k;
      m2 *= inv_k;
      const float rs = pr[r];
      for (int64_t j = 0; j < k; ++j) out[j] = rs * (gr[j] - m1 - zr[j] * m2);
    }
  });
  return da;
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

torch::Tensor gumbel_noise(const std::vector<int64_t>& shape, uint64_t seed) {
  return core::counter_uniform(shape, seed).log_().neg_().log_().neg_();
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
  auto q0 = core::truncated_normal({m_, k_}, options_.init_std,
                                   core::derive_seed(options_.seed, "end2end-init"));
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
  if (x.is_cpu()) {
    torch::Tensor z, rstd;
    scores_forward_cpu(torch::mm(x, p.view({h_ * k_, d_}).t()), h_, k_, z, rstd);
    return z;
  }
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
      gumbel_noise({m_, k_}, core::derive_seed(options_.seed, "gumbel", draws_++)).to(q_.device());
  if (q_.is_cpu()) {
    assign_forward_cpu(q_, gamma_, beta_, noise_, options_.temperature, qhat_, rstd_q_, index_,
                       soft_);
  } else {
    auto mean = q_.mean(-1, /*keepdim=*/true);
    auto var = q_.var(-1, /*unbiased=*/false, /*keepdim=*/true);
    rstd_q_ = (var + kLayerNormEps).rsqrt_();
    qhat_ = (q_ - mean) * rstd_q_;
    auto u = (qhat_ * gamma_.unsqueeze(1) + beta_.unsqueeze(1) + noise_.unsqueeze(0))
                 .div_(options_.temperature);
    index_ = u.argmax(-1);
    soft_ = torch::softmax(u, -1);
  }
  auto [sums, norm] = concept_sums(elements_, index_, k_);
  norm_ = norm;
  p_ = sums / norm.clamp_min(1e-12);  // (H·K)×D
  x_ = train_x_.index_select(0, index);
  const int64_t b = x_.size(0);
  if (x_.is_cpu()) {
    scores_forward_cpu(torch::mm(x_, p_.t()), h_, k_, z_, rstd_a_);
    return z_;
  }
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
  IIS_ASSERT(z_.defined() && grad.sizes() == z_.sizes(),
             "End2EndScores::backward: the gradient does not match the last train_scores()");
  const int64_t b = x_.size(0);
  // Through the parameter-free LayerNorm over K; a = x Pᵀ for all heads at once, so
  // dP = daᵀ x, (H·K)×D.
  torch::Tensor dp;
  if (x_.is_cpu()) {
    dp = torch::mm(scores_backward_cpu(grad, z_, rstd_a_).t(), x_);
  } else {
    auto da = rstd_a_ * (grad - grad.mean(-1, /*keepdim=*/true) -
                         z_ * (grad * z_).mean(-1, /*keepdim=*/true));
    dp = torch::mm(da.permute({1, 0, 2}).reshape({b, h_ * k_}).t(), x_);
  }
  // Through P = S / ‖S‖; an empty concept passes dP through (see the header).
  auto radial = (p_ * dp).sum(1, /*keepdim=*/true);
  auto nonempty = norm_ > 0;
  auto ds = torch::where(nonempty, (dp - p_ * radial) / norm_.clamp_min(1e-12), dp);
  // S = Yᵀ E, so dY = E dSᵀ (M×(H·K) → H×M×K); straight through to the soft probabilities.
  if (q_.is_cpu()) {  // dY per head straight into an H×M×K buffer kept between batches
    if (!dy_.defined()) dy_ = torch::empty_like(q_);
    torch::bmm_out(dy_, elements_.unsqueeze(0).expand({h_, m_, d_}),
                   ds.view({h_, k_, d_}).transpose(1, 2));
    assign_backward_cpu(dy_, soft_, qhat_, rstd_q_, gamma_, options_.temperature, grad_q_,
                        grad_gamma_, grad_beta_);
    return;
  }
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
  const core::AdamBiasCorrection bc(++adam_steps_);
  if (q_.is_cpu()) {
    const std::vector<double> lr(lr_.data_ptr<float>(), lr_.data_ptr<float>() + h_);
    core::adam_update_fused_cpu(q_, grad_q_, avg_q_, sq_q_, lr, lr_scale, bc);
    core::adam_update_fused_cpu(gamma_, grad_gamma_, avg_gamma_, sq_gamma_, lr, lr_scale, bc);
    core::adam_update_fused_cpu(beta_, grad_beta_, avg_beta_, sq_beta_, lr, lr_scale, bc);
  } else {
    core::adam_update(q_, grad_q_, avg_q_, sq_q_, lr_.view({h_, 1, 1}), lr_scale, bc);
    core::adam_update(gamma_, grad_gamma_, avg_gamma_, sq_gamma_, lr_.view({h_, 1}), lr_scale, bc);
    core::adam_update(beta_, grad_beta_, avg_beta_, sq_beta_, lr_.view({h_, 1}), lr_scale, bc);
  }
  eval_p_ = torch::Tensor();
}

void End2EndScores::end_epoch() { history_.push_back(assignment()); }

torch::Tensor End2EndScores::assignment() const {
  torch::NoGradGuard no_grad;
  return logits().argmax(-1).to(torch::kCPU);
}

torch::Tensor End2EndScores::assignment_at(int64_t epoch) const {
  IIS_ASSERT(epoch >= 1 && epoch <= static_cast<int64_t>(history_.size()),
             "end2end: no assignment stored for epoch " << epoch << " (" << history_.size()
                                                        << " epochs trained)");
  return history_[epoch - 1];
}

torch::Tensor End2EndScores::last_train_assignment() const {
  IIS_ASSERT(index_.defined(), "end2end: train_scores() has not been called");
  return index_.to(torch::kCPU);
}

torch::Tensor End2EndScores::concepts_of(const torch::Tensor& assignment) const {
  torch::NoGradGuard no_grad;
  const bool single = assignment.dim() == 1;
  auto index =
      (single ? assignment.unsqueeze(0) : assignment).to(elements_.device(), torch::kInt64);
  IIS_ASSERT(index.dim() == 2 && index.size(1) == m_,
             "end2end: an assignment must hold one concept per element (" << m_ << ")");
  IIS_ASSERT(
      index.numel() == 0 || (index.min().item<int64_t>() >= 0 && index.max().item<int64_t>() < k_),
      "end2end: assignment outside [0, " << k_ << ")");
  auto [sums, norm] = concept_sums(elements_, index, k_);
  auto p = (sums / norm.clamp_min(1e-12)).view({index.size(0), k_, d_}).to(torch::kCPU);
  return single ? p.squeeze(0) : p;
}

}  // namespace iis::concepts
