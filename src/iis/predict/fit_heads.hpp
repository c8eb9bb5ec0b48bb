// The heads a finished `iis fit` saved, loaded back to be applied to new features: the
// interpretable head of one seed at one sparsity ratio (its concepts, γ, β, rule, W, b) and the
// standard head beside it (docs/design.md §7).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "iis/heads/threshold.hpp"
#include "iis/results/results.hpp"

namespace iis::predict {

// Which head of a fit folder to load. ratio < 0: the default rule (default_ratio); seed < 0:
// the fit's first seed.
struct HeadChoice {
  double ratio = -1;
  int64_t seed = -1;
};

// One seed's reported heads at one ratio, on the CPU.
struct FitHeads {
  std::string fit_dir;
  results::FitResults results;  // the fit's results.json
  std::string concept_type;     // prototype | cluster | end2end | text
  uint64_t seed = 0;
  size_t seed_index = 0;   // in results.per_seed
  size_t ratio_index = 0;  // in results.ratios and the heads' R axis
  double ratio = 0;
  std::string ratio_reason;  // how the ratio was chosen, for the user
  heads::ThresholdRule rule = heads::ThresholdRule::Strict;
  int64_t num_classes = 0;
  torch::Tensor concepts;               // K×D float32: the head's concept vectors (text: W_c rows)
  torch::Tensor score_mean, score_std;  // text only: K, the training standardisation
  torch::Tensor gamma, beta;            // K
  torch::Tensor weight, bias;           // C×K, C
  torch::Tensor standard_weight, standard_bias;  // C×D, C
  int64_t num_concepts() const { return concepts.size(0); }
  int64_t feature_dim() const { return concepts.size(1); }
};

// The default ratio: the largest whose mean retention (results.json ratios[].arr) is at least
// `min_retention`; the smallest ratio when none is. Returns its index and says why in `reason`.
size_t default_ratio(const results::FitResults& results, double min_retention, std::string& reason);

// The retention the default ratio must keep (the rule: 95 % of the standard accuracy).
constexpr double kDefaultMinRetention = 0.95;

// Reads FIT_DIR/results.json and the chosen seed's heads and concepts. Throws iis::Error naming
// the flag (--ratio, --seed) for a ratio or seed the fit did not train, and naming the file for
// a missing or malformed one (with the hint to re-run `iis fit`).
FitHeads load_fit_heads(const std::string& fit_dir, const HeadChoice& choice);

// What the heads compute for N rows of features (N×D float32, CPU).
struct HeadOutputs {
  torch::Tensor scores;           // N×K: the normalised concept scores z
  torch::Tensor activations;      // N×K: ŷ, the sparse activations (0 where dropped)
  torch::Tensor mask;             // N×K bool: the concepts kept per row
  torch::Tensor logits;           // N×C float32: the interpretable head's
  torch::Tensor standard_logits;  // N×C float32
  torch::Tensor predicted, standard_predicted;      // N int64: argmax (ties: the lower class)
  torch::Tensor probability, standard_probability;  // N: softmax at the predicted class
  torch::Tensor kept;                               // N int64: concepts kept per row
};

// Applies both heads as `iis fit` scored them (the same kernels, in the same chunks of rows),
// so that accuracy on the fit's validation features is the fit's top-1 bit for bit.
HeadOutputs apply_heads(const FitHeads& heads, const torch::Tensor& features);

// The normalised concept scores z (N×K) of features under the head's concept type.
torch::Tensor concept_scores(const FitHeads& heads, const torch::Tensor& features);

}  // namespace iis::predict
