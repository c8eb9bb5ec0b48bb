// `iis fit`: from feature files and concept vectors to the standard accuracy, the accuracy at
// every sparsity ratio and the Inherent Interpretability Score, written to an output folder.
#pragma once

#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "iis/concepts/options.hpp"
#include "iis/core/options.hpp"
#include "iis/results/results.hpp"

namespace iis::fit {

// The most classes `iis fit` takes: every head holds C×K weights, the standard head C×D, each
// four times over (value, gradient, two Adam moments).
constexpr int64_t kMaxClasses = 100000;

// Every flag of `iis fit`, with the reference's defaults (docs/design.md §5). Checked in one place,
// validate_fit_options(), whose messages name the flag and its valid range.
struct FitOptions {
  std::string train_features;  // --train-features: N×D float .npy
  std::string train_labels;    // --train-labels: N integer .npy
  std::string val_features;    // --val-features: Nv×D float .npy
  std::string val_labels;      // --val-labels: Nv integer .npy
  std::string concepts;        // --concepts: M×D float .npy (element vectors)
  std::string concept_labels;  // --concept-labels: M integer .npy (optional)
  std::string out;             // --out: output folder
  int64_t num_concepts = 200;  // --num-concepts: K, 1 ≤ K ≤ M
  // --concept-type: a name from the registry (concepts/registry.cpp): prototype, cluster,
  // end2end.
  std::string concept_type = "prototype";
  // The concept types' own options: --concept-select (prototype), --kmeans-* (cluster),
  // --temperature (end2end); their defaults and ranges are concepts/options.hpp's.
  concepts::ConceptTypeOptions concept_options;
  std::vector<double> ratios{0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.98};  // --ratios: [0,1), rising
  std::vector<double> lrs{0.01};     // --lrs: > 0; the best per ratio is reported
  int64_t epochs = 30;               // --epochs: ≥ 1
  int64_t batch_size = 1024;         // --batch-size: ≥ 1
  std::vector<uint64_t> seeds{0};    // --seeds: distinct; figures are mean ± std over them
  std::string device = "cpu";        // --device: cpu | cuda
  std::string threshold = "strict";  // --threshold: strict | exact | soft
  std::string select_on = "val";     // --select-on: val | holdout
  double holdout_fraction = 0.1;     // --holdout-fraction: (0, 1), with --select-on holdout
  // --num-classes: C, 2 ≤ C ≤ kMaxClasses; 0 = largest training label + 1, refused (it would
  // size every head) when that is more than the training rows, more than twice the distinct
  // training labels, or more than kMaxClasses.
  int64_t num_classes = 0;
  // --force: replace an earlier `iis fit` output of other inputs or settings in --out (what
  // this run does not write is removed); without it such a folder is refused.
  bool force = false;
};

// Every option of `iis fit` in one table (core/options.hpp), bound to the fields of `options`:
// the tool's flags and `iis run`'s `fit:` keys are made from it. The concept types add theirs
// (ConceptType::options) after --concept-type, in the registry's order.
core::Options fit_options(FitOptions& options);

// Throws iis::Error for a missing input path or a flag outside its valid range (no file is
// read).
void validate_fit_options(const FitOptions& options);

// The same for every option but the paths: what `iis run`'s config checks before it runs.
void validate_fit_settings(const FitOptions& options);

// The settings the numbers of a fit depend on, but for the inputs and seeds (fit_inputs.json's
// "settings"): an output folder is resumed only under equal settings.
nlohmann::json fit_settings(const FitOptions& options);

// What run_fit wrote, for the tool to print.
struct FitSummary {
  std::string results_path;     // OUT/results.json
  results::FitResults results;  // its content
};

// Inputs handed over in memory (the Python module) instead of files: each defined tensor stands
// for the file of its flag, and that flag's field of FitOptions holds the name that messages and
// results.json give the array where a path would stand. Checked as the files are (shapes, dtypes,
// NaN/Inf, label ranges); a contiguous float32 CPU tensor of features is used without a copy,
// and never written to.
struct FitArrays {
  torch::Tensor train_features;  // N×D float
  torch::Tensor train_labels;    // N integer
  torch::Tensor val_features;    // Nv×D float
  torch::Tensor val_labels;      // Nv integer
  torch::Tensor concepts;        // M×D float
  torch::Tensor concept_labels;  // M integer
};

// Validates the options and every input (NaN/Inf, label ranges, shapes, an OUT folder that
// holds results of other inputs or settings, unless `force`) before writing anything, then
// trains and writes OUT/: fit_inputs.json (the inputs' fingerprints and the settings),
// results.json, curve.csv (the retention curve), epochs.csv (per-epoch curves), concepts.npy
// (the first seed's K×D concepts) and seeds/<seed>/ (concepts and trained heads as .npy).
// Re-running with the same inputs and settings reuses every seed already finished.
FitSummary run_fit(const FitOptions& options);

// The same with some or all inputs in memory (see FitArrays).
FitSummary run_fit(const FitOptions& options, const FitArrays& arrays);

}  // namespace iis::fit
