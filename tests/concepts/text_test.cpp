// Text concepts: the cos³ similarity against its formula and finite differences, and the two
// filters on generated data where the concepts each filter must drop are planted.
#include "iis/concepts/text.hpp"

#include <torch/torch.h>

#include <cmath>

#include "test_support.hpp"

namespace iis::concepts {
namespace {

// cos³ of column t written out in doubles: centre, cube, cosine.
double cos_cubed_by_hand(const torch::Tensor& p, const torch::Tensor& a, int64_t t) {
  const int64_t n = p.size(0);
  double mp = 0, ma = 0;
  for (int64_t i = 0; i < n; ++i) {
    mp += p[i][t].item<double>();
    ma += a[i][t].item<double>();
  }
  mp /= static_cast<double>(n);
  ma /= static_cast<double>(n);
  double dot = 0, np = 0, na = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = std::pow(p[i][t].item<double>() - mp, 3);
    const double y = std::pow(a[i][t].item<double>() - ma, 3);
    dot += x * y;
    np += x * x;
    na += y * y;
  }
  return dot / std::sqrt(np * na);
}

TEST(TextConcepts, CosCubedIsTheCosineOfCentredCubes) {
  torch::manual_seed(1);
  const auto p = torch::randn({30, 4}, torch::kFloat64);
  const auto a = torch::randn({30, 4}, torch::kFloat64);
  const auto sim = cos_cubed_similarity(p, a);
  for (int64_t t = 0; t < 4; ++t)
    EXPECT_NEAR(sim[t].item<double>(), cos_cubed_by_hand(p, a, t), 1e-12);
  // A column against itself is 1; against its negation −1; the cube keeps the sign.
  EXPECT_NEAR(cos_cubed_similarity(a, a)[0].item<double>(), 1, 1e-12);
  EXPECT_NEAR(cos_cubed_similarity(-a, a)[0].item<double>(), -1, 1e-12);
}

// The gradient the projection follows, against central finite differences of the formula.
TEST(TextConcepts, CosCubedGradientMatchesFiniteDifferences) {
  torch::manual_seed(2);
  const auto a = torch::randn({12, 2}, torch::kFloat64);
  auto p = torch::randn({12, 2}, torch::kFloat64).requires_grad_(true);
  cos_cubed_similarity(p, a).sum().backward();
  const auto grad = p.grad().clone();
  const double h = 1e-6;
  for (int64_t i = 0; i < 12; ++i) {
    for (int64_t t = 0; t < 2; ++t) {
      auto up = p.detach().clone(), down = p.detach().clone();
      up[i][t] += h;
      down[i][t] -= h;
      const double numeric =
          (cos_cubed_by_hand(up, a, t) - cos_cubed_by_hand(down, a, t)) / (2 * h);
      EXPECT_NEAR(grad[i][t].item<double>(), numeric, 1e-6) << i << "," << t;
    }
  }
}

TEST(TextConcepts, ClipActivationsAreCosinesAndTopKMeansPerColumn) {
  const auto images = torch::tensor({{3.0f, 4.0f}, {0.0f, 2.0f}});
  const auto texts = torch::tensor({{1.0f, 0.0f}, {0.0f, 5.0f}});
  const auto a = clip_activations(images, texts);
  EXPECT_NEAR(a[0][0].item<float>(), 0.6f, 1e-6);
  EXPECT_NEAR(a[0][1].item<float>(), 0.8f, 1e-6);
  EXPECT_NEAR(a[1][1].item<float>(), 1.0f, 1e-6);
  const auto m = top_k_mean(torch::tensor({{1.0f}, {5.0f}, {3.0f}}), 2);
  EXPECT_FLOAT_EQ(m[0].item<float>(), 4.0f);
}

// Latent factors z (4) that the representation holds, factors u (4) it does not; CLIP sees both.
// Concepts 0-3 follow z (kept), 4-7 follow u (CLIP activates them, the representation cannot
// predict them: the interpretability cut-off drops them), 8-9 lie where CLIP's image features
// are always 0 (the CLIP cut-off drops them).
struct Planted {
  torch::Tensor train, val, clip_train, clip_val, text;
  std::vector<std::string> names;
};

Planted planted(int64_t n, int64_t nv) {
  torch::manual_seed(3);
  const auto mix = torch::randn({4, 16});
  auto make = [&](int64_t rows, torch::Tensor& x, torch::Tensor& clip) {
    const auto z = torch::randn({rows, 4});
    const auto u = torch::randn({rows, 4});
    x = torch::matmul(z, mix) + 0.05 * torch::randn({rows, 16});
    clip = torch::cat({z, u, torch::zeros({rows, 2})}, 1);
  };
  Planted p;
  make(n, p.train, p.clip_train);
  make(nv, p.val, p.clip_val);
  p.text = torch::eye(10);
  for (const char* name : {"z0", "z1", "z2", "z3", "u0", "u1", "u2", "u3", "never0", "never1"})
    p.names.push_back(name);
  return p;
}

std::vector<std::string> names_of(const std::vector<DroppedConcept>& dropped) {
  std::vector<std::string> names;
  for (const auto& d : dropped) names.push_back(d.name);
  return names;
}

TEST(TextConcepts, EachFilterDropsExactlyThePlantedConcepts) {
  const Planted p = planted(3000, 1000);
  TextOptions o;
  o.proj_steps = 3000;
  o.proj_lr = 1e-2;
  const auto c = text_concepts(p.train, p.val, p.clip_train, p.clip_val, p.text, p.names, o, 0);
  EXPECT_EQ(names_of(c.dropped_by_clip_cutoff), (std::vector<std::string>{"never0", "never1"}));
  EXPECT_EQ(names_of(c.dropped_by_interpretability_cutoff),
            (std::vector<std::string>{"u0", "u1", "u2", "u3"}));
  EXPECT_EQ(c.kept, (std::vector<std::string>{"z0", "z1", "z2", "z3"}));
  for (const auto& d : c.dropped_by_clip_cutoff) EXPECT_LE(d.value, o.clip_cutoff);
  EXPECT_EQ(c.projection.sizes(), (torch::IntArrayRef{4, 16}));
  EXPECT_GT(c.best_val_similarity, 0);
  // The scores are standardised on the training rows.
  EXPECT_TRUE(torch::allclose(c.train_scores.mean(0), torch::zeros({4}), 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(c.train_scores.std(0), torch::ones({4}), 1e-4, 1e-4));
  EXPECT_EQ(c.val_scores.sizes(), (torch::IntArrayRef{1000, 4}));
}

TEST(TextConcepts, SameSeedSameConcepts) {
  const Planted p = planted(400, 200);
  TextOptions o;
  o.proj_steps = 120;
  o.interpretability_cutoff = -1;
  const auto a = text_concepts(p.train, p.val, p.clip_train, p.clip_val, p.text, p.names, o, 7);
  const auto b = text_concepts(p.train, p.val, p.clip_train, p.clip_val, p.text, p.names, o, 7);
  EXPECT_TRUE(torch::equal(a.projection, b.projection));
  EXPECT_TRUE(torch::equal(a.train_scores, b.train_scores));
}

TEST(TextConcepts, AFilterThatDropsEverythingSaysWhichAndWhatToLower) {
  const Planted p = planted(400, 200);
  TextOptions o;
  o.proj_steps = 60;
  o.clip_cutoff = 0.99;
  EXPECT_IIS_ERROR(text_concepts(p.train, p.val, p.clip_train, p.clip_val, p.text, p.names, o, 0),
                   "the CLIP cut-off dropped all 10 concepts");
  o.clip_cutoff = 0.25;
  o.interpretability_cutoff = 0.999;
  EXPECT_IIS_ERROR(text_concepts(p.train, p.val, p.clip_train, p.clip_val, p.text, p.names, o, 0),
                   "the interpretability cut-off dropped all 8 concepts");
}

TEST(TextConcepts, OptionsOutOfRangeNameTheirFlag) {
  TextOptions o;
  EXPECT_NO_THROW(validate(o));
  o.clip_cutoff = 1;
  EXPECT_IIS_ERROR(validate(o), "--clip-cutoff");
  o = TextOptions();
  o.proj_steps = 0;
  EXPECT_IIS_ERROR(validate(o), "--proj-steps");
  o = TextOptions();
  o.final_layer = "lasso";
  EXPECT_IIS_ERROR(validate(o), "--final-layer 'lasso' is not a final layer");
  o.final_layer = "saga";
  EXPECT_NO_THROW(validate(o));
  o.saga.step = 0;
  EXPECT_IIS_ERROR(validate(o), "--saga-step");
  o.final_layer = "adam";  // the SAGA options are not read then
  EXPECT_NO_THROW(validate(o));
}

}  // namespace
}  // namespace iis::concepts
