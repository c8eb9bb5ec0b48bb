// Tests of the elastic-net SAGA solver: its result meets the optimality conditions of the
// problem, the all-zero solution appears exactly above λ_max, the gradient agrees with
// autograd, and the solve is seeded.
#include "iis/heads/saga.hpp"

#include <torch/torch.h>

#include "iis/core/error.hpp"
#include "test_support.hpp"

namespace iis::heads {
namespace {

struct Problem {
  torch::Tensor x, y;
  int64_t classes = 3;
};

// C = 3 classes told apart by the first 4 of 10 standardised features; the other 6 are noise.
Problem make_problem(int64_t n = 400) {
  torch::manual_seed(7);
  Problem p;
  p.y = torch::randint(0, p.classes, {n}, torch::kInt64);
  auto centres = torch::zeros({p.classes, 10});
  centres.narrow(1, 0, 4).normal_();
  p.x = centres.index_select(0, p.y) * 1.5 + torch::randn({n, 10});
  p.x = ((p.x - p.x.mean(0)) / p.x.std(0)).contiguous();
  return p;
}

SagaOptions tight(double lambda, double alpha) {
  SagaOptions o;
  o.lambda = lambda;
  o.alpha = alpha;
  o.step = 0.1;
  o.batch_size = 32;
  o.max_epochs = 4000;
  o.tol = 1e-7;
  return o;
}

// The subgradient conditions of F at (W, b): for w ≠ 0, G + λ(1−α)w + λα·sign(w) = 0; for
// w = 0, |G| ≤ λα; the bias's gradient is 0.
void expect_optimal(const Problem& p, const SagaFit& fit, const SagaOptions& o, double tol) {
  const auto [gw, gb] = cross_entropy_gradient(p.x, p.y, fit.weight, fit.bias);
  const auto w = fit.weight.to(torch::kFloat64);
  const auto nz = w.ne(0);
  const auto stationary = gw + o.lambda * (1 - o.alpha) * w + o.lambda * o.alpha * w.sign();
  const double worst_nonzero =
      nz.any().item<bool>() ? stationary.masked_select(nz).abs().max().item<double>() : 0.0;
  EXPECT_LT(worst_nonzero, tol);
  const auto zero = nz.logical_not();
  if (zero.any().item<bool>()) {
    EXPECT_LT(gw.masked_select(zero).abs().max().item<double>(), o.lambda * o.alpha + tol);
  }
  EXPECT_LT(gb.abs().max().item<double>(), tol);
}

TEST(SagaTest, ResultMeetsTheOptimalityConditions) {
  const auto p = make_problem();
  const auto o = tight(0.03, 0.9);
  const auto fit = elastic_net_saga(p.x, p.y, p.classes, o);
  EXPECT_TRUE(fit.converged) << fit.epochs;
  expect_optimal(p, fit, o, 2e-4);
  // Both conditions were exercised: noise features are dropped, signal features kept.
  EXPECT_GT(fit.nonzero_share, 0.1);
  EXPECT_LT(fit.nonzero_share, 0.9);
  EXPECT_NEAR(fit.objective, elastic_net_objective(p.x, p.y, fit.weight, fit.bias, o), 1e-12);
}

TEST(SagaTest, TheLabelFreeSettingsMeetTheConditionsToo) {
  const auto p = make_problem();
  auto o = tight(0.0007, 0.99);
  o.batch_size = 256;
  const auto fit = elastic_net_saga(p.x, p.y, p.classes, o);
  expect_optimal(p, fit, o, 1e-3);
}

// Above λ_max = max|∇_W CE(0, b*)| / α, with b* the intercept-only optimum (log class shares),
// W = 0 is the solution; below it some weight is not.
TEST(SagaTest, WeightsAreExactlyZeroAboveLambdaMax) {
  const auto p = make_problem();
  const auto share = torch::bincount(p.y, {}, p.classes).to(torch::kFloat64) / p.y.size(0);
  const auto [g0, gb0] =
      cross_entropy_gradient(p.x, p.y, torch::zeros({p.classes, 10}), share.log());
  EXPECT_LT(gb0.abs().max().item<double>(), 1e-12);
  const double alpha = 0.99;
  const double lambda_max = g0.abs().max().item<double>() / alpha;

  const auto above = elastic_net_saga(p.x, p.y, p.classes, tight(1.05 * lambda_max, alpha));
  EXPECT_EQ(above.nonzero_share, 0.0);
  const auto centred = share.log() - share.log().mean();
  EXPECT_TRUE(
      torch::allclose(above.bias.to(torch::kFloat64) - above.bias.mean(), centred, 0, 1e-4));
  const auto below = elastic_net_saga(p.x, p.y, p.classes, tight(0.8 * lambda_max, alpha));
  EXPECT_GT(below.nonzero_share, 0.0);
}

TEST(SagaTest, GradientAgreesWithAutograd) {
  const auto p = make_problem(50);
  auto w = torch::randn({p.classes, 10}, torch::kFloat64).requires_grad_();
  auto b = torch::randn({p.classes}, torch::kFloat64).requires_grad_();
  const auto logits = torch::addmm(b, p.x.to(torch::kFloat64), w.t());
  torch::nll_loss(torch::log_softmax(logits, 1), p.y).backward();
  const auto [gw, gb] = cross_entropy_gradient(p.x, p.y, w.detach(), b.detach());
  EXPECT_TRUE(torch::allclose(gw, w.grad(), 1e-6, 1e-7));
  EXPECT_TRUE(torch::allclose(gb, b.grad(), 1e-6, 1e-7));
}

TEST(SagaTest, SameSeedSameWeightsAndSeedsAgreeAtTheOptimum) {
  const auto p = make_problem();
  auto o = tight(0.03, 0.9);
  const auto a = elastic_net_saga(p.x, p.y, p.classes, o);
  const auto b = elastic_net_saga(p.x, p.y, p.classes, o);
  EXPECT_TRUE(torch::equal(a.weight, b.weight));
  EXPECT_EQ(a.epochs, b.epochs);
  o.seed = 5;
  const auto c = elastic_net_saga(p.x, p.y, p.classes, o);
  EXPECT_FALSE(torch::equal(a.weight, c.weight));
  EXPECT_TRUE(torch::allclose(a.weight, c.weight, 0, 2e-3));
}

TEST(SagaTest, StopsAtMaxEpochsAndCallsTheHookEachEpoch) {
  const auto p = make_problem();
  auto o = tight(0.03, 0.9);
  o.max_epochs = 3;
  std::vector<double> objectives;
  const auto fit = elastic_net_saga(
      p.x, p.y, p.classes, o, [&](int64_t, double f, const torch::Tensor&, const torch::Tensor&) {
        objectives.push_back(f);
      });
  EXPECT_EQ(fit.epochs, 3);
  EXPECT_FALSE(fit.converged);
  ASSERT_EQ(objectives.size(), 3u);
  EXPECT_LT(objectives[2], objectives[0]);
}

TEST(SagaTest, DivergenceAndBadOptionsAreClearErrors) {
  const auto p = make_problem();
  auto o = tight(0.03, 0.9);
  o.step = 1e6;
  o.max_epochs = 20;
  EXPECT_IIS_ERROR(elastic_net_saga(p.x, p.y, p.classes, o), "the SAGA solve diverged");
  o = tight(0.03, 1.5);
  EXPECT_IIS_ERROR(elastic_net_saga(p.x, p.y, p.classes, o), "--saga-alpha 1.5");
}

}  // namespace
}  // namespace iis::heads
