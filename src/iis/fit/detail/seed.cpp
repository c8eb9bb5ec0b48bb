// One seed of `iis fit`, in steps: concepts, scores, joint training, the reported heads, the
// seed's IIS, and its files.
#include "iis/fit/detail/seed.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "iis/concepts/concept_type.hpp"
#include "iis/core/files.hpp"
#include "iis/heads/train.hpp"
#include "iis/io/npy.hpp"
#include "iis/score/score.hpp"

namespace iis::fit::detail {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The trained heads of one seed and what is reported of them.
struct SeedOutcome {
  heads::TrainOutcome outcome;
  const heads::HeadOutcome* standard = nullptr;  // the standard head at its best lr
  std::vector<const heads::HeadOutcome*> best;   // per ratio: the head at its best lr
  double iis = NAN;
  double iis_chance_corrected = NAN;  // NaN: undefined at or below chance
  double concepts_s = 0, scores_s = 0;
};

heads::TrainOptions train_options(const FitOptions& o, uint64_t seed) {
  heads::TrainOptions to;
  to.ratios = o.ratios;
  to.lrs = o.lrs;
  to.epochs = o.epochs;
  to.batch_size = o.batch_size;
  to.threshold = heads::parse_threshold_rule(o.threshold);
  to.select_on = heads::parse_select_on(o.select_on);
  to.holdout_fraction = o.holdout_fraction;
  to.seed = seed;
  to.progress_stage = "training heads (seed " + std::to_string(seed) + ")";
  return to;
}

// Per ratio, the head at the learning rate that is reported (best_over_lrs).
std::vector<const heads::HeadOutcome*> best_per_ratio(const heads::TrainOutcome& outcome,
                                                      size_t num_ratios, size_t num_lrs) {
  std::vector<const heads::HeadOutcome*> best;
  for (size_t i = 0; i < num_ratios; ++i) {
    std::vector<heads::HeadOutcome> per_lr(outcome.interpretable.begin() + i * num_lrs,
                                           outcome.interpretable.begin() + (i + 1) * num_lrs);
    const auto& b = heads::best_over_lrs(per_lr);
    best.push_back(&outcome.interpretable[i * num_lrs + (&b - per_lr.data())]);
  }
  return best;
}

// The IIS of the reported heads, and its chance-corrected form when the standard head is above
// chance.
void score_seed(const FitOptions& o, int64_t num_classes, SeedOutcome& s) {
  std::vector<double> acc;
  for (const auto* b : s.best) acc.push_back(b->top1);
  const double standard = s.standard->top1;
  s.iis = score::iis(o.ratios, acc, standard);
  if (standard > 1.0 / static_cast<double>(num_classes)) {
    s.iis_chance_corrected = score::iis_chance_corrected(o.ratios, acc, standard, num_classes);
  }
}

// Chooses the concepts, trains every head on their scores and picks the reported ones.
SeedOutcome train_seed(const FitOptions& o, const Inputs& in, concepts::SeedInputs& si,
                       concepts::SeedConcepts& concepts) {
  SeedOutcome s;
  auto t0 = std::chrono::steady_clock::now();
  concepts.choose();
  s.concepts_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  heads::TrainSplits splits;
  splits.train_features = si.train_features;
  splits.train_labels = in.train_y.to(si.train_features.device());
  splits.val_features = si.val_features;
  splits.val_labels = in.val_y.to(si.train_features.device());
  splits.num_classes = in.num_classes;
  auto& scores = concepts.scores();
  s.scores_s = seconds_since(t0);
  // A type with its own final layer solves the interpretable heads; the standard head is still
  // trained here, with the same options.
  auto options = train_options(o, si.seed);
  const bool own_final_layer = concepts.has_final_layer();
  if (own_final_layer) options.ratios.clear();
  s.outcome = heads::train_heads(splits, scores, options);
  if (own_final_layer) {
    t0 = std::chrono::steady_clock::now();
    s.outcome.interpretable = concepts.train_final_layer(splits, options.threshold);
    s.outcome.seconds += seconds_since(t0);
  }
  s.standard = &heads::best_over_lrs(s.outcome.standard);
  s.best = best_per_ratio(s.outcome, o.ratios.size(), own_final_layer ? 1 : o.lrs.size());
  std::vector<concepts::PickedHead> picked;
  for (const auto* b : s.best)
    picked.push_back({b - s.outcome.interpretable.data(), b->epoch, b->params.weight});
  concepts.keep(picked);
  score_seed(o, in.num_classes, s);
  return s;
}

// The reported heads, as .npy files a later command can load.
void save_heads(const std::string& heads_dir, const SeedOutcome& s) {
  std::vector<torch::Tensor> gamma, beta, weight, bias;
  for (const auto* b : s.best) {
    gamma.push_back(b->params.gamma);
    beta.push_back(b->params.beta);
    weight.push_back(b->params.weight);
    bias.push_back(b->params.bias);
  }
  auto save = [&](const std::string& name, const torch::Tensor& t) {
    io::save_npy((fs::path(heads_dir) / name).string(), t);
  };
  save("gamma.npy", torch::stack(gamma));
  save("beta.npy", torch::stack(beta));
  save("weight.npy", torch::stack(weight));
  save("bias.npy", torch::stack(bias));
  save("standard_weight.npy", s.standard->params.weight);
  save("standard_bias.npy", s.standard->params.bias);
}

// The reported head as seed.json records it.
results::HeadPick head_pick(const heads::HeadOutcome& h) {
  return results::HeadPick{h.top1, h.top5, h.epoch, h.top5_epoch, h.lr, h.select_top1};
}

results::HeadCurve head_curve(const heads::HeadOutcome& h) {
  results::HeadCurve c;
  c.lr = h.lr;
  if (!h.standard) c.ratio = h.ratio;
  std::vector<double> hold;
  for (const auto& e : h.epochs) {
    c.train_loss.push_back(e.train_loss);
    c.val_top1.push_back(e.val_top1);
    c.val_top5.push_back(e.val_top5);
    hold.push_back(e.holdout_top1);
  }
  if (!h.epochs.empty() && std::isfinite(h.epochs[0].holdout_top1)) c.holdout_top1 = hold;
  return c;
}

// The reported heads per ratio, with their retention.
std::vector<results::RatioPick> ratio_picks(const SeedOutcome& s, int64_t num_classes) {
  std::vector<results::RatioPick> ratios;
  const double standard = s.standard->top1;
  for (const auto* b : s.best) {
    results::RatioPick r;
    static_cast<results::HeadPick&>(r) = head_pick(*b);
    r.ratio = b->ratio;
    r.kept = b->kept;
    r.arr = b->top1 / standard;
    r.arr_chance_corrected = std::isfinite(s.iis_chance_corrected)
                                 ? score::chance_corrected_retention(b->top1, standard, num_classes)
                                 : NAN;
    ratios.push_back(r);
  }
  return ratios;
}

// seed.json but for the concept type's part: the settings, the reported heads, the curves, the
// files.
results::SeedResults seed_record(const Inputs& in, uint64_t seed,
                                 const results::FitSettings& settings, const SeedOutcome& s) {
  const std::string folder = "seeds/" + std::to_string(seed);
  results::SeedResults r;
  r.seed = seed;
  r.settings = settings;
  r.standard = head_pick(*s.standard);
  r.iis = s.iis;
  r.iis_chance_corrected = s.iis_chance_corrected;
  r.ratios = ratio_picks(s, in.num_classes);
  for (const auto& h : s.outcome.standard) r.curves.standard.push_back(head_curve(h));
  for (const auto& h : s.outcome.interpretable) r.curves.ratios.push_back(head_curve(h));
  r.heads = {folder + "/heads",
             {"gamma.npy", "beta.npy", "weight.npy", "bias.npy", "standard_weight.npy",
              "standard_bias.npy"},
             "gamma, beta: R×K; weight: R×C×K; bias: R×C (one row per ratio, in the order of "
             "'ratios'); standard_weight: C×D",
             folder + "/concepts.npy"};
  r.rows = {s.outcome.fit_rows, s.outcome.holdout_rows, in.val_x.size(0)};
  r.timings = {s.concepts_s, s.scores_s, s.outcome.seconds};
  return r;
}

}  // namespace

results::SeedResults run_seed(const FitOptions& o, const Inputs& in, uint64_t seed,
                              torch::Device device, const results::FitSettings& settings) {
  const auto seed_dir = (fs::path(o.out) / "seeds" / std::to_string(seed)).string();
  // Whatever an interrupted or other run left there is not this seed's: start it afresh, so no
  // file of another concept type stays beside this one's.
  core::remove_tree(seed_dir);
  concepts::SeedInputs si;
  si.elements = in.elements;
  si.element_labels = in.element_labels;
  si.train_features = in.train_x.to(device);
  si.val_features = in.val_x.to(device);
  si.num_concepts = o.num_concepts;
  si.ratios = o.ratios;
  si.lrs = o.lrs;
  si.seed = seed;
  si.seed_folder = "seeds/" + std::to_string(seed);
  const auto& type = concepts::find_concept_type(o.concept_type);
  auto concepts = type.start(si, o.concept_options);
  const SeedOutcome s = train_seed(o, in, si, *concepts);

  const auto heads_dir = (fs::path(seed_dir) / "heads").string();
  core::make_dirs(heads_dir);
  results::SeedResults record = seed_record(in, seed, settings, s);
  concepts->save(seed_dir, record);
  save_heads(heads_dir, s);
  core::write_text_atomic((fs::path(seed_dir) / "seed.json").string(),
                          results::to_json(record).dump(1));
  return record;
}

}  // namespace iis::fit::detail
