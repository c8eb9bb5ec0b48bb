// Tests of the fused CPU kernel of interpretable heads against the plain LibTorch formulation
// (tensor operations + autograd): losses, every gradient, hit counts, for each threshold rule.
#include "iis/heads/sparse_heads.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "iis/heads/head_stack.hpp"
#include "test_support.hpp"

namespace iis::heads {
namespace {

const std::vector<double> kRatios{0, 0.3, 0.7, 0.95};

struct Problem {
  SparseHeads heads;
  torch::Tensor z, labels;
};

// H = 4 heads, K = 40 concepts, C = 11 classes (not a multiple of the kernel's 8 lanes), B = 37
// rows (not a multiple of its chunks nor of its blocks of 8 rows); `per_head`: H×B×K scores
// instead of B×K.
Problem make_problem(ThresholdRule rule, bool per_head, int seed, int64_t k = 40) {
  torch::manual_seed(seed);
  const int64_t h = static_cast<int64_t>(kRatios.size()), c = 11, b = 37;
  Problem p;
  p.heads.gamma = 1 + 0.3 * torch::randn({h, k});
  p.heads.beta = 0.2 * torch::randn({h, k});
  p.heads.weight = 0.3 * torch::randn({h, c, k});
  p.heads.bias = 0.1 * torch::randn({h, c});
  p.heads.rule = rule;
  for (double r : kRatios) {
    p.heads.positions.push_back(threshold_position(k, r, rule));
    p.heads.keep.push_back(kept_concepts(k, r, rule));
  }
  p.z = per_head ? torch::randn({h, b, k}) : torch::randn({b, k});
  p.labels = torch::randint(0, c, {b}, torch::kInt64);
  return p;
}

struct Reference {
  torch::Tensor loss, threshold, logits;
  torch::Tensor gamma, beta, weight, bias, z;  // gradients
};

// The formulation the kernel replaces: sparsify_reference's mask and threshold, ŷ from y with
// autograd (t carries no gradient), batched logits, per-head mean cross-entropy.
Reference reference(const Problem& p) {
  const auto& hd = p.heads;
  auto gamma = hd.gamma.clone().requires_grad_();
  auto beta = hd.beta.clone().requires_grad_();
  auto w = hd.weight.clone().requires_grad_();
  auto bias = hd.bias.clone().requires_grad_();
  auto z = p.z.clone().requires_grad_();
  auto sp = sparsify_reference(p.z, hd.gamma, hd.beta, hd.positions, hd.keep, hd.rule);
  auto zz = z.dim() == 2 ? z.unsqueeze(0) : z;
  auto y = zz * gamma.unsqueeze(1) + beta.unsqueeze(1);
  auto kept = sp.mask.to(torch::kFloat32);
  auto values = hd.rule == ThresholdRule::Soft
                    ? torch::sign(y) * (y.abs() - sp.threshold.unsqueeze(-1)) * kept
                    : y * kept;
  auto logits = torch::baddbmm(bias.unsqueeze(1), values, w.transpose(1, 2));
  std::vector<torch::Tensor> per_head;
  for (int64_t h = 0; h < logits.size(0); ++h) {
    per_head.push_back(torch::cross_entropy_loss(logits[h], p.labels));
  }
  auto loss = torch::stack(per_head);
  loss.sum().backward();
  return {loss.detach(), sp.threshold, logits.detach(), gamma.grad(),
          beta.grad(),   w.grad(),     bias.grad(),     z.grad()};
}

struct Fused {
  torch::Tensor loss, threshold;
  SparseHeadsGrads grads;
  torch::Tensor grad_z;
};

// `portable`: the kernel's baseline build even where the AVX2 one would run.
Fused fused(const Problem& p, bool portable = false) {
  Fused f;
  f.grads.gamma = torch::full_like(p.heads.gamma, 7);  // overwritten, not accumulated
  f.grads.beta = torch::full_like(p.heads.beta, 7);
  f.grads.weight = torch::full_like(p.heads.weight, 7);
  f.grads.bias = torch::full_like(p.heads.bias, 7);
  f.grads.scores = &f.grad_z;
  SparseHeadsWorkspace ws;
  ws.portable = portable;
  f.loss = sparse_heads_step(p.heads, p.z, p.labels, nullptr, f.grads, f.threshold, ws);
  return f;
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-5))
      << what << ": max |diff| " << (a - b).abs().max().item<float>();
}

class EveryRuleAndLayout
    : public ::testing::TestWithParam<std::tuple<ThresholdRule, bool /*per_head*/>> {};

void expect_step_matches(const Problem& p, bool portable) {
  auto ref = reference(p);
  auto f = fused(p, portable);
  expect_close(f.threshold, ref.threshold, "threshold");
  expect_close(f.loss, ref.loss, "loss");
  expect_close(f.grads.gamma, ref.gamma, "dL/dgamma");
  expect_close(f.grads.beta, ref.beta, "dL/dbeta");
  expect_close(f.grads.weight, ref.weight, "dL/dW");
  expect_close(f.grads.bias, ref.bias, "dL/db");
  expect_close(f.grad_z, ref.z, "dL/dscores");
  // The gradients are not trivially zero (the comparison could not pass by accident).
  EXPECT_GT(f.grads.gamma.abs().sum().item<float>(), 1e-3);
  EXPECT_GT(f.grad_z.abs().sum().item<float>(), 1e-3);
}

TEST_P(EveryRuleAndLayout, StepMatchesTensorFormulationAndAutograd) {
  const auto [rule, per_head] = GetParam();
  expect_step_matches(make_problem(rule, per_head, 11), false);
}

// K = 45: the padded tails of the dot products and of the 8-entry comparisons.
TEST_P(EveryRuleAndLayout, StepMatchesWithKNotAMultipleOfEight) {
  const auto [rule, per_head] = GetParam();
  expect_step_matches(make_problem(rule, per_head, 15, 45), false);
}

// The baseline build of the per-row code (what runs without AVX2) on the same problems.
TEST_P(EveryRuleAndLayout, PortableBuildMatchesToo) {
  const auto [rule, per_head] = GetParam();
  expect_step_matches(make_problem(rule, per_head, 11), true);
  expect_step_matches(make_problem(rule, per_head, 15, 45), true);
}

TEST_P(EveryRuleAndLayout, HitsMatchTopk) {
  const auto [rule, per_head] = GetParam();
  auto p = make_problem(rule, per_head, 12);
  auto ref = reference(p);
  auto top = std::get<1>(ref.logits.topk(5, -1)) == p.labels.view({1, -1, 1});
  auto top1 = top.select(-1, 0).sum(1), top5 = top.any(-1).sum(1);
  for (bool portable : {false, true}) {
    SparseHeadsWorkspace ws;
    ws.portable = portable;
    torch::Tensor t;
    auto hits = sparse_heads_hits(p.heads, p.z, p.labels, nullptr, t, ws);
    for (int64_t h = 0; h < top1.size(0); ++h) {
      EXPECT_EQ(hits.top1[h], top1[h].item<int64_t>()) << "head " << h << " portable " << portable;
      EXPECT_EQ(hits.top5[h], top5[h].item<int64_t>()) << "head " << h << " portable " << portable;
    }
    expect_close(t, ref.threshold, "threshold");
  }
}

TEST_P(EveryRuleAndLayout, SameNumbersOnAnyThreadCount) {
  const auto [rule, per_head] = GetParam();
  auto p = make_problem(rule, per_head, 13);
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  auto one = fused(p);
  at::set_num_threads(2);
  auto two = fused(p);
  at::set_num_threads(before);
  EXPECT_TRUE(torch::equal(one.loss, two.loss));
  EXPECT_TRUE(torch::equal(one.grads.weight, two.grads.weight));
  EXPECT_TRUE(torch::equal(one.grads.gamma, two.grads.gamma));
  EXPECT_TRUE(torch::equal(one.grad_z, two.grad_z));
}

INSTANTIATE_TEST_SUITE_P(RulesAndLayouts, EveryRuleAndLayout,
                         ::testing::Combine(::testing::Values(ThresholdRule::Strict,
                                                              ThresholdRule::Exact,
                                                              ThresholdRule::Soft),
                                            ::testing::Bool()));

// Hit counts with the classes ranked by a stable descending sort of the logits (H×B×C): equal
// logits keep their class order, so the lowest class index wins ties, as argmax picks.
std::pair<std::vector<int64_t>, std::vector<int64_t>> stable_rank_hits(
    const torch::Tensor& logits, const torch::Tensor& labels) {
  auto order = std::get<1>(logits.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/true));
  auto rank = (order == labels.view({1, -1, 1})).to(torch::kInt64).argmax(-1);  // H×B
  std::vector<int64_t> top1, top5;
  for (int64_t h = 0; h < logits.size(0); ++h) {
    top1.push_back((rank[h] == 0).sum().item<int64_t>());
    top5.push_back((rank[h] < 5).sum().item<int64_t>());
  }
  return {top1, top5};
}

SparseHits kernel_hits(const Problem& p, bool portable) {
  SparseHeadsWorkspace ws;
  ws.portable = portable;
  torch::Tensor t;
  return sparse_heads_hits(p.heads, p.z, p.labels, nullptr, t, ws);
}

// Small integers everywhere (scores, γ = 1, β = 0, weights, biases), so every logit is an exact
// integer whatever the order of its sum: many rows tie between classes, and classes 4 and 9
// (equal weights and bias) tie on every row.
Problem integer_problem(ThresholdRule rule) {
  auto p = make_problem(rule, false, 21);
  p.heads.gamma.fill_(1);
  p.heads.beta.zero_();
  p.z = torch::randint(-3, 4, p.z.sizes()).to(torch::kFloat32);
  p.heads.weight = torch::randint(-2, 3, p.heads.weight.sizes()).to(torch::kFloat32);
  p.heads.bias = torch::randint(-1, 2, p.heads.bias.sizes()).to(torch::kFloat32);
  p.heads.weight.select(1, 9).copy_(p.heads.weight.select(1, 4));
  p.heads.bias.select(1, 9).copy_(p.heads.bias.select(1, 4));
  return p;
}

TEST(SparseHeads, TiedLogitsGoToTheLowestClassAsArgmaxDecides) {
  for (auto rule : {ThresholdRule::Strict, ThresholdRule::Exact, ThresholdRule::Soft}) {
    auto p = integer_problem(rule);
    auto logits = reference(p).logits;
    // Ties at the top occur (else the test could not tell the rules apart).
    auto top = std::get<0>(logits.max(-1, /*keepdim=*/true));
    ASSERT_GT(((logits == top).sum(-1) > 1).sum().item<int64_t>(), 10);
    const auto [top1, top5] = stable_rank_hits(logits, p.labels);
    auto argmax_hits = (logits.argmax(-1) == p.labels.view({1, -1})).sum(1);
    for (bool portable : {false, true}) {
      const auto hits = kernel_hits(p, portable);
      for (int64_t h = 0; h < logits.size(0); ++h) {
        EXPECT_EQ(hits.top1[h], argmax_hits[h].item<int64_t>()) << "head " << h;
        EXPECT_EQ(hits.top1[h], top1[h]) << "head " << h << " portable " << portable;
        EXPECT_EQ(hits.top5[h], top5[h]) << "head " << h << " portable " << portable;
      }
    }
  }
}

// Heads that keep no concepts (strict rule, position K − 1) output their bias on every row.
TEST(SparseHeads, HeadsKeepingNothingHitOnlyWhereTheBiasDecides) {
  auto p = make_problem(ThresholdRule::Strict, false, 22);
  const int64_t k = p.heads.gamma.size(1), c = p.heads.bias.size(1);
  ASSERT_EQ(kept_concepts(k, 0.98, ThresholdRule::Strict), 0);
  p.heads.positions.assign(4, threshold_position(k, 0.98, ThresholdRule::Strict));
  p.heads.keep.assign(4, 0);
  p.labels = torch::arange(3 * c, torch::kInt64) % c;  // every class 3 times
  p.z = torch::randn({3 * c, k});
  p.heads.bias.zero_();    // head 0: every logit ties
  p.heads.bias[1][3] = 1;  // head 1: classes 3 and 7 tie above the rest
  p.heads.bias[1][7] = 1;
  p.heads.bias[2][7] = 1;  // head 2: the same tie, classes listed the other way round
  p.heads.bias[2][3] = 1;
  p.heads.bias[3][1] = NAN;  // head 3: NaN is the largest logit, as argmax takes it
  p.heads.bias[3][5] = NAN;
  // top-1: class 0 wins head 0; class 3 (before 7) heads 1 and 2; class 1 (first NaN) head 3.
  // top-5: classes 0..4; 3, 7, 0, 1, 2; the same; 1, 5, 0, 2, 3.
  const std::vector<int64_t> top1{3, 3, 3, 3}, top5{15, 15, 15, 15};
  for (bool portable : {false, true}) {
    const auto hits = kernel_hits(p, portable);
    EXPECT_EQ(hits.top1, top1) << "portable " << portable;
    EXPECT_EQ(hits.top5, top5) << "portable " << portable;
  }
  auto logits = p.heads.bias.unsqueeze(1).expand({4, 3 * c, c});
  EXPECT_TRUE(torch::equal((logits.argmax(-1) == p.labels).sum(1), torch::tensor(top1)));
}

TEST(SparseHeads, GuessesNeverChangeTheResult) {
  auto p = make_problem(ThresholdRule::Strict, false, 14);
  auto plain = fused(p);
  ThresholdHint hint{plain.threshold + 0.01, std::vector<float>(kRatios.size(), 0.005f)};
  Fused hinted;
  hinted.grads.gamma = torch::empty_like(p.heads.gamma);
  hinted.grads.beta = torch::empty_like(p.heads.beta);
  hinted.grads.weight = torch::empty_like(p.heads.weight);
  hinted.grads.bias = torch::empty_like(p.heads.bias);
  SparseHeadsWorkspace ws;
  hinted.loss =
      sparse_heads_step(p.heads, p.z, p.labels, &hint, hinted.grads, hinted.threshold, ws);
  EXPECT_TRUE(torch::equal(plain.threshold, hinted.threshold));
  EXPECT_TRUE(torch::equal(plain.loss, hinted.loss));
  EXPECT_TRUE(torch::equal(plain.grads.weight, hinted.grads.weight));
}

// HeadStack's train_step (fused on the CPU) equals its forward() + backward().
TEST(SparseHeads, HeadStackTrainStepEqualsForwardBackward) {
  const int64_t k = 30, c = 6, b = 50;
  HeadStackConfig cfg;
  cfg.num_heads = 3;
  cfg.num_classes = c;
  cfg.in_features = k;
  cfg.interpretable = true;
  cfg.rule = ThresholdRule::Exact;
  for (double r : {0.0, 0.5, 0.9}) {
    cfg.positions.push_back(threshold_position(k, r, cfg.rule));
    cfg.keep.push_back(kept_concepts(k, r, cfg.rule));
    cfg.lrs.push_back(0.01);
  }
  HeadStack fast(cfg, torch::kCPU, 3), slow(cfg, torch::kCPU, 3);
  torch::manual_seed(15);
  auto z = torch::randn({b, k});
  auto labels = torch::randint(0, c, {b}, torch::kInt64);
  for (int step = 0; step < 3; ++step) {
    torch::Tensor gz_fast, gz_slow, t;
    auto loss_fast = fast.train_step(z, labels, nullptr, &t, &gz_fast);
    auto pass = slow.forward(z);
    auto loss_slow = slow.backward(pass, labels, &gz_slow);
    expect_close(loss_fast, loss_slow, "loss");
    expect_close(gz_fast, gz_slow, "dL/dscores");
    fast.adam_step(1.0);
    slow.adam_step(1.0);
  }
  expect_close(fast.weight, slow.weight, "W after 3 Adam steps");
  expect_close(fast.gamma, slow.gamma, "gamma after 3 Adam steps");
}

}  // namespace
}  // namespace iis::heads
