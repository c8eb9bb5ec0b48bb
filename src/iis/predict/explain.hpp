// `iis explain`: for a handful of images, the decisions of a fit's interpretable head as sums of
// concepts — explain.json and a static index.html with the concepts' element images.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iis/predict/predict.hpp"

namespace iis::predict {

// One concept's share of a logit: W[class, k] · ŷ_k.
struct Contribution {
  int64_t concept_index = 0;
  double value = 0;
};

// A class's logit as the head computes it: bias + Σ contributions over the kept concepts
// (largest first), equal to `logit` up to float rounding.
struct ClassExplanation {
  int64_t class_index = 0;
  double logit = 0;  // the head's (float32) logit
  double bias = 0;
  std::vector<Contribution> contributions;
};

// The explanation of row `row` of `outputs` for class `cls`.
ClassExplanation explain_class(const FitHeads& heads, const HeadOutputs& outputs, int64_t row,
                               int64_t cls);

// Options of `iis explain`; validate() names the flag.
struct ExplainOptions {
  std::string fit;    // --fit FIT_DIR (required)
  HeadChoice choice;  // --ratio, --seed as in `iis predict`
  // --features F.npy or --backbone with --data; --labels. With --features the rows' images are
  // found through PREFIX.paths.txt.
  FeatureSource source;
  std::vector<int64_t> indices;     // --indices: rows of the features or the dataset
  std::vector<std::string> images;  // image files (with --backbone): embedded in OUT/inputs
  int64_t shown = 8;  // --shown: contributions drawn with their elements (all are listed)
  std::string out;    // --out DIR (required): explain.json, concepts.json, index.html, images
  std::string title;  // the page's title ("" = the fit folder)
  void validate() const;
};

struct ExplainResult {
  std::string json, html;  // written files
  int64_t explained = 0;
  std::string ratio_reason;
  std::vector<std::string> warnings;  // e.g. element images that are missing
};

ExplainResult run_explain(const ExplainOptions& options);

}  // namespace iis::predict
