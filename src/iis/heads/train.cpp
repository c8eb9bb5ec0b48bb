// The training loop: all heads, one pass per batch, evaluation and selection per epoch.
#include "iis/heads/train.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include "iis/core/error.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/random.hpp"
#include "iis/core/threads.hpp"

namespace iis::heads {

SelectOn parse_select_on(const std::string& name) {
  if (name == "val") return SelectOn::Val;
  if (name == "holdout") return SelectOn::Holdout;
  IIS_FAIL("--select-on: unknown choice '" << name << "'",
           "valid: val (the reference: best validation epoch), holdout");
}

std::string to_string(SelectOn select) { return select == SelectOn::Val ? "val" : "holdout"; }

int64_t holdout_count(int64_t rows, double fraction) {
  const auto n_hold = std::max<int64_t>(1, std::llround(fraction * static_cast<double>(rows)));
  IIS_CHECK_HINT(n_hold < rows,
                 "--holdout-fraction " << fraction << " leaves no training rows of " << rows,
                 "use a smaller --holdout-fraction or more training rows");
  return n_hold;
}

torch::Tensor normalized_concept_scores(const torch::Tensor& features,
                                        const torch::Tensor& concepts, int64_t chunk) {
  torch::NoGradGuard no_grad;
  const int64_t n = features.size(0), k = concepts.size(0);
  auto out = torch::empty({n, k}, features.options().dtype(torch::kFloat32));
  auto pt = concepts.to(torch::kFloat32).t().contiguous();
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t len = std::min(chunk, n - start);
    auto a = torch::mm(features.narrow(0, start, len).to(torch::kFloat32), pt);
    out.narrow(0, start, len).copy_(torch::layer_norm(a, {k}, {}, {}, kLayerNormEps));
  }
  return out;
}

PrecomputedScores::PrecomputedScores(torch::Tensor train, torch::Tensor val)
    : train_(std::move(train)), val_(std::move(val)) {}

torch::Tensor PrecomputedScores::train_scores(const torch::Tensor& index) {
  return train_.index_select(0, index);
}

torch::Tensor PrecomputedScores::val_scores(const torch::Tensor& index) {
  return val_.index_select(0, index);
}

const HeadOutcome& best_over_lrs(const std::vector<HeadOutcome>& per_lr) {
  IIS_ASSERT(!per_lr.empty(), "no learning rates were trained");
  size_t best = 0;
  for (size_t i = 1; i < per_lr.size(); ++i) {
    if (per_lr[i].select_top1 > per_lr[best].select_top1) best = i;
  }
  return per_lr[best];
}

namespace {

// Thresholds each row had on its last pass, used as the first guess of the next pass (the
// CPU selection is several times faster with a good guess). Never changes a result.
class ThresholdMemory {
 public:
  ThresholdMemory(int64_t heads, int64_t rows)
      : heads_(heads),
        rows_(rows),
        stored_(heads * rows, NAN),
        width_(heads, 0.f),
        head_mean_(heads, NAN) {}

  ThresholdHint hint(const torch::Tensor& index) const {
    const int64_t b = index.size(0);
    const int64_t* ix = index.data_ptr<int64_t>();
    ThresholdHint h;
    h.guess = torch::empty({heads_, b}, torch::kFloat32);
    float* g = h.guess.data_ptr<float>();
    for (int64_t head = 0; head < heads_; ++head) {
      const float* row = stored_.data() + head * rows_;
      for (int64_t i = 0; i < b; ++i) {
        const float v = row[ix[i]];
        g[head * b + i] = std::isnan(v) ? head_mean_[head] : v;
      }
    }
    h.width = width_;
    return h;
  }

  // Plain loops over H×B floats: a batch's update costs microseconds, not LibTorch calls.
  void update(const torch::Tensor& index, const torch::Tensor& threshold,
              const ThresholdHint& used) {
    auto t = threshold.to(torch::kCPU).contiguous();
    const int64_t b = index.size(0);
    const int64_t* ix = index.data_ptr<int64_t>();
    const float* tv = t.data_ptr<float>();
    const float* gv = used.guess.data_ptr<float>();
    for (int64_t head = 0; head < heads_; ++head) {
      const float* th = tv + head * b;
      const float* gh = gv + head * b;
      float* row = stored_.data() + head * rows_;
      double err_sum = 0, sum = 0, sum_sq = 0, abs_sum = 0;
      int64_t known = 0;
      for (int64_t i = 0; i < b; ++i) {
        row[ix[i]] = th[i];
        const double err = std::fabs(static_cast<double>(th[i]) - gh[i]);
        if (std::isfinite(err)) {
          err_sum += err;
          ++known;
        }
        sum += th[i];
        sum_sq += static_cast<double>(th[i]) * th[i];
        abs_sum += std::fabs(th[i]);
      }
      const double mean = sum / b;
      const double spread = std::sqrt(std::max(0.0, sum_sq / b - mean * mean));
      const double e = known > 0 ? err_sum / known : spread;
      width_[head] =
          std::max(static_cast<float>(1.5 * e), static_cast<float>(1e-6 + 1e-4 * (abs_sum / b)));
      head_mean_[head] = static_cast<float>(mean);
    }
  }

 private:
  int64_t heads_, rows_;
  std::vector<float> stored_;  // H×rows: each row's last threshold per head (NaN: none yet)
  std::vector<float> width_;
  std::vector<float> head_mean_;
};

// Top-1 and top-5 hit counts of every head of `stack` on the rows `rows` (CPU int64).
struct Hits {
  std::vector<int64_t> top1, top5;
};

template <typename InputFn>
Hits count_hits(const HeadStack& stack, const InputFn& input_of, const torch::Tensor& labels,
                const torch::Tensor& rows, ThresholdMemory* memory, torch::Device device) {
  torch::NoGradGuard no_grad;
  const int64_t h = stack.config().num_heads;
  const int64_t chunk = 2048;
  auto top1 = torch::zeros({h}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  auto top5 = torch::zeros_like(top1);
  for (int64_t start = 0; start < rows.size(0); start += chunk) {
    auto index_cpu = rows.narrow(0, start, std::min(chunk, rows.size(0) - start));
    auto index = index_cpu.to(device);
    ThresholdHint hint;
    if (memory != nullptr) hint = memory->hint(index_cpu);
    torch::Tensor threshold;
    auto counts = stack.hits(input_of(index), labels.index_select(0, index),
                             memory != nullptr ? &hint : nullptr, &threshold);
    if (memory != nullptr && threshold.defined()) memory->update(index_cpu, threshold, hint);
    top1 += counts.first.to(device);
    top5 += counts.second.to(device);
  }
  Hits out;
  auto t1 = top1.to(torch::kCPU), t5 = top5.to(torch::kCPU);
  out.top1.assign(t1.data_ptr<int64_t>(), t1.data_ptr<int64_t>() + h);
  out.top5.assign(t5.data_ptr<int64_t>(), t5.data_ptr<int64_t>() + h);
  return out;
}

// Records one epoch of one head and moves the pick when it improves.
void record_epoch(HeadOutcome& out, const EpochRecord& rec, int64_t epoch, SelectOn select,
                  const HeadStack& stack, int64_t head) {
  out.epochs.push_back(rec);
  const double figure = select == SelectOn::Val ? rec.val_top1 : rec.holdout_top1;
  if (out.epoch == 0 || figure > out.select_top1) {
    out.select_top1 = figure;
    out.epoch = epoch;
    out.top1 = rec.val_top1;
    if (select == SelectOn::Holdout) {
      out.top5 = rec.val_top5;
      out.top5_epoch = epoch;
    }
    out.params = stack.head(head);
  }
  if (select == SelectOn::Val && (out.top5_epoch == 0 || rec.val_top5 > out.top5)) {
    out.top5 = rec.val_top5;
    out.top5_epoch = epoch;
  }
}

torch::Tensor arange_rows(const std::vector<int64_t>& rows) {
  return torch::tensor(rows, torch::kInt64);
}

// While alive, the loop's own LibTorch operations (row gathers, the standard head, Adam) and
// BLAS run on this thread only, when the fused kernel trains precomputed scores: the kernel
// parallelises over rows itself with the thread count in effect before, and OpenMP's and
// BLAS's workers would spin after every parallel region, taking cores from its threads.
// Learned scores (end2end) keep both: their own products are large.
class LoopThreads {
 public:
  LoopThreads(bool fused, bool trainable_scores) : kernel_threads_(at::get_num_threads()) {
    if (!fused || trainable_scores) return;
    single_threaded_blas_.emplace();
    if (kernel_threads_ > 1) {
      restore_ = true;
      at::set_num_threads(1);
    }
  }
  ~LoopThreads() {
    if (restore_) at::set_num_threads(kernel_threads_);
  }
  LoopThreads(const LoopThreads&) = delete;
  LoopThreads& operator=(const LoopThreads&) = delete;
  int kernel_threads() const { return kernel_threads_; }

 private:
  int kernel_threads_;
  bool restore_ = false;
  std::optional<core::SingleThreadedBlas> single_threaded_blas_;
};

// The rows the heads train on and the seeded hold-out rows they are picked on, ascending.
struct RowSplit {
  std::vector<int64_t> fit, holdout;
};

RowSplit split_rows(int64_t n, const TrainOptions& o) {
  RowSplit rows;
  if (o.select_on != SelectOn::Holdout) {
    for (int64_t i = 0; i < n; ++i) rows.fit.push_back(i);
    return rows;
  }
  auto perm = core::seeded_permutation(n, core::derive_seed(o.seed, "holdout"));
  const int64_t n_hold = holdout_count(n, o.holdout_fraction);
  rows.holdout.assign(perm.begin(), perm.begin() + n_hold);
  rows.fit.assign(perm.begin() + n_hold, perm.end());
  std::sort(rows.holdout.begin(), rows.holdout.end());
  std::sort(rows.fit.begin(), rows.fit.end());
  return rows;
}

// The standard heads: one per learning rate, on the D features.
HeadStackConfig standard_config(int64_t classes, int64_t features, const TrainOptions& o) {
  HeadStackConfig sc;
  sc.num_heads = static_cast<int64_t>(o.lrs.size());
  sc.num_classes = classes;
  sc.in_features = features;
  sc.lrs = o.lrs;
  return sc;
}

// The interpretable heads on the K concept scores, ratio-major: [ratio i][lr j] at i·L + j.
HeadStackConfig interpretable_config(int64_t classes, int64_t k, const TrainOptions& o) {
  HeadStackConfig ic;
  ic.num_heads = static_cast<int64_t>(o.ratios.size() * o.lrs.size());
  ic.num_classes = classes;
  ic.in_features = k;
  ic.interpretable = true;
  ic.rule = o.threshold;
  for (double r : o.ratios) {
    for (double lr : o.lrs) {
      ic.positions.push_back(threshold_position(k, r, o.threshold));
      ic.keep.push_back(kept_concepts(k, r, o.threshold));
      ic.lrs.push_back(lr);
    }
  }
  return ic;
}

// An outcome for every head, before any epoch.
TrainOutcome empty_outcome(const TrainOptions& o, int64_t k, const RowSplit& rows) {
  TrainOutcome out;
  out.fit_rows = static_cast<int64_t>(rows.fit.size());
  out.holdout_rows = static_cast<int64_t>(rows.holdout.size());
  for (size_t j = 0; j < o.lrs.size() && o.train_standard; ++j) {
    HeadOutcome h;
    h.standard = true;
    h.lr = o.lrs[j];
    out.standard.push_back(h);
  }
  for (double ratio : o.ratios) {
    for (double lr : o.lrs) {
      HeadOutcome h;
      h.ratio = ratio;
      h.lr = lr;
      h.kept = kept_concepts(k, ratio, o.threshold);
      out.interpretable.push_back(h);
    }
  }
  return out;
}

// Mean training loss of each head over one epoch's batches (CPU float32).
struct EpochLosses {
  torch::Tensor standard, interpretable;
};

// The state of one training run: both head stacks, the threshold memories and the outcomes.
class HeadTrainer {
 public:
  HeadTrainer(const TrainSplits& splits, ConceptScores& scores, const TrainOptions& o,
              int kernel_threads);
  // One epoch (0-based) of updates over the fit rows in their seeded order.
  EpochLosses train_epoch(int64_t epoch);
  // Measures every head after `epoch`, records it and returns the progress status.
  std::string evaluate(int64_t epoch, const EpochLosses& losses);
  TrainOutcome& outcome() { return out_; }

 private:
  void train_batch(const torch::Tensor& index, const torch::Tensor& index_cpu, double lr_scale,
                   EpochLosses& sums);
  double evaluate_standard(int64_t epoch, const torch::Tensor& losses);
  double evaluate_interpretable(int64_t epoch, const torch::Tensor& losses);

  const TrainSplits& splits_;
  ConceptScores& scores_;
  const TrainOptions& o_;
  const torch::Device device_;
  const RowSplit rows_;
  HeadStack standard_;
  std::unique_ptr<HeadStack> interp_;                           // null without ratios
  std::unique_ptr<ThresholdMemory> train_memory_, val_memory_;  // CPU only
  torch::Tensor val_rows_, holdout_index_, fit_index_;
  TrainOutcome out_;
};

HeadTrainer::HeadTrainer(const TrainSplits& splits, ConceptScores& scores, const TrainOptions& o,
                         int kernel_threads)
    : splits_(splits),
      scores_(scores),
      o_(o),
      device_(splits.train_features.device()),
      rows_(split_rows(splits.train_features.size(0), o)),
      standard_(standard_config(splits.num_classes, splits.train_features.size(1), o), device_,
                core::derive_seed(o.seed, "init-standard")),
      out_(empty_outcome(o, scores.num_concepts(), rows_)) {
  if (!o.ratios.empty()) {
    const auto ic = interpretable_config(splits.num_classes, scores.num_concepts(), o);
    interp_ =
        std::make_unique<HeadStack>(ic, device_, core::derive_seed(o.seed, "init-interpretable"));
    interp_->set_kernel_threads(kernel_threads);
    if (device_.is_cpu()) {
      train_memory_ =
          std::make_unique<ThresholdMemory>(ic.num_heads, splits.train_features.size(0));
      val_memory_ = std::make_unique<ThresholdMemory>(ic.num_heads, splits.val_features.size(0));
    }
  }
  val_rows_ = torch::arange(splits.val_features.size(0), torch::kInt64);
  holdout_index_ = arange_rows(rows_.holdout);
  fit_index_ = arange_rows(rows_.fit);
}

EpochLosses HeadTrainer::train_epoch(int64_t epoch) {
  const double lr_scale = std::pow(o_.lr_decay, static_cast<double>(epoch));
  const auto n_fit = static_cast<int64_t>(rows_.fit.size());
  auto perm = core::seeded_permutation(n_fit, core::derive_seed(o_.seed, "shuffle", epoch));
  auto order_cpu = fit_index_.index_select(0, torch::tensor(perm, torch::kInt64));
  auto order = order_cpu.to(device_);
  const int64_t heads = interp_ ? interp_->config().num_heads : 0;
  EpochLosses sums{
      torch::zeros({static_cast<int64_t>(o_.lrs.size())}, torch::TensorOptions().device(device_)),
      torch::zeros({heads}, torch::TensorOptions().device(device_))};
  int64_t batches = 0;
  for (int64_t start = 0; start < n_fit; start += o_.batch_size, ++batches) {
    const int64_t len = std::min(o_.batch_size, n_fit - start);
    train_batch(order.narrow(0, start, len), order_cpu.narrow(0, start, len), lr_scale, sums);
  }
  scores_.end_epoch();
  return {(sums.standard / static_cast<double>(batches)).to(torch::kCPU),
          (sums.interpretable / static_cast<double>(batches)).to(torch::kCPU)};
}

void HeadTrainer::train_batch(const torch::Tensor& index, const torch::Tensor& index_cpu,
                              double lr_scale, EpochLosses& sums) {
  auto labels = splits_.train_labels.index_select(0, index);
  if (o_.train_standard) {
    auto pass = standard_.forward(splits_.train_features.index_select(0, index));
    sums.standard += standard_.backward(pass, labels);
    standard_.adam_step(lr_scale);
  }
  if (!interp_) return;
  const bool trainable = scores_.trainable();
  auto z = scores_.train_scores(index);
  ThresholdHint hint;
  if (train_memory_) hint = train_memory_->hint(index_cpu);
  torch::Tensor grad_z, threshold;
  sums.interpretable += interp_->train_step(z, labels, train_memory_ ? &hint : nullptr, &threshold,
                                            trainable ? &grad_z : nullptr);
  if (train_memory_) train_memory_->update(index_cpu, threshold, hint);
  if (trainable) scores_.backward(grad_z);
  interp_->adam_step(lr_scale);
  if (trainable) scores_.step(lr_scale);
}

std::string HeadTrainer::evaluate(int64_t epoch, const EpochLosses& losses) {
  const double std_top1 = o_.train_standard ? evaluate_standard(epoch, losses.standard) : NAN;
  const double int_top1 = interp_ ? evaluate_interpretable(epoch, losses.interpretable) : 0;
  char status[96];
  std::snprintf(status, sizeof(status), "val top-1: standard %.3f, sparse heads %.3f (mean)",
                std_top1, int_top1);
  return status;
}

// Records the standard heads' epoch; returns the first one's validation top-1.
double HeadTrainer::evaluate_standard(int64_t epoch, const torch::Tensor& losses) {
  const double nv = static_cast<double>(val_rows_.size(0));
  const double nh = static_cast<double>(rows_.holdout.size());
  auto val_features_of = [&](const torch::Tensor& ix) {
    return splits_.val_features.index_select(0, ix);
  };
  auto features_of = [&](const torch::Tensor& ix) {
    return splits_.train_features.index_select(0, ix);
  };
  auto val =
      count_hits(standard_, val_features_of, splits_.val_labels, val_rows_, nullptr, device_);
  Hits hold;
  if (nh > 0) {
    hold =
        count_hits(standard_, features_of, splits_.train_labels, holdout_index_, nullptr, device_);
  }
  for (size_t j = 0; j < out_.standard.size(); ++j) {
    EpochRecord rec;
    rec.train_loss = losses[static_cast<int64_t>(j)].item<double>();
    rec.val_top1 = val.top1[j] / nv;
    rec.val_top5 = val.top5[j] / nv;
    rec.holdout_top1 = nh > 0 ? hold.top1[j] / nh : NAN;
    record_epoch(out_.standard[j], rec, epoch + 1, o_.select_on, standard_,
                 static_cast<int64_t>(j));
  }
  return out_.standard[0].epochs.back().val_top1;
}

// Records the interpretable heads' epoch; returns their mean validation top-1.
double HeadTrainer::evaluate_interpretable(int64_t epoch, const torch::Tensor& losses) {
  const double nv = static_cast<double>(val_rows_.size(0));
  const double nh = static_cast<double>(rows_.holdout.size());
  auto val_scores_of = [&](const torch::Tensor& ix) { return scores_.val_scores(ix); };
  auto train_scores_of = [&](const torch::Tensor& ix) { return scores_.eval_train_scores(ix); };
  auto val = count_hits(*interp_, val_scores_of, splits_.val_labels, val_rows_, val_memory_.get(),
                        device_);
  Hits hold;
  if (nh > 0) {
    hold = count_hits(*interp_, train_scores_of, splits_.train_labels, holdout_index_,
                      train_memory_.get(), device_);
  }
  const int64_t heads = interp_->config().num_heads;
  double mean_top1 = 0;
  for (int64_t h = 0; h < heads; ++h) {
    EpochRecord rec;
    rec.train_loss = losses[h].item<double>();
    rec.val_top1 = val.top1[h] / nv;
    rec.val_top5 = val.top5[h] / nv;
    rec.holdout_top1 = nh > 0 ? hold.top1[h] / nh : NAN;
    record_epoch(out_.interpretable[h], rec, epoch + 1, o_.select_on, *interp_, h);
    mean_top1 += rec.val_top1 / static_cast<double>(heads);
  }
  return mean_top1;
}

}  // namespace

TrainOutcome train_heads(const TrainSplits& splits, ConceptScores& scores, const TrainOptions& o) {
  const auto start_time = std::chrono::steady_clock::now();
  IIS_ASSERT(!o.lrs.empty(), "train_heads: at least one learning rate is needed");
  IIS_ASSERT(o.epochs > 0 && o.batch_size > 0,
             "train_heads: epochs and batch size must be positive");
  const LoopThreads threads(sparse_heads_apply(splits.train_features.device(), splits.num_classes),
                            scores.trainable());
  HeadTrainer trainer(splits, scores, o, threads.kernel_threads());
  core::Progress bar(o.progress_stage, o.epochs, "epochs");
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const EpochLosses losses = trainer.train_epoch(epoch);
    bar.set_status(trainer.evaluate(epoch, losses));
    bar.advance();
  }
  bar.finish();
  TrainOutcome out = std::move(trainer.outcome());
  out.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  return out;
}

}  // namespace iis::heads
