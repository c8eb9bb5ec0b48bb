// Training the standard head and the interpretable heads at every sparsity ratio (and every
// learning rate) in one pass over the data, with per-epoch evaluation and selection.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "iis/heads/head_stack.hpp"
#include "iis/heads/threshold.hpp"

namespace iis::heads {

// Where the epoch and learning rate of each reported figure are picked.
//   Val:     best validation top-1 over epochs and lrs (the reference; flatters the figure).
//   Holdout: best top-1 on a seeded hold-out part of the training rows; validation accuracy
//            at that pick is reported.
enum class SelectOn { Val, Holdout };
SelectOn parse_select_on(const std::string& name);  // "val" | "holdout"
std::string to_string(SelectOn select);

// Training rows held out of `rows` by --holdout-fraction: max(1, round(fraction·rows)); throws
// iis::Error when that leaves no row to train on.
int64_t holdout_count(int64_t rows, double fraction);

// Every knob of one training run; defaults are the reference's (docs/design.md §5).
struct TrainOptions {
  std::vector<double> ratios{0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.98};  // --ratios, in [0,1)
  std::vector<double> lrs{0.01};  // --lrs; every head is trained at each
  int64_t epochs = 30;            // --epochs
  int64_t batch_size = 1024;      // --batch-size
  double lr_decay = 0.99;         // lr · decay^epoch (ExponentialLR stepped per epoch)
  ThresholdRule threshold = ThresholdRule::Strict;  // --threshold
  SelectOn select_on = SelectOn::Val;               // --select-on
  double holdout_fraction = 0.1;                    // --holdout-fraction (Holdout only)
  uint64_t seed = 0;                                // init, shuffles and hold-out split
  bool train_standard = true;                       // the standard head on the features
  std::string progress_stage = "training heads";    // label of the progress bar
};

// The rows the heads learn from and are measured on, on one device.
struct TrainSplits {
  torch::Tensor train_features;  // N×D float32
  torch::Tensor train_labels;    // N int64 in [0, C)
  torch::Tensor val_features;    // Nv×D float32
  torch::Tensor val_labels;      // Nv int64 in [0, C)
  int64_t num_classes = 0;       // C
};

// What the interpretable heads read: normalised concept scores per row. The precomputed
// kind is fixed; a learned kind (end2end concepts) returns trainable scores, receives their
// gradient in backward() and updates itself in step().
class ConceptScores {
 public:
  virtual ~ConceptScores() = default;
  virtual int64_t num_concepts() const = 0;
  // Scores of training rows `index` (B int64, device): B×K, or H×B×K if per head.
  virtual torch::Tensor train_scores(const torch::Tensor& index) = 0;
  // Scores of validation rows `index`.
  virtual torch::Tensor val_scores(const torch::Tensor& index) = 0;
  virtual bool trainable() const { return false; }
  // dL/dscores for the last train_scores() call (same shape).
  virtual void backward(const torch::Tensor& /*grad*/) {}
  // One optimiser step with the learning rate scaled by `lr_scale`.
  virtual void step(double /*lr_scale*/) {}
  // Scores of training rows for evaluation (hold-out rows): no noise, no state for backward.
  virtual torch::Tensor eval_train_scores(const torch::Tensor& index) {
    return train_scores(index);
  }
  // Called once after each epoch's updates, before that epoch is evaluated.
  virtual void end_epoch() {}
};

// The ε of every LayerNorm over the K concepts (the heads' and the end2end assignments'):
// nn.LayerNorm's default, which the reference uses.
constexpr double kLayerNormEps = 1e-5;

// LayerNorm over K of x Pᵀ without the affine part: ((a − mean_K a) / sqrt(var_K a + ε)),
// the part of the interpretable head that no trained parameter touches. features: N×D,
// concepts: K×D (float32, same device); returns N×K. Works in chunks of rows.
torch::Tensor normalized_concept_scores(const torch::Tensor& features,
                                        const torch::Tensor& concepts, int64_t chunk = 16384);

// Scores computed once per dataset (the shipped path).
class PrecomputedScores : public ConceptScores {
 public:
  PrecomputedScores(torch::Tensor train, torch::Tensor val);  // N×K, Nv×K
  int64_t num_concepts() const override { return train_.size(1); }
  torch::Tensor train_scores(const torch::Tensor& index) override;
  torch::Tensor val_scores(const torch::Tensor& index) override;

 private:
  torch::Tensor train_, val_;
};

// One epoch of one head.
struct EpochRecord {
  double train_loss = 0;  // mean over the epoch's batches
  double val_top1 = 0;    // fractions in [0, 1]
  double val_top5 = 0;
  double holdout_top1 = 0;  // NaN unless select_on = Holdout
};

// The outcome of one head (one ratio or the standard head, at one lr).
struct HeadOutcome {
  bool standard = false;
  double ratio = 0;  // unused for the standard head
  double lr = 0;
  int64_t kept = 0;  // concepts kept per row (interpretable)
  std::vector<EpochRecord> epochs;
  int64_t epoch = 0;       // picked epoch, 1-based
  double top1 = 0;         // validation top-1 at the pick
  double top5 = 0;         // Val: best validation top-5 over epochs; Holdout: at the pick
  int64_t top5_epoch = 0;  // 1-based
  double select_top1 = 0;  // the figure the pick maximised (val or hold-out top-1)
  HeadParams params;       // parameters at the picked epoch (CPU)
};

struct TrainOutcome {
  std::vector<HeadOutcome> standard;       // one per lr
  std::vector<HeadOutcome> interpretable;  // ratio-major: [ratio i][lr j] at i·L + j
  int64_t fit_rows = 0, holdout_rows = 0;
  double seconds = 0;
};

// Trains every head for options.epochs epochs over the same seeded shuffles; see TrainOptions.
// Same seed, same machine and thread count → identical numbers.
TrainOutcome train_heads(const TrainSplits& splits, ConceptScores& scores,
                         const TrainOptions& options);

// Among the outcomes of one ratio at several lrs, the reported one (largest select_top1;
// the first on ties).
const HeadOutcome& best_over_lrs(const std::vector<HeadOutcome>& per_lr);

}  // namespace iis::heads
