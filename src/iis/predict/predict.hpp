// `iis predict`: a finished fit's interpretable head (at one ratio and seed) and its standard
// head applied to new features, with both accuracies and the retention when labels are given.
#pragma once

#include <torch/types.h>

#include <optional>
#include <string>
#include <vector>

#include "iis/embed/embed.hpp"
#include "iis/predict/fit_heads.hpp"

namespace iis::predict {

// Where the rows come from: a features file, or a backbone and a dataset to embed first.
struct FeatureSource {
  std::string features;  // --features F.npy (N×D float): rows from `iis embed`
  std::string backbone;  // --backbone SPEC, with --data: embedded into OUT's folder first
  std::string data;      // --data: ImageFolder folder or IDX images file
  embed::PreprocessFlags preprocess;  // with --backbone: as `iis embed` takes them
  std::string labels;  // --labels L.npy (N integers); with --data its labels are used
  int64_t limit = 0;   // with --backbone: embed only the first `limit` images (0 = all)
  // --no-fingerprint-check: accept features whose backbone cannot be told (no embed.json)
  bool skip_fingerprint_check = false;
  void validate() const;  // either --features or --backbone with --data; throws naming them
};

// Options of `iis predict`; checked by validate().
struct PredictOptions {
  std::string fit;    // --fit FIT_DIR: the --out folder of `iis fit` (required)
  HeadChoice choice;  // --ratio (default: kDefaultMinRetention rule), --seed (default: first)
  FeatureSource source;
  std::string out;        // --out preds.csv (required); preds.json is written beside it
  void validate() const;  // throws iis::Error naming the flag
};

// The features of a source, with where they came from (for the fingerprint check).
struct LoadedFeatures {
  torch::Tensor features;            // N×D float32
  torch::Tensor labels;              // N int64, or undefined
  std::string path;                  // the features file
  std::vector<std::string> sources;  // PREFIX.paths.txt lines when present, else empty
};

// Reads (or, with --backbone, embeds next to `out`) the rows and their labels.
LoadedFeatures load_features(const FeatureSource& source, const std::string& out);

// Refuses features made by another backbone or preprocessing than the fit's training features:
// both PREFIX.embed.json files are compared (backbone_fingerprint, preprocessing_fingerprint).
// Returns warnings when the check cannot be made (no embed.json beside the features).
std::vector<std::string> check_same_representation(const FitHeads& heads,
                                                   const std::string& features_path,
                                                   bool skip_check);

struct PredictResult {
  std::string csv, json;  // files written
  std::string ratio_reason;
  double ratio = 0;
  uint64_t seed = 0;
  int64_t rows = 0;
  std::optional<double> accuracy, standard_accuracy, retention;  // with labels
  std::vector<std::string> warnings;
};

// preds.csv: row, predicted, probability, standard_predicted, standard_probability, kept
// (concepts kept), then label and source where known; preds.json: the summary.
PredictResult run_predict(const PredictOptions& options);

// Top-1 accuracy of predictions (N int64) against labels: hits / N in double, as `iis fit`.
double accuracy(const torch::Tensor& predicted, const torch::Tensor& labels);

}  // namespace iis::predict
