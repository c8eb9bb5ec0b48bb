// Tests of end-to-end concepts: hard one-hot forward, straight-through gradients against
// autograd, learning beats a fixed random assignment, bad input, determinism.
#include "iis/concepts/end2end.hpp"

#include <ATen/Parallel.h>

#include <torch/torch.h>
#include <cmath>

#include "iis/core/progress.hpp"
#include "iis/core/random.hpp"
#include "iis/heads/train.hpp"
#include "test_support.hpp"

namespace iis::concepts {
namespace {

namespace F = torch::nn::functional;

torch::Tensor unit_rows(const torch::Tensor& x) { return x / x.norm(2, 1, true).clamp_min(1e-12); }

// LayerNorm over the last dimension without affine parameters, as the heads read scores.
torch::Tensor plain_layer_norm(const torch::Tensor& a) {
  return torch::layer_norm(a, {a.size(-1)}, {}, {}, heads::kLayerNormEps);
}

class End2EndTest : public ::testing::Test {
 protected:
  void SetUp() override { core::set_progress_mode(core::ProgressMode::Quiet); }
};

TEST_F(End2EndTest, ForwardUsesOneHotAssignmentPerElement) {
  torch::manual_seed(3);
  const int64_t m = 40, d = 8, k = 5;
  auto e = unit_rows(torch::randn({m, d}));
  auto x = torch::randn({50, d});
  End2EndOptions o;
  o.num_concepts = k;
  End2EndScores s(e, x, x.clone(), {0.01, 0.02}, o);
  auto index = torch::arange(16, torch::kInt64);
  auto z = s.train_scores(index);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{2, 16, k}));

  // The forward assignment is the argmax of the noisy logits, and the scores are exactly those
  // of concepts built from that one-hot matrix (each element in one concept only).
  auto assign = s.last_train_assignment();
  auto logits =
      torch::layer_norm(s.q(), {k}, {}, {}, heads::kLayerNormEps) * s.gamma().unsqueeze(1) +
      s.beta().unsqueeze(1) + s.last_noise().unsqueeze(0);
  EXPECT_TRUE(torch::equal(assign, logits.argmax(-1)));
  auto soft = torch::softmax(logits / o.temperature, -1);
  for (int64_t h = 0; h < 2; ++h) {
    auto y = F::one_hot(assign[h], k).to(torch::kFloat32);  // M×K
    EXPECT_TRUE(torch::equal(y.sum(1), torch::ones({m})));
    auto p_hard = unit_rows(y.t().mm(e));
    auto expected = plain_layer_norm(x.index_select(0, index).mm(p_hard.t()));
    EXPECT_TRUE(torch::allclose(z[h], expected, 1e-4, 1e-4)) << "head " << h;
    // The soft probabilities are not one-hot, so a soft forward would differ.
    EXPECT_LT(soft[h].amax(-1).min().item<double>(), 0.999);
    auto p_soft = unit_rows(soft[h].t().mm(e));
    auto soft_scores = plain_layer_norm(x.index_select(0, index).mm(p_soft.t()));
    EXPECT_GT((z[h] - soft_scores).abs().max().item<double>(), 1e-2);
  }
  // Concepts of an assignment are the normalised sums of its elements.
  auto p = s.concepts_of(assign[0]);
  auto members = (assign[0] == assign[0][0]).nonzero().squeeze(1);
  auto sum = e.index_select(0, members).sum(0);
  EXPECT_TRUE(torch::allclose(p[assign[0][0].item<int64_t>()], sum / sum.norm(), 1e-5, 1e-6));
}

TEST_F(End2EndTest, StraightThroughGradientsReachTheAssignmentAndMatchAutograd) {
  torch::manual_seed(5);
  const int64_t m = 60, d = 6, k = 4, h = 2;
  auto e = unit_rows(torch::randn({m, d}));
  auto x = torch::randn({30, d});
  End2EndOptions o;
  o.num_concepts = k;
  o.temperature = 0.5;  // soft enough that every element's probabilities carry gradient
  End2EndScores s(e, x, x.clone(), {0.01, 0.01}, o);
  // One Adam step with some gradient first, so the heads differ and γ, β are not 1, 0.
  auto index = torch::arange(30, torch::kInt64);
  s.train_scores(index);
  s.backward(torch::randn({h, 30, k}));
  s.step(1.0);
  auto z = s.train_scores(index);
  auto grad = torch::randn({h, 30, k});
  s.backward(grad);
  EXPECT_GT(s.grad_q().abs().sum().item<double>(), 0);
  EXPECT_GT(s.grad_gamma().abs().sum().item<double>(), 0);

  // Reference: the same computation through autograd with the usual straight-through trick
  // y = one_hot − soft.detach() + soft.
  auto q = s.q().detach().clone().requires_grad_(true);
  auto gamma = s.gamma().detach().clone().requires_grad_(true);
  auto beta = s.beta().detach().clone().requires_grad_(true);
  auto u = (torch::layer_norm(q, {k}, {}, {}, heads::kLayerNormEps) * gamma.unsqueeze(1) +
            beta.unsqueeze(1) + s.last_noise().unsqueeze(0)) /
           o.temperature;
  auto soft = torch::softmax(u, -1);
  auto hard = F::one_hot(u.argmax(-1), k).to(torch::kFloat32);
  auto y = hard - soft.detach() + soft;
  auto sums = torch::bmm(y.transpose(1, 2), e.unsqueeze(0).expand({h, m, d}));
  ASSERT_GT(sums.norm(2, -1).min().item<double>(), 0) << "every concept must have elements";
  auto p = sums / sums.norm(2, -1, true);
  auto ref = plain_layer_norm(torch::matmul(x.unsqueeze(0), p.transpose(1, 2)));
  EXPECT_TRUE(torch::allclose(z, ref.detach(), 1e-4, 1e-4));
  (ref * grad).sum().backward();
  auto scale = q.grad().abs().max().item<double>();
  ASSERT_GT(scale, 0);
  EXPECT_LT((s.grad_q() - q.grad()).abs().max().item<double>(), 1e-3 * scale);
  EXPECT_TRUE(torch::allclose(s.grad_gamma(), gamma.grad(), 1e-3, 1e-3 * scale));
  EXPECT_TRUE(torch::allclose(s.grad_beta(), beta.grad(), 1e-3, 1e-3 * scale));
}

TEST_F(End2EndTest, GumbelNoiseIsSeededAndIndependentOfThreads) {
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  auto a = gumbel_noise({300, 200}, 42);
  at::set_num_threads(2);
  auto b = gumbel_noise({300, 200}, 42);
  at::set_num_threads(before);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, gumbel_noise({300, 200}, 43)));
  // Standard Gumbel: mean = Euler–Mascheroni constant, variance π²/6.
  EXPECT_NEAR(a.mean().item<double>(), 0.5772, 0.02);
  EXPECT_NEAR(a.var().item<double>(), M_PI * M_PI / 6, 0.05);
}

TEST_F(End2EndTest, BadInputGivesClearErrors) {
  auto e = unit_rows(torch::randn({10, 4}));
  auto x = torch::randn({20, 4});
  End2EndOptions o;
  o.num_concepts = 11;
  EXPECT_IIS_ERROR(End2EndScores(e, x, x, {0.01}, o), "--num-concepts 11 is more than the 10");
  o.num_concepts = 3;
  EXPECT_IIS_ERROR(End2EndScores(torch::zeros({0, 4}), x, x, {0.01}, o), "element set is empty");
  EXPECT_IIS_ERROR(End2EndScores(e, torch::randn({20, 5}), torch::randn({20, 5}), {0.01}, o),
                   "dimension");
  o.temperature = 0;
  EXPECT_IIS_ERROR(End2EndScores(e, x, x, {0.01}, o), "--temperature");
}

// Classes differ along C orthonormal directions; each element is one class direction at
// cosine ~0.45 plus noise, so no single element is a good concept but a group is.
struct Problem {
  heads::TrainSplits splits;
  torch::Tensor elements;
};

Problem make_problem() {
  torch::manual_seed(11);
  const int64_t c = 4, d = 48, m = 160;
  auto dirs = torch::zeros({c, d});
  for (int64_t i = 0; i < c; ++i) dirs[i][i] = 1;
  Problem p;
  p.splits.num_classes = c;
  auto make = [&](int64_t rows, torch::Tensor& x, torch::Tensor& y) {
    y = torch::randint(0, c, {rows}, torch::kInt64);
    x = (dirs.index_select(0, y) * 2.0 + torch::randn({rows, d})).contiguous();
  };
  make(2000, p.splits.train_features, p.splits.train_labels);
  make(1000, p.splits.val_features, p.splits.val_labels);
  auto owner = torch::arange(m, torch::kInt64).remainder(c);
  p.elements = unit_rows(dirs.index_select(0, owner) * 0.5 * std::sqrt(d) / 3.0 +
                         torch::randn({m, d}) / 3.0 * 1.0);
  return p;
}

heads::TrainOptions train_options(uint64_t seed) {
  heads::TrainOptions o;
  o.ratios = {0, 0.5, 0.75};
  o.lrs = {0.01};
  o.epochs = 15;
  o.batch_size = 128;
  o.seed = seed;
  o.train_standard = false;
  return o;
}

double mean_top1(const heads::TrainOutcome& out) {
  double sum = 0;
  for (const auto& h : out.interpretable) sum += h.top1;
  return sum / static_cast<double>(out.interpretable.size());
}

TEST_F(End2EndTest, LearnedAssignmentBeatsAFixedRandomAssignment) {
  auto p = make_problem();
  const int64_t k = 8;
  auto to = train_options(0);
  // Mean cosine of an element with its class direction (documents the generated data).
  const double align = p.elements.narrow(1, 0, 4).abs().amax(1).mean().item<double>();
  EXPECT_GT(align, 0.3);
  EXPECT_LT(align, 0.7);

  double random_acc = 0;
  for (uint64_t seed : {1, 2, 3}) {
    auto perm = core::seeded_permutation(p.elements.size(0), seed);
    auto assign = torch::tensor(perm, torch::kInt64).remainder(k);  // balanced random groups
    End2EndOptions eo;
    eo.num_concepts = k;
    End2EndScores helper(p.elements, p.splits.train_features, p.splits.val_features, {0.01}, eo);
    auto concepts = helper.concepts_of(assign);
    heads::PrecomputedScores fixed(
        heads::normalized_concept_scores(p.splits.train_features, concepts),
        heads::normalized_concept_scores(p.splits.val_features, concepts));
    random_acc += mean_top1(heads::train_heads(p.splits, fixed, to)) / 3;
  }

  End2EndOptions eo;
  eo.num_concepts = k;
  eo.seed = 0;
  End2EndScores learned(p.elements, p.splits.train_features, p.splits.val_features,
                        std::vector<double>(to.ratios.size(), 0.01), eo);
  auto out = heads::train_heads(p.splits, learned, to);
  const double learned_acc = mean_top1(out);
  std::cout << "mean top-1 over ratios: end2end " << learned_acc << ", random assignment "
            << random_acc << "\n";
  EXPECT_GT(learned_acc, random_acc + 0.05);
  // Training moved the assignment away from its start.
  EXPECT_FALSE(torch::equal(learned.assignment_at(1), learned.assignment()));
}

TEST_F(End2EndTest, DeterministicPerSeedAndValidationUsesTheHardAssignment) {
  auto p = make_problem();
  auto to = train_options(7);
  to.epochs = 4;
  auto fit = [&](uint64_t seed) {
    End2EndOptions eo;
    eo.num_concepts = 6;
    eo.seed = seed;
    auto s =
        std::make_unique<End2EndScores>(p.elements, p.splits.train_features, p.splits.val_features,
                                        std::vector<double>(to.ratios.size(), 0.01), eo);
    auto out = heads::train_heads(p.splits, *s, to);
    return std::make_pair(std::move(s), out);
  };
  auto [a, out_a] = fit(0);
  auto [b, out_b] = fit(0);
  auto [c, out_c] = fit(1);
  EXPECT_TRUE(torch::equal(a->assignment(), b->assignment()));
  EXPECT_TRUE(torch::equal(a->q(), b->q()));
  for (size_t i = 0; i < out_a.interpretable.size(); ++i) {
    EXPECT_EQ(out_a.interpretable[i].top1, out_b.interpretable[i].top1);
  }
  EXPECT_FALSE(torch::equal(a->q(), c->q()));
  for (int64_t e = 1; e <= to.epochs; ++e) {
    EXPECT_EQ(a->assignment_at(e).sizes(), (std::vector<int64_t>{3, p.elements.size(0)}));
  }
  EXPECT_TRUE(torch::equal(a->assignment_at(to.epochs), a->assignment()));
  // An epoch that was not trained is a caller's bug, not a user error.
  EXPECT_THROW(a->assignment_at(to.epochs + 1), InternalError);

  // Validation scores come from the noiseless hard assignment, twice the same.
  auto rows = torch::arange(10, torch::kInt64);
  auto v = a->val_scores(rows);
  EXPECT_TRUE(torch::equal(v, a->val_scores(rows)));
  auto concepts = a->concepts_of(a->assignment());
  for (int64_t h = 0; h < 3; ++h) {
    auto expected =
        plain_layer_norm(p.splits.val_features.index_select(0, rows).mm(concepts[h].t()));
    EXPECT_TRUE(torch::allclose(v[h], expected, 1e-4, 1e-4));
  }
}

}  // namespace
}  // namespace iis::concepts
