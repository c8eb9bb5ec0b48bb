// Tests of the sparsity rules: kept counts per rule, the fused kernel against tensor
// operations, and the backward pass against autograd.
#include "iis/heads/threshold.hpp"

#include <torch/torch.h>

#include "iis/heads/head_stack.hpp"
#include "test_support.hpp"

namespace iis::heads {
namespace {

const std::vector<double> kRatios{0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.98};

TEST(Threshold, DocumentedCounts) {
  // strict: K − floor(K·r) − 1, so r = 0 drops one; exact: round(K·(1 − r)).
  EXPECT_EQ(kept_concepts(200, 0.0, ThresholdRule::Strict), 199);
  EXPECT_EQ(kept_concepts(200, 0.1, ThresholdRule::Strict), 179);
  EXPECT_EQ(kept_concepts(200, 0.7, ThresholdRule::Strict), 59);
  EXPECT_EQ(kept_concepts(200, 0.98, ThresholdRule::Strict), 3);
  EXPECT_EQ(kept_concepts(200, 0.0, ThresholdRule::Exact), 200);
  EXPECT_EQ(kept_concepts(200, 0.98, ThresholdRule::Exact), 4);
  EXPECT_EQ(kept_concepts(10, 0.25, ThresholdRule::Exact), 8);  // round(7.5) = 8
  EXPECT_EQ(kept_concepts(200, 0.3, ThresholdRule::Soft), 139);
  EXPECT_EQ(threshold_position(200, 0.0, ThresholdRule::Exact), -1);
  EXPECT_EQ(floor_count(200, 0.7), 140);  // as Python's int(200 * 0.7)
}

// Scores with distinct magnitudes, so counts are exact.
torch::Tensor scores(int64_t b, int64_t k, int seed) {
  torch::manual_seed(seed);
  return torch::randn({b, k});
}

class EveryRule : public ::testing::TestWithParam<ThresholdRule> {};

TEST_P(EveryRule, KernelKeepsDocumentedNumberAndMatchesReference) {
  const ThresholdRule rule = GetParam();
  const int64_t k = 200, b = 64, h = static_cast<int64_t>(kRatios.size());
  auto z = scores(b, k, 1);
  auto gamma = 1 + 0.3 * torch::randn({h, k});
  auto beta = 0.2 * torch::randn({h, k});
  std::vector<int64_t> pos, keep;
  for (double r : kRatios) {
    pos.push_back(threshold_position(k, r, rule));
    keep.push_back(kept_concepts(k, r, rule));
  }
  auto fast = sparsify(z, gamma, beta, pos, keep, rule);
  auto ref = sparsify_reference(z, gamma, beta, pos, keep, rule);
  auto counts = fast.mask.sum(-1);  // H×B
  for (int64_t i = 0; i < h; ++i) {
    EXPECT_TRUE(torch::all(counts[i] == keep[i]).item<bool>())
        << "ratio " << kRatios[i] << ": kept " << counts[i].min().item<int64_t>() << ".."
        << counts[i].max().item<int64_t>() << ", expected " << keep[i];
  }
  EXPECT_TRUE(torch::equal(fast.mask, ref.mask));
  EXPECT_TRUE(torch::allclose(fast.values, ref.values, 1e-6, 1e-6));
  // Kept entries are exactly the largest magnitudes.
  auto y = z.unsqueeze(0) * gamma.unsqueeze(1) + beta.unsqueeze(1);
  auto kept_min = torch::where(fast.mask, y.abs(), torch::full_like(y, 1e9)).amin(-1);
  auto dropped_max = torch::where(fast.mask, torch::full_like(y, -1), y.abs()).amax(-1);
  EXPECT_TRUE(torch::all(kept_min > dropped_max).item<bool>());
  if (rule == ThresholdRule::Soft) {
    // Kept entries shrink by t towards zero and keep their sign.
    auto shrink = (y.abs() - fast.values.abs()) * fast.mask;
    auto expected = fast.threshold.unsqueeze(-1) * fast.mask;
    EXPECT_TRUE(torch::allclose(shrink, expected, 1e-5, 1e-5));
  }
}

TEST_P(EveryRule, GuessesNeverChangeTheResult) {
  const ThresholdRule rule = GetParam();
  const int64_t k = 50, b = 40;
  auto z = scores(b, k, 2);
  auto gamma = torch::ones({3, k}), beta = torch::zeros({3, k});
  std::vector<int64_t> pos{threshold_position(k, 0.1, rule), threshold_position(k, 0.5, rule),
                           threshold_position(k, 0.9, rule)};
  std::vector<int64_t> keep{kept_concepts(k, 0.1, rule), kept_concepts(k, 0.5, rule),
                            kept_concepts(k, 0.9, rule)};
  auto plain = sparsify(z, gamma, beta, pos, keep, rule);
  for (float guess : {-5.f, 0.f, 0.6f, 3.f, 100.f}) {
    for (float width : {1e-7f, 0.01f, 1.f}) {
      ThresholdHint hint{torch::full({3, b}, guess), {width, width, width}};
      auto hinted = sparsify(z, gamma, beta, pos, keep, rule, &hint);
      EXPECT_TRUE(torch::equal(plain.values, hinted.values)) << guess << " " << width;
      EXPECT_TRUE(torch::equal(plain.threshold, hinted.threshold));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, EveryRule,
                         ::testing::Values(ThresholdRule::Strict, ThresholdRule::Exact,
                                           ThresholdRule::Soft));

TEST(Threshold, SmallestKKeepingOneAtEveryRatio) {
  const std::vector<double> defaults{0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.98};
  // Strict: K − floor(0.98·K) − 1 is 0 up to K = 50. Exact: round(0.02·K) reaches 1 at 25.
  EXPECT_EQ(smallest_k_keeping_one(defaults, ThresholdRule::Strict), 51);
  EXPECT_EQ(smallest_k_keeping_one(defaults, ThresholdRule::Soft), 51);
  EXPECT_EQ(smallest_k_keeping_one(defaults, ThresholdRule::Exact), 25);
  EXPECT_EQ(smallest_k_keeping_one({0.5}, ThresholdRule::Exact), 1);
  for (auto rule : {ThresholdRule::Strict, ThresholdRule::Exact}) {
    for (const auto& ratios : std::vector<std::vector<double>>{
             defaults, {0}, {0.5}, {0.3, 0.77}, {0.9, 0.999}, {0.99999}}) {
      const int64_t k = smallest_k_keeping_one(ratios, rule);
      auto keeps_all = [&](int64_t kk) {
        return std::all_of(ratios.begin(), ratios.end(),
                           [&](double r) { return kept_concepts(kk, r, rule) >= 1; });
      };
      EXPECT_TRUE(keeps_all(k)) << k;
      EXPECT_TRUE(k == 1 || !keeps_all(k - 1)) << k;
    }
  }
}

TEST(Threshold, ExactBreaksTiesToKeepTheCount) {
  // Magnitudes 1,1,1,1 and 2: keeping 3 of 5 must keep the 2 and two of the tied ones.
  auto z = torch::tensor({{1.f, -1.f, 2.f, 1.f, -1.f}});
  auto gamma = torch::ones({1, 5}), beta = torch::zeros({1, 5});
  auto fast = sparsify(z, gamma, beta, {threshold_position(5, 0.4, ThresholdRule::Exact)},
                       {kept_concepts(5, 0.4, ThresholdRule::Exact)}, ThresholdRule::Exact);
  EXPECT_EQ(fast.mask.sum().item<int64_t>(), 3);
  EXPECT_TRUE(fast.mask[0][0][2].item<bool>());
  // The strict rule keeps only entries strictly above t, so ties drop together.
  auto strict = sparsify(z, gamma, beta, {threshold_position(5, 0.4, ThresholdRule::Strict)},
                         {kept_concepts(5, 0.4, ThresholdRule::Strict)}, ThresholdRule::Strict);
  EXPECT_EQ(strict.mask.sum().item<int64_t>(), 1);
}

TEST(Threshold, BackwardMatchesAutograd) {
  const int64_t k = 30, b = 16, c = 4, h = 2;
  auto z = scores(b, k, 5);
  auto gamma = (1 + 0.2 * torch::randn({h, k})).requires_grad_();
  auto beta = (0.1 * torch::randn({h, k})).requires_grad_();
  auto w = torch::randn({h, c, k});
  std::vector<int64_t> pos{threshold_position(k, 0.3, ThresholdRule::Strict),
                           threshold_position(k, 0.8, ThresholdRule::Strict)};
  std::vector<int64_t> keep{kept_concepts(k, 0.3, ThresholdRule::Strict),
                            kept_concepts(k, 0.8, ThresholdRule::Strict)};
  auto sp = sparsify(z, gamma.detach(), beta.detach(), pos, keep, ThresholdRule::Strict);
  // Autograd through y with the same mask (t carries no gradient).
  auto y = z.unsqueeze(0) * gamma.unsqueeze(1) + beta.unsqueeze(1);
  auto out = torch::bmm(y * sp.mask, w.transpose(1, 2));
  auto upstream = torch::randn({h, b, c});
  (out * upstream).sum().backward();
  auto grad_values = torch::bmm(upstream, w);
  auto gg = torch::empty({h, k}), gb = torch::empty({h, k});
  sparsify_backward(grad_values, sp.mask, z, gg, gb);
  EXPECT_TRUE(torch::allclose(gg, gamma.grad(), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(gb, beta.grad(), 1e-4, 1e-5));
}

TEST(HeadStack, GradientsMatchAutograd) {
  const int64_t k = 12, b = 9, c = 5;
  HeadStackConfig cfg;
  cfg.num_heads = 2;
  cfg.num_classes = c;
  cfg.in_features = k;
  cfg.interpretable = true;
  cfg.positions = {threshold_position(k, 0.0, ThresholdRule::Strict),
                   threshold_position(k, 0.5, ThresholdRule::Strict)};
  cfg.keep = {kept_concepts(k, 0.0, ThresholdRule::Strict),
              kept_concepts(k, 0.5, ThresholdRule::Strict)};
  cfg.lrs = {0.01, 0.01};
  HeadStack stack(cfg, torch::kCPU, 7);
  stack.gamma.copy_(1 + 0.2 * torch::randn({2, k}));
  auto z = scores(b, k, 8);
  auto labels = torch::randint(0, c, {b}, torch::kInt64);
  auto pass = stack.forward(z);
  torch::Tensor grad_z;
  auto loss = stack.backward(pass, labels, &grad_z);

  auto gamma = stack.gamma.clone().requires_grad_();
  auto beta = stack.beta.clone().requires_grad_();
  auto w = stack.weight.clone().requires_grad_();
  auto bias = stack.bias.clone().requires_grad_();
  auto zz = z.clone().requires_grad_();
  auto y = zz.unsqueeze(0) * gamma.unsqueeze(1) + beta.unsqueeze(1);
  auto logits = torch::baddbmm(bias.unsqueeze(1), y * pass.mask, w.transpose(1, 2));
  auto per_head = torch::stack(
      {torch::cross_entropy_loss(logits[0], labels), torch::cross_entropy_loss(logits[1], labels)});
  EXPECT_TRUE(torch::allclose(per_head, loss, 1e-5, 1e-6));
  per_head.sum().backward();
  // A head's Adam step from zero state moves each parameter by −lr·sign(g) (first step).
  auto before = stack.weight.clone();
  stack.adam_step(1.0);
  auto moved = (stack.weight - before) / -0.01;
  EXPECT_TRUE(torch::allclose(moved, torch::sign(w.grad()), 1e-3, 1e-3));
  EXPECT_TRUE(torch::allclose(grad_z, zz.grad(), 1e-4, 1e-6));
}

}  // namespace
}  // namespace iis::heads
