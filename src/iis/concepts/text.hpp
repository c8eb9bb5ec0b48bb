// Text concepts (docs/design.md §4): named concepts scored by CLIP and mapped onto the
// representation, the label-free concept bottleneck's route (Oikarinen et al., ICLR 2023):
//   A = normalise(CLIP image features) · normalise(CLIP text features)ᵀ      (N×T)
//   keep concept t when mean(top-5 over the training rows of A[:, t]) > clip_cutoff
//   learn W_c (T'×D, no bias) from the representation Z to A by maximising the cos³ similarity
//     sim_t(P, A) = cos( (P_t − mean P_t)³, (A_t − mean A_t)³ )   (per column, over the rows)
//   with Adam, random batches, the best validation similarity kept (checked every 50 steps,
//   stopping when it gets worse)
//   keep concept t when its validation similarity > interpretability_cutoff
//   scores S = (Z W_cᵀ − μ_train) / σ_train over the kept concepts.
// The reference code maximises a squared distance it calls a similarity and compares that
// distance with the 0.45 cut-off; iis uses the cosine throughout (docs/design.md §10).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "iis/concepts/options.hpp"

namespace iis::concepts {

// CLIP's image-text cosine similarities: rows of `images` (N×E) against rows of `texts` (T×E).
torch::Tensor clip_activations(const torch::Tensor& images, const torch::Tensor& texts);

// Per column of `a` (N×T): the mean of its `k` largest values (all rows when N < k).
torch::Tensor top_k_mean(const torch::Tensor& a, int64_t k = 5);

// Per column: the cos³ similarity of `projected` and `clip` (both N×T); differentiable.
torch::Tensor cos_cubed_similarity(const torch::Tensor& projected, const torch::Tensor& clip);

// What the projection's training did.
struct ProjectionFit {
  torch::Tensor weight;            // T×D, the best weights (T: the concepts it was given)
  torch::Tensor val_similarity;    // T: per concept, cos³ on the validation rows at the best
  int64_t steps = 0;               // steps taken
  double best_val_similarity = 0;  // the mean over concepts at the best weights
};

// Learns W (T×D) so that features·Wᵀ follows `clip` (N×T) by cos³, per the header. Seeded: the
// initial weights and every batch come from `seed`.
ProjectionFit fit_projection(const torch::Tensor& features, const torch::Tensor& clip,
                             const torch::Tensor& val_features, const torch::Tensor& val_clip,
                             const TextOptions& options, uint64_t seed);

// A concept dropped by a filter, with the value the cut-off was compared with.
struct DroppedConcept {
  std::string name;
  double value = 0;
};

// The text concepts of one seed: which were kept, which each filter dropped, and the scores.
struct TextConcepts {
  std::vector<std::string> kept;  // names, in the order of the score columns
  std::vector<DroppedConcept> dropped_by_clip_cutoff;
  std::vector<DroppedConcept> dropped_by_interpretability_cutoff;
  torch::Tensor projection;    // K×D: kept rows of W_c
  torch::Tensor mean, std;     // K: of the training activations (the standardisation)
  torch::Tensor train_scores;  // N×K standardised
  torch::Tensor val_scores;    // Nv×K
  int64_t projection_steps = 0;
  double best_val_similarity = 0;
};

// The whole path of the header. `clip_train`/`clip_val`: CLIP image features of the same rows
// as `train`/`val`; `text`: T×E CLIP text features of `names`. Throws iis::Error when a filter
// leaves no concept (naming the filter and the cut-off to lower).
TextConcepts text_concepts(const torch::Tensor& train, const torch::Tensor& val,
                           const torch::Tensor& clip_train, const torch::Tensor& clip_val,
                           const torch::Tensor& text, const std::vector<std::string>& names,
                           const TextOptions& options, uint64_t seed);

}  // namespace iis::concepts
