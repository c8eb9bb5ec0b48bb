// Tests of HeadStack's hit counts on the tensor path (standard heads, interpretable heads
// beyond the fused kernel's class count, and every CUDA run): ties decided as argmax decides.
#include "iis/heads/head_stack.hpp"

#include <torch/torch.h>

#include <cmath>

#include "test_support.hpp"

namespace iis::heads {
namespace {

// Head h of `stack` outputs `bias` on every row: zero weights (and γ = 1, β = 0).
void set_constant_head(HeadStack& stack, int64_t h, const torch::Tensor& bias) {
  const auto& c = stack.config();
  HeadParams p;
  if (c.interpretable) {
    p.gamma = torch::ones({c.in_features});
    p.beta = torch::zeros({c.in_features});
  }
  p.weight = torch::zeros({c.num_classes, c.in_features});
  p.bias = bias;
  stack.set_head(h, p);
}

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU).to(torch::kInt64).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

TEST(HeadStackHits, StandardHeadsGiveTiesToTheLowestClass) {
  HeadStackConfig cfg;
  cfg.num_heads = 2;
  cfg.num_classes = 6;
  cfg.in_features = 4;
  cfg.lrs = {0.01, 0.01};
  HeadStack stack(cfg, torch::kCPU, 1);
  set_constant_head(stack, 0, torch::zeros({6}));                              // every logit ties
  set_constant_head(stack, 1, torch::tensor({0.f, 0.f, 1.f, 0.f, 1.f, 0.f}));  // 2 and 4 tie
  auto labels = torch::arange(30, torch::kInt64) % 6;  // every class 5 times
  auto [top1, top5] = stack.hits(torch::randn({30, 4}), labels);
  // Head 0 ranks 0, 1, 2, 3, 4, 5; head 1 ranks 2, 4, 0, 1, 3, 5.
  EXPECT_EQ(to_vector(top1), (std::vector<int64_t>{5, 5}));
  EXPECT_EQ(to_vector(top5), (std::vector<int64_t>{25, 25}));
}

// 1000 classes (ImageNet's count): beyond the fused kernel, so interpretable heads take the
// tensor path on the CPU too (the path every CUDA run takes).
TEST(HeadStackHits, InterpretableHeadsKeepingNothingAreNotHits) {
  const int64_t k = 10, c = 1000;
  ASSERT_FALSE(sparse_heads_apply(torch::kCPU, c));
  HeadStackConfig cfg;
  cfg.num_heads = 2;
  cfg.num_classes = c;
  cfg.in_features = k;
  cfg.interpretable = true;
  for (double r : {0.0, 0.98}) {
    cfg.positions.push_back(threshold_position(k, r, cfg.rule));
    cfg.keep.push_back(kept_concepts(k, r, cfg.rule));
    cfg.lrs.push_back(0.01);
  }
  ASSERT_EQ(cfg.keep[1], 0);
  HeadStack stack(cfg, torch::kCPU, 2);
  auto bias = torch::zeros({c});
  bias[40] = 2;
  bias[9] = 2;
  set_constant_head(stack, 0, bias);  // keeps 9 concepts, but zero weights: 9 and 40 tie first
  auto labels = torch::arange(2 * c, torch::kInt64) % c;
  auto [top1, top5] = stack.hits(torch::randn({2 * c, k}), labels);
  // Head 0 ranks 9, 40, 0, 1, 2; head 1 (initial weights, nothing kept, zero bias) 0..4.
  EXPECT_EQ(to_vector(top1), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(to_vector(top5), (std::vector<int64_t>{10, 10}));
}

// logit_hits against argmax (top-1) and a stable descending sort (top-5) on logits with many
// ties and a few NaNs.
TEST(HeadStackHits, LogitHitsRankAsArgmaxAndAStableSort) {
  torch::manual_seed(5);
  const int64_t h = 3, b = 200, c = 7;
  auto logits = torch::randint(0, 3, {h, b, c}).to(torch::kFloat32);
  logits.masked_fill_(torch::rand({h, b, c}) < 0.05, NAN);
  auto labels = torch::randint(0, c, {b}, torch::kInt64);
  auto [top1, top5] = logit_hits(logits, labels);
  auto argmax_hits = (logits.argmax(-1) == labels.view({1, -1})).sum(1);
  EXPECT_EQ(to_vector(top1), to_vector(argmax_hits));
  auto order = std::get<1>(logits.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/true));
  auto rank = (order == labels.view({1, -1, 1})).to(torch::kInt64).argmax(-1);
  EXPECT_EQ(to_vector(top1), to_vector((rank == 0).sum(1)));
  EXPECT_EQ(to_vector(top5), to_vector((rank < 5).sum(1)));
  // The ties matter here: counting them as hits would give more.
  auto target = logits.gather(-1, labels.view({1, -1, 1}).expand({h, b, 1}));
  EXPECT_GT(to_vector(((logits > target).sum(-1) == 0).sum(1))[0], to_vector(top1)[0]);
}

}  // namespace
}  // namespace iis::heads
