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

}  // namespace

TrainOutcome train_heads(const TrainSplits& splits, ConceptScores& scores, const TrainOptions& o) {
  auto start_time = std::chrono::steady_clock::now();
  const auto device = splits.train_features.device();
  const int64_t n = splits.train_features.size(0), d = splits.train_features.size(1);
  const int64_t c = splits.num_classes, k = scores.num_concepts();
  // With the fused kernel the loop's matrix products are small (the standard head) and the
  // kernel parallelises over rows itself: BLAS's own pool would only oversubscribe the cores.
  std::optional<core::SingleThreadedBlas> single_threaded_blas;
  // For the same reason LibTorch's own operations in the loop (row gathers, the standard head,
  // Adam) run on this thread only: OpenMP's workers spin after every parallel region, taking a
  // core from the kernel's threads. The kernel keeps the thread count in effect here.
  const int kernel_threads = at::get_num_threads();
  struct RestoreThreads {
    int count = 0;
    ~RestoreThreads() {
      if (count > 0) at::set_num_threads(count);
    }
  } restore_threads;
  const bool fused = sparse_heads_apply(device, c);
  // Learned scores (end2end) keep both: their own products are large.
  if (fused && !scores.trainable()) single_threaded_blas.emplace();
  if (fused && !scores.trainable() && kernel_threads > 1) {
    restore_threads.count = kernel_threads;
    at::set_num_threads(1);
  }
  const int64_t num_lrs = static_cast<int64_t>(o.lrs.size());
  const int64_t num_ratios = static_cast<int64_t>(o.ratios.size());
  IIS_CHECK(num_lrs > 0, "--lrs: at least one learning rate is needed");
  IIS_CHECK(o.epochs > 0 && o.batch_size > 0, "epochs and batch size must be positive");

  // Hold-out split (seeded), then the rows that are trained on.
  std::vector<int64_t> fit_rows, holdout_rows;
  if (o.select_on == SelectOn::Holdout) {
    auto perm = core::seeded_permutation(n, core::derive_seed(o.seed, "holdout"));
    const int64_t n_hold = holdout_count(n, o.holdout_fraction);
    holdout_rows.assign(perm.begin(), perm.begin() + n_hold);
    fit_rows.assign(perm.begin() + n_hold, perm.end());
    std::sort(holdout_rows.begin(), holdout_rows.end());
    std::sort(fit_rows.begin(), fit_rows.end());
  } else {
    for (int64_t i = 0; i < n; ++i) fit_rows.push_back(i);
  }
  const int64_t n_fit = static_cast<int64_t>(fit_rows.size());

  HeadStackConfig sc;
  sc.num_heads = num_lrs;
  sc.num_classes = c;
  sc.in_features = d;
  sc.lrs = o.lrs;
  HeadStack standard(sc, device, core::derive_seed(o.seed, "init-standard"));

  HeadStackConfig ic;
  ic.num_heads = num_ratios * num_lrs;
  ic.num_classes = c;
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
  const bool has_interpretable = num_ratios > 0;
  std::unique_ptr<HeadStack> interp;
  if (has_interpretable) {
    interp =
        std::make_unique<HeadStack>(ic, device, core::derive_seed(o.seed, "init-interpretable"));
    interp->set_kernel_threads(kernel_threads);
  }

  TrainOutcome out;
  out.fit_rows = n_fit;
  out.holdout_rows = static_cast<int64_t>(holdout_rows.size());
  for (int64_t j = 0; j < num_lrs && o.train_standard; ++j) {
    HeadOutcome h;
    h.standard = true;
    h.lr = o.lrs[j];
    out.standard.push_back(h);
  }
  for (int64_t i = 0; i < num_ratios; ++i) {
    for (int64_t j = 0; j < num_lrs; ++j) {
      HeadOutcome h;
      h.ratio = o.ratios[i];
      h.lr = o.lrs[j];
      h.kept = kept_concepts(k, o.ratios[i], o.threshold);
      out.interpretable.push_back(h);
    }
  }

  const bool use_memory = device.is_cpu() && has_interpretable;
  std::unique_ptr<ThresholdMemory> train_memory, val_memory;
  if (use_memory) {
    train_memory = std::make_unique<ThresholdMemory>(ic.num_heads, n);
    val_memory = std::make_unique<ThresholdMemory>(ic.num_heads, splits.val_features.size(0));
  }
  auto val_rows = torch::arange(splits.val_features.size(0), torch::kInt64);
  auto holdout_index = arange_rows(holdout_rows);
  auto fit_index = arange_rows(fit_rows);

  core::Progress bar(o.progress_stage, o.epochs, "epochs");
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const double lr_scale = std::pow(o.lr_decay, static_cast<double>(epoch));
    auto perm = core::seeded_permutation(n_fit, core::derive_seed(o.seed, "shuffle", epoch));
    auto order_cpu = fit_index.index_select(0, torch::tensor(perm, torch::kInt64));
    auto order = order_cpu.to(device);
    auto loss_std = torch::zeros({num_lrs}, torch::TensorOptions().device(device));
    auto loss_int = torch::zeros({ic.num_heads}, torch::TensorOptions().device(device));
    int64_t batches = 0;
    for (int64_t start = 0; start < n_fit; start += o.batch_size, ++batches) {
      const int64_t len = std::min(o.batch_size, n_fit - start);
      auto index = order.narrow(0, start, len);
      auto labels = splits.train_labels.index_select(0, index);
      if (o.train_standard) {
        auto pass = standard.forward(splits.train_features.index_select(0, index));
        loss_std += standard.backward(pass, labels);
        standard.adam_step(lr_scale);
      }
      if (has_interpretable) {
        auto z = scores.train_scores(index);
        ThresholdHint hint;
        auto index_cpu = order_cpu.narrow(0, start, len);
        if (use_memory) hint = train_memory->hint(index_cpu);
        torch::Tensor grad_z, threshold;
        loss_int += interp->train_step(z, labels, use_memory ? &hint : nullptr, &threshold,
                                       scores.trainable() ? &grad_z : nullptr);
        if (use_memory) train_memory->update(index_cpu, threshold, hint);
        if (scores.trainable()) scores.backward(grad_z);
        interp->adam_step(lr_scale);
        if (scores.trainable()) scores.step(lr_scale);
      }
    }
    scores.end_epoch();
    loss_std = (loss_std / static_cast<double>(batches)).to(torch::kCPU);
    loss_int = (loss_int / static_cast<double>(batches)).to(torch::kCPU);

    // Evaluation of every head on the validation rows (and the hold-out rows).
    const double nv = static_cast<double>(val_rows.size(0));
    const double nh = static_cast<double>(holdout_rows.size());
    auto features_of = [&](const torch::Tensor& ix) {
      return splits.train_features.index_select(0, ix);
    };
    auto val_features_of = [&](const torch::Tensor& ix) {
      return splits.val_features.index_select(0, ix);
    };
    auto val_scores_of = [&](const torch::Tensor& ix) { return scores.val_scores(ix); };
    auto train_scores_of = [&](const torch::Tensor& ix) { return scores.eval_train_scores(ix); };
    double std_top1 = NAN, int_top1 = 0;
    if (o.train_standard) {
      auto val =
          count_hits(standard, val_features_of, splits.val_labels, val_rows, nullptr, device);
      Hits hold;
      if (nh > 0) {
        hold =
            count_hits(standard, features_of, splits.train_labels, holdout_index, nullptr, device);
      }
      for (int64_t j = 0; j < num_lrs; ++j) {
        EpochRecord rec;
        rec.train_loss = loss_std[j].item<double>();
        rec.val_top1 = val.top1[j] / nv;
        rec.val_top5 = val.top5[j] / nv;
        rec.holdout_top1 = nh > 0 ? hold.top1[j] / nh : NAN;
        record_epoch(out.standard[j], rec, epoch + 1, o.select_on, standard, j);
      }
      std_top1 = out.standard[0].epochs.back().val_top1;
    }
    if (has_interpretable) {
      auto val =
          count_hits(*interp, val_scores_of, splits.val_labels, val_rows, val_memory.get(), device);
      Hits hold;
      if (nh > 0) {
        hold = count_hits(*interp, train_scores_of, splits.train_labels, holdout_index,
                          train_memory.get(), device);
      }
      for (int64_t h = 0; h < ic.num_heads; ++h) {
        EpochRecord rec;
        rec.train_loss = loss_int[h].item<double>();
        rec.val_top1 = val.top1[h] / nv;
        rec.val_top5 = val.top5[h] / nv;
        rec.holdout_top1 = nh > 0 ? hold.top1[h] / nh : NAN;
        record_epoch(out.interpretable[h], rec, epoch + 1, o.select_on, *interp, h);
        int_top1 += rec.val_top1 / static_cast<double>(ic.num_heads);
      }
    }
    char status[96];
    std::snprintf(status, sizeof(status), "val top-1: standard %.3f, sparse heads %.3f (mean)",
                  std_top1, int_top1);
    bar.set_status(status);
    bar.advance();
  }
  bar.finish();
  out.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  return out;
}

}  // namespace iis::heads
