// `iis fit`: the options' checks, the settings a seed's numbers depend on, and the run in
// steps: inputs, output folder, seeds (detail/seed.cpp), then the figures over seeds.
#include "iis/fit/fit.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <sstream>

#include "iis/concepts/concept_type.hpp"
#include "iis/core/device.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/threads.hpp"
#include "iis/fit/detail/inputs.hpp"
#include "iis/fit/detail/out_folder.hpp"
#include "iis/fit/detail/seed.hpp"
#include "iis/heads/train.hpp"
#include "iis/io/npy.hpp"
#include "iis/score/score.hpp"

namespace iis::fit {

namespace fs = std::filesystem;
using detail::Inputs;
using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// "prototype (K of the elements) | cluster (...) | ...", from the registry.
std::string concept_type_help() {
  std::string help;
  for (const auto* t : concepts::concept_types())
    help += (help.empty() ? "" : " | ") + t->name() + " (" + t->help() + ")";
  return help;
}

// The settings that change the numbers of one seed; a finished seed is reused only when its
// settings match. The concept type adds its own.
results::FitSettings seed_settings(const FitOptions& o) {
  results::FitSettings s;
  s.num_concepts = o.num_concepts;
  s.ratios = o.ratios;
  s.lrs = o.lrs;
  s.epochs = o.epochs;
  s.batch_size = o.batch_size;
  s.lr_decay = 0.99;
  s.threshold = o.threshold;
  s.select_on = o.select_on;
  s.holdout_fraction = o.holdout_fraction;
  s.num_classes = o.num_classes;
  concepts::find_concept_type(o.concept_type)
      .add_settings(s, o.concept_options, !o.concept_labels.empty());
  return s;
}

// Warnings about the settings, for stderr and results.json: ratios at which the rule keeps no
// concept (their heads see only their bias, a constant guess, so their retention says nothing
// about the representation).
// K: --num-concepts, or for a type that learns how many it keeps (text), the kept count.
std::vector<std::string> settings_warnings(const FitOptions& o, int64_t k) {
  const auto rule = heads::parse_threshold_rule(o.threshold);
  std::ostringstream ratios;
  int64_t empty = 0;
  for (double r : o.ratios) {
    if (heads::kept_concepts(k, r, rule) > 0) continue;
    ratios << (empty++ > 0 ? ", " : "") << r;
  }
  if (empty == 0) return {};
  std::ostringstream w;
  if (concepts::find_concept_type(o.concept_type).uses_elements()) {
    w << "--num-concepts " << k << " with --threshold " << o.threshold
      << " keeps no concept at ratio" << (empty > 1 ? "s " : " ") << ratios.str()
      << ": those heads output only their bias, a constant guess; --num-concepts "
      << heads::smallest_k_keeping_one(o.ratios, rule)
      << " or more keeps at least one concept at every ratio";
  } else {
    w << "the " << k << " concepts the filters kept, with --threshold " << o.threshold
      << ", leave no concept at ratio" << (empty > 1 ? "s " : " ") << ratios.str()
      << ": those heads output only their bias, a constant guess; "
      << heads::smallest_k_keeping_one(o.ratios, rule)
      << " or more concepts would keep one at every ratio (lower the cut-offs or give more "
         "concepts)";
  }
  return {w.str()};
}

std::string fmt(double v) {
  if (!std::isfinite(v)) return "";
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

// The finished seed in `seed_file` when it was trained with `settings`; none when it is missing,
// unreadable or of other settings.
std::optional<results::SeedResults> finished_seed(const std::string& seed_file,
                                                  const results::FitSettings& settings) {
  if (!fs::exists(seed_file)) return std::nullopt;
  try {
    const json old = json::parse(core::read_text(seed_file));
    if (!old.is_object() || old.value("settings", json()) != results::to_json(settings))
      return std::nullopt;
    return results::seed_results_from_json(old, seed_file);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Every seed, each reused from OUT/seeds/<seed>/seed.json when it was finished with the same
// settings, else trained.
std::vector<results::SeedResults> run_seeds(const FitOptions& o, const Inputs& in,
                                            const results::FitSettings& settings) {
  const torch::Device device = core::check_device(o.device);
  std::vector<results::SeedResults> per_seed;
  for (uint64_t seed : o.seeds) {
    core::check_interrupt();
    const auto seed_file =
        (fs::path(o.out) / "seeds" / std::to_string(seed) / "seed.json").string();
    if (auto old = finished_seed(seed_file, settings)) {
      core::log_info("seed " + std::to_string(seed) + ": reusing " + seed_file);
      per_seed.push_back(std::move(*old));
      continue;
    }
    per_seed.push_back(detail::run_seed(o, in, seed, device, settings));
  }
  return per_seed;
}

// Mean ± std over seeds of one figure of a seed's record.
score::MeanStd over_seeds(const std::vector<results::SeedResults>& per_seed,
                          const std::function<double(const results::SeedResults&)>& get) {
  std::vector<double> v;
  for (const auto& s : per_seed) v.push_back(get(s));
  return score::mean_std(v);
}

// results.json's "ratios": per ratio, every figure as mean ± std over seeds.
std::vector<results::RatioResults> ratios_over_seeds(
    const FitOptions& o, const std::vector<results::SeedResults>& per_seed) {
  std::vector<results::RatioResults> ratios;
  for (size_t i = 0; i < o.ratios.size(); ++i) {
    auto field = [&](double results::RatioPick::*key) {
      return over_seeds(per_seed, [&](const results::SeedResults& s) { return s.ratios[i].*key; });
    };
    const auto top1 = field(&results::RatioPick::top1), top5 = field(&results::RatioPick::top5),
               arr = field(&results::RatioPick::arr),
               arr_cc = field(&results::RatioPick::arr_chance_corrected);
    const auto& first = per_seed[0].ratios[i];
    results::RatioResults e;
    e.ratio = o.ratios[i];
    e.kept = first.kept;
    e.top1 = top1.mean;
    e.top1_std = top1.std;
    e.top5 = top5.mean;
    e.top5_std = top5.std;
    e.epoch = first.epoch;
    e.top5_epoch = first.top5_epoch;
    e.lr = first.lr;
    e.arr = arr.mean;
    e.arr_std = arr.std;
    e.arr_chance_corrected = arr_cc.mean;
    e.arr_chance_corrected_std = arr_cc.std;
    ratios.push_back(e);
  }
  return ratios;
}

// The headline figures over seeds: standard accuracy, top-5, IIS (plain and chance-corrected).
void headline_over_seeds(const std::vector<results::SeedResults>& per_seed,
                         results::FitResults& r) {
  using S = results::SeedResults;
  const auto std_acc = over_seeds(per_seed, [](const S& s) { return s.standard.top1; });
  const auto std_top5 = over_seeds(per_seed, [](const S& s) { return s.standard.top5; });
  const auto iis = over_seeds(per_seed, [](const S& s) { return s.iis; });
  const auto iis_cc = over_seeds(per_seed, [](const S& s) { return s.iis_chance_corrected; });
  r.standard_accuracy = std_acc.mean;
  r.standard_accuracy_std = std_acc.std;
  r.standard_top5 = std_top5.mean;
  r.standard_top5_std = std_top5.std;
  r.standard_epoch = per_seed[0].standard.epoch;
  r.iis = iis.mean;
  r.iis_std = iis.std;
  r.iis_chance_corrected = iis_cc.mean;
  r.iis_chance_corrected_std = iis_cc.std;
}

// results.json without its timings: what was fit, on what, and the figures over seeds.
results::FitResults fit_results(const FitOptions& o, const Inputs& in,
                                const results::FitSettings& settings,
                                std::vector<results::SeedResults> per_seed,
                                const std::vector<std::string>& warnings) {
  const auto& type = concepts::find_concept_type(o.concept_type);
  results::FitResults r;
  r.tool = "iis fit";
  r.version = IIS_VERSION;
  r.libtorch = TORCH_VERSION;
  r.device = o.device;
  r.threads = core::threads();
  r.concept_type = o.concept_type;
  r.settings = settings;
  r.settings.seeds = o.seeds;
  r.inputs = in.files;
  r.inputs_key = in.key;
  r.num_classes = in.num_classes;
  r.num_concepts = o.num_concepts;
  r.feature_dim = in.train_x.size(1);
  r.train_rows = in.train_x.size(0);
  r.val_rows = in.val_x.size(0);
  r.seeds = o.seeds;
  r.warnings = warnings;
  headline_over_seeds(per_seed, r);
  r.ratios = ratios_over_seeds(o, per_seed);
  r.per_seed = std::move(per_seed);
  type.summarize(r.per_seed, r);
  r.files = {"curve.csv", "epochs.csv", "concepts.npy",
             "seeds/<seed>/ (concepts.npy, " + type.files() + ", heads/*.npy, seed.json)"};
  return r;
}

// curve.csv: the retention curve, one row per ratio (results.json's "ratios").
std::string curve_csv(const std::vector<results::RatioResults>& ratios) {
  std::ostringstream curve;
  curve << "ratio,kept,top1,top1_std,top5,top5_std,arr,arr_std,arr_chance_corrected,"
           "arr_chance_corrected_std\n";
  for (const auto& e : ratios) {
    curve << fmt(e.ratio) << "," << e.kept;
    for (double v : {e.top1, e.top1_std, e.top5, e.top5_std, e.arr, e.arr_std,
                     e.arr_chance_corrected, e.arr_chance_corrected_std})
      curve << "," << fmt(v);
    curve << "\n";
  }
  return curve.str();
}

// The rows of epochs.csv of one head's curve.
void curve_rows(std::ostringstream& epochs, uint64_t seed, const char* head,
                const results::HeadCurve& c) {
  for (size_t e = 0; e < c.train_loss.size(); ++e) {
    epochs << seed << "," << head << "," << (c.ratio ? fmt(*c.ratio) : "") << "," << fmt(c.lr)
           << "," << e + 1 << "," << fmt(c.train_loss[e]) << "," << fmt(c.val_top1[e]) << ","
           << fmt(c.val_top5[e]) << "," << (c.holdout_top1 ? fmt((*c.holdout_top1)[e]) : "")
           << "\n";
  }
}

// epochs.csv: every head's per-epoch curve, for every seed.
std::string epochs_csv(const std::vector<results::SeedResults>& per_seed) {
  std::ostringstream epochs;
  epochs << "seed,head,ratio,lr,epoch,train_loss,val_top1,val_top5,holdout_top1\n";
  for (const auto& s : per_seed) {
    for (const auto& c : s.curves.standard) curve_rows(epochs, s.seed, "standard", c);
    for (const auto& c : s.curves.ratios) curve_rows(epochs, s.seed, "interpretable", c);
  }
  return epochs.str();
}

// Per seed, how long its concepts, scores and heads took.
results::FitTimings fit_timings(double load_s, const std::vector<results::SeedResults>& per_seed) {
  results::FitTimings timings;
  timings.load_s = load_s;
  for (const auto& s : per_seed) timings.seeds.push_back({s.seed, s.timings});
  return timings;
}

}  // namespace

core::Options fit_options(FitOptions& o) {
  core::Options table{
      {"train_features", "N×D float .npy", &o.train_features, true, false},
      {"train_labels", "N integer .npy", &o.train_labels, true, false},
      {"val_features", "Nv×D float .npy", &o.val_features, true, false},
      {"val_labels", "Nv integer .npy", &o.val_labels, true, false},
      {"concepts", "M×D float .npy of element vectors (required by every type but text)",
       &o.concepts, false, false},
      {"concept_labels", "M integer .npy: the class of each element (enables stratified selection)",
       &o.concept_labels, false, false},
      {"out", "Output folder", &o.out, true, false},
      {"num_concepts", "Concepts K taken from the M elements", &o.num_concepts},
      {"concept_type", concept_type_help(), &o.concept_type, false, false}};
  for (const auto* type : concepts::concept_types()) {
    for (auto& option : type->options(o.concept_options)) table.push_back(std::move(option));
  }
  core::Options rest{
      {"ratios", "Sparsity ratios in [0,1), rising, comma-separated", &o.ratios, false, false},
      {"lrs", "Learning rates (the best per ratio is reported)", &o.lrs},
      {"epochs", "Epochs", &o.epochs},
      {"batch_size", "Batch size", &o.batch_size},
      {"seeds", "Seeds; figures are mean ± std over them", &o.seeds, false, false},
      {"device", "cpu | cuda | cuda:N", &o.device, false, false},
      {"threshold", "strict (the reference: r=0 already drops one) | exact | soft", &o.threshold},
      {"select_on",
       "val (the reference: best validation epoch) | holdout (pick on held-out training rows, "
       "report validation accuracy there)",
       &o.select_on},
      {"holdout_fraction", "Share of training rows held out with --select-on holdout",
       &o.holdout_fraction},
      {"num_classes", "Number of classes C (0: the largest training label + 1)", &o.num_classes},
      {"force", "Replace an earlier `iis fit` output of other inputs or settings in --out",
       &o.force, false, false}};
  for (auto& option : rest) table.push_back(std::move(option));
  return table;
}

json fit_settings(const FitOptions& o) {
  results::FitSettings settings = seed_settings(o);
  settings.concept_type = o.concept_type;
  return results::to_json(settings);
}

void validate_fit_options(const FitOptions& o) {
  auto need = [](const std::string& value, const char* flag) {
    IIS_CHECK_HINT(!value.empty(), flag << " is required", "see `iis fit --help`");
  };
  need(o.train_features, "--train-features");
  need(o.train_labels, "--train-labels");
  need(o.val_features, "--val-features");
  need(o.val_labels, "--val-labels");
  need(o.out, "--out");
  validate_fit_settings(o);
  const auto& type = concepts::find_concept_type(o.concept_type);
  if (type.uses_elements()) need(o.concepts, "--concepts");
  type.validate(o.concept_options, o.num_concepts, !o.concept_labels.empty());
}

void validate_fit_settings(const FitOptions& o) {
  IIS_CHECK_HINT(o.num_concepts >= 1, "--num-concepts must be ≥ 1, got " << o.num_concepts,
                 "the reference uses 200");
  IIS_CHECK_HINT(!o.ratios.empty(), "--ratios is empty",
                 "e.g. --ratios 0,0.1,0.3,0.5,0.7,0.9,0.95,0.98");
  for (size_t i = 0; i < o.ratios.size(); ++i) {
    const double r = o.ratios[i];
    IIS_CHECK_HINT(r >= 0 && r < 1, "--ratios: " << r << " is outside [0, 1)",
                   "a sparsity ratio is the share of concepts dropped; 1 would drop them all");
    if (i > 0) {
      IIS_CHECK_HINT(r != o.ratios[i - 1], "--ratios: " << r << " appears twice",
                     "list each ratio once, rising");
      IIS_CHECK_HINT(r > o.ratios[i - 1],
                     "--ratios must rise: " << r << " comes after " << o.ratios[i - 1],
                     "list the ratios in increasing order");
    }
  }
  IIS_CHECK_HINT(!o.lrs.empty(), "--lrs is empty", "the reference uses --lrs 0.01");
  for (double lr : o.lrs) {
    IIS_CHECK_HINT(lr > 0 && std::isfinite(lr), "--lrs: " << lr << " is not a positive number",
                   "the reference uses --lrs 0.01");
  }
  IIS_CHECK_HINT(o.epochs >= 1, "--epochs must be ≥ 1, got " << o.epochs, "the reference uses 30");
  IIS_CHECK_HINT(o.batch_size >= 1, "--batch-size must be ≥ 1, got " << o.batch_size,
                 "the reference uses 1024");
  IIS_CHECK_HINT(!o.seeds.empty(), "--seeds is empty", "e.g. --seeds 0,1,2");
  std::set<uint64_t> distinct(o.seeds.begin(), o.seeds.end());
  IIS_CHECK_HINT(distinct.size() == o.seeds.size(), "--seeds lists a seed twice",
                 "list each seed once");
  core::check_device(o.device);
  heads::parse_threshold_rule(o.threshold);
  heads::parse_select_on(o.select_on);
  IIS_CHECK_HINT(o.holdout_fraction > 0 && o.holdout_fraction < 1,
                 "--holdout-fraction must be in (0, 1), got " << o.holdout_fraction,
                 "e.g. --holdout-fraction 0.1");
  IIS_CHECK_HINT(o.num_classes >= 0 && o.num_classes != 1 && o.num_classes <= kMaxClasses,
                 "--num-classes must be in [2, " << kMaxClasses << "] (or 0 to infer it), got "
                                                 << o.num_classes,
                 "leave it out to use the largest training label + 1");
  const auto& type = concepts::find_concept_type(o.concept_type);
  concepts::validate(o.concept_options, o.num_concepts);
  IIS_CHECK_HINT(!type.own_final_layer(o.concept_options) ||
                     heads::parse_select_on(o.select_on) == heads::SelectOn::Val,
                 "--select-on " << o.select_on << " does not apply to --final-layer saga",
                 "its heads are solved to the optimum, not picked by epoch: leave --select-on "
                 "at val (it then picks only the standard head's epoch)");
}

FitSummary run_fit(const FitOptions& o) { return run_fit(o, FitArrays{}); }

FitSummary run_fit(const FitOptions& o, const FitArrays& arrays) {
  auto start = std::chrono::steady_clock::now();
  validate_fit_options(o);
  core::log_info("reading inputs");
  const Inputs in = detail::load_inputs(o, arrays);
  const results::FitSettings settings = seed_settings(o);
  const json folder_settings = fit_settings(o);  // what a later run must match to resume here
  const bool replace = detail::check_out_folder(o, in.key, folder_settings);
  const double load_s = seconds_since(start);

  // From here on, files are written (each atomically).
  detail::clear_out_folder(o, replace);
  core::make_dirs(o.out);
  const auto out = fs::path(o.out);
  const json marker{{"inputs_key", in.key},
                    {"inputs", results::to_json(in.files)},
                    {"settings", folder_settings}};
  core::write_text_atomic((out / "fit_inputs.json").string(), marker.dump(1));
  // A type that chooses K is warned about before training; text's K is known after it.
  const bool chosen_k = concepts::find_concept_type(o.concept_type).uses_elements();
  const std::vector<std::string> warnings =
      chosen_k ? settings_warnings(o, o.num_concepts) : std::vector<std::string>{};
  for (const auto& w : warnings) core::log_info("warning: " + w);
  results::FitResults r = fit_results(o, in, settings, run_seeds(o, in, settings), warnings);
  if (!chosen_k && r.num_concepts) {
    r.warnings = settings_warnings(o, *r.num_concepts);
    for (const auto& w : r.warnings) core::log_info("warning: " + w);
  }
  // The first seed's concepts at the top level.
  const auto first_concepts =
      (out / "seeds" / std::to_string(o.seeds[0]) / "concepts.npy").string();
  io::save_npy((out / "concepts.npy").string(), io::load_npy(first_concepts));
  core::write_text_atomic((out / "curve.csv").string(), curve_csv(r.ratios));
  core::write_text_atomic((out / "epochs.csv").string(), epochs_csv(r.per_seed));
  r.timings = fit_timings(load_s, r.per_seed);
  r.timings.total_s = seconds_since(start);
  FitSummary summary;
  summary.results_path = (out / "results.json").string();
  core::write_text_atomic(summary.results_path, results::to_json(r).dump(1));
  summary.results = std::move(r);
  return summary;
}

}  // namespace iis::fit
