// Tests of joint training: joint equals alone, concept-aligned vs orthogonal class signal,
// determinism, and hold-out selection.
#include "iis/heads/train.hpp"

#include <torch/torch.h>

#include <iostream>

#include "iis/core/progress.hpp"
#include "iis/score/score.hpp"
#include "test_support.hpp"

namespace iis::heads {
namespace {

// Features in D = 32 whose C classes differ along `class_dirs` (C×D), plus unit noise.
TrainSplits make_splits(const torch::Tensor& class_dirs, int64_t n, int64_t nv, double sep,
                        int seed) {
  torch::manual_seed(seed);
  const int64_t c = class_dirs.size(0), d = class_dirs.size(1);
  TrainSplits s;
  s.num_classes = c;
  auto make = [&](int64_t rows, torch::Tensor& x, torch::Tensor& y) {
    y = torch::randint(0, c, {rows}, torch::kInt64);
    x = (class_dirs.index_select(0, y) * sep + torch::randn({rows, d})).contiguous();
  };
  make(n, s.train_features, s.train_labels);
  make(nv, s.val_features, s.val_labels);
  return s;
}

// K unit concepts spanning the first 16 coordinates; the first C of them are `class_dirs`.
torch::Tensor make_concepts(const torch::Tensor& class_dirs, int64_t k) {
  torch::manual_seed(99);
  auto rest = torch::zeros({k - class_dirs.size(0), 32});
  rest.narrow(1, 0, 16).normal_();
  auto e = torch::cat({class_dirs, rest});
  return e / e.norm(2, 1, true);
}

// C orthonormal directions inside (or outside) the concepts' 16-dimensional subspace.
torch::Tensor directions(int64_t c, bool inside) {
  auto dirs = torch::zeros({c, 32});
  for (int64_t i = 0; i < c; ++i) dirs[i][inside ? i : 16 + i] = 1;
  return dirs;
}

struct Run {
  TrainOutcome outcome;
  double iis = 0;
};

Run run(const TrainSplits& s, const torch::Tensor& concepts, const TrainOptions& o) {
  PrecomputedScores scores(normalized_concept_scores(s.train_features, concepts),
                           normalized_concept_scores(s.val_features, concepts));
  Run r;
  r.outcome = train_heads(s, scores, o);
  std::vector<double> acc;
  for (size_t i = 0; i < o.ratios.size(); ++i) {
    std::vector<HeadOutcome> per_lr(r.outcome.interpretable.begin() + i * o.lrs.size(),
                                    r.outcome.interpretable.begin() + (i + 1) * o.lrs.size());
    acc.push_back(best_over_lrs(per_lr).top1);
  }
  if (!r.outcome.standard.empty()) {
    r.iis = score::iis(o.ratios, acc, best_over_lrs(r.outcome.standard).top1);
  }
  return r;
}

class TrainTest : public ::testing::Test {
 protected:
  void SetUp() override { core::set_progress_mode(core::ProgressMode::Quiet); }
};

TEST_F(TrainTest, JointTrainingEqualsTrainingEachRatioAlone) {
  auto dirs = directions(4, true);
  auto s = make_splits(dirs, 700, 300, 1.5, 1);
  auto concepts = make_concepts(dirs, 24);
  TrainOptions o;
  o.ratios = {0, 0.5, 0.9};
  o.lrs = {0.01, 0.05};
  o.epochs = 3;
  o.batch_size = 128;
  auto joint = run(s, concepts, o);
  for (size_t i = 0; i < o.ratios.size(); ++i) {
    TrainOptions alone = o;
    alone.ratios = {o.ratios[i]};
    auto single = run(s, concepts, alone);
    for (size_t j = 0; j < o.lrs.size(); ++j) {
      const auto& a = joint.outcome.interpretable[i * o.lrs.size() + j];
      const auto& b = single.outcome.interpretable[j];
      ASSERT_EQ(a.epochs.size(), b.epochs.size());
      for (size_t e = 0; e < a.epochs.size(); ++e) {
        EXPECT_NEAR(a.epochs[e].train_loss, b.epochs[e].train_loss, 1e-5);
        EXPECT_NEAR(a.epochs[e].val_top1, b.epochs[e].val_top1, 2.0 / 300);
      }
      EXPECT_TRUE(torch::allclose(a.params.weight, b.params.weight, 1e-4, 1e-5));
      EXPECT_TRUE(torch::allclose(a.params.gamma, b.params.gamma, 1e-4, 1e-5));
    }
  }
}

TEST_F(TrainTest, IisSeparatesConceptAlignedFromOrthogonalSignal) {
  TrainOptions o;
  o.epochs = 12;
  o.batch_size = 256;
  o.lrs = {0.01};
  auto aligned_dirs = directions(4, true), orthogonal_dirs = directions(4, false);
  auto concepts = make_concepts(aligned_dirs, 40);
  auto aligned = run(make_splits(aligned_dirs, 4000, 1000, 3.0, 2), concepts, o);
  auto orthogonal = run(make_splits(orthogonal_dirs, 4000, 1000, 3.0, 2), concepts, o);
  // Both representations carry the class: the standard head is accurate on each.
  EXPECT_GT(aligned.outcome.standard[0].top1, 0.9);
  EXPECT_GT(orthogonal.outcome.standard[0].top1, 0.9);
  // Aligned: retention near 1 up to high sparsity (at r = 0.9, 3 of 40 concepts remain).
  const double std_acc = aligned.outcome.standard[0].top1;
  const auto& at_09 = aligned.outcome.interpretable[5];
  ASSERT_DOUBLE_EQ(at_09.ratio, 0.9);
  EXPECT_GT(at_09.top1 / std_acc, 0.9);
  // Orthogonal: the concepts see only noise, so the sparse heads fall towards chance (0.25).
  EXPECT_LT(orthogonal.outcome.interpretable[5].top1, 0.45);
  std::cout << "IIS aligned " << aligned.iis << ", orthogonal " << orthogonal.iis
            << "; ARR(0.9) aligned " << at_09.top1 / std_acc << "\n";
  EXPECT_GT(aligned.iis, 0.85);
  EXPECT_LT(orthogonal.iis, 0.5);
}

TEST_F(TrainTest, SameSeedGivesIdenticalNumbers) {
  auto dirs = directions(3, true);
  auto s = make_splits(dirs, 900, 200, 1.0, 3);
  auto concepts = make_concepts(dirs, 20);
  TrainOptions o;
  o.ratios = {0.1, 0.7};
  o.epochs = 3;
  o.batch_size = 100;
  auto a = run(s, concepts, o), b = run(s, concepts, o);
  for (size_t h = 0; h < a.outcome.interpretable.size(); ++h) {
    for (size_t e = 0; e < 3; ++e) {
      EXPECT_EQ(a.outcome.interpretable[h].epochs[e].train_loss,
                b.outcome.interpretable[h].epochs[e].train_loss);
      EXPECT_EQ(a.outcome.interpretable[h].epochs[e].val_top1,
                b.outcome.interpretable[h].epochs[e].val_top1);
    }
    EXPECT_TRUE(torch::equal(a.outcome.interpretable[h].params.weight,
                             b.outcome.interpretable[h].params.weight));
  }
  o.seed = 1;
  auto c = run(s, concepts, o);
  EXPECT_NE(a.outcome.interpretable[0].epochs[0].train_loss,
            c.outcome.interpretable[0].epochs[0].train_loss);
}

TEST_F(TrainTest, HoldoutPicksOnHeldOutRows) {
  auto dirs = directions(3, true);
  auto s = make_splits(dirs, 1000, 200, 1.0, 4);
  auto concepts = make_concepts(dirs, 20);
  TrainOptions o;
  o.ratios = {0.5};
  o.epochs = 4;
  o.batch_size = 128;
  o.select_on = SelectOn::Holdout;
  o.holdout_fraction = 0.2;
  auto r = run(s, concepts, o);
  EXPECT_EQ(r.outcome.holdout_rows, 200);
  EXPECT_EQ(r.outcome.fit_rows, 800);
  const auto& h = r.outcome.interpretable[0];
  double best = -1;
  int64_t best_epoch = 0;
  for (size_t e = 0; e < h.epochs.size(); ++e) {
    EXPECT_FALSE(std::isnan(h.epochs[e].holdout_top1));
    if (h.epochs[e].holdout_top1 > best) {
      best = h.epochs[e].holdout_top1;
      best_epoch = static_cast<int64_t>(e) + 1;
    }
  }
  EXPECT_EQ(h.epoch, best_epoch);
  EXPECT_DOUBLE_EQ(h.top1, h.epochs[best_epoch - 1].val_top1);
  EXPECT_DOUBLE_EQ(h.select_top1, best);
}

}  // namespace
}  // namespace iis::heads
