// The options of the concept types, without their algorithms: what `iis fit`, `iis kmeans`
// and `iis run`'s `fit:` section hold and check. Defaults are defined here once.
#pragma once

#include <cstdint>
#include <string>

#include "iis/heads/saga.hpp"

namespace iis::concepts {

// Options of kmeans(). The defaults are scikit-learn 1.2's
// KMeans(init="k-means++", n_init=1, algorithm="lloyd"), plus a cap on the rows clustered.
struct KMeansOptions {
  // Number of clusters K (--num-concepts in `iis fit`, --k in `iis kmeans`); 1 <= K <= rows.
  int64_t k = 0;
  // Seeds the subsample and the k-means++ draws; the same seed gives the same centres.
  uint64_t seed = 0;
  // --kmeans-max-elements: cluster at most this many rows, a seeded uniform subsample of them
  // when there are more (every row still gets a label). 0 = all rows.
  int64_t max_elements = 20000;
  // --kmeans-tol: stop when the summed squared centre shift of one iteration is at most
  // tol × (mean per-feature variance of the rows), scikit-learn's semantics. >= 0.
  double tol = 1e-4;
  // --kmeans-max-iter: at most this many Lloyd iterations. >= 1.
  int64_t max_iter = 300;
  // Candidates drawn per k-means++ centre, of which the one lowering the potential most is
  // kept; 0 = 2 + floor(ln K) (scikit-learn's default), 1 = the original k-means++.
  int64_t local_trials = 0;
  // Rows per block of the row×centre distance matrix (bounds memory); 0 = automatic (~32 MiB).
  int64_t block_rows = 0;
};

// Throws iis::Error naming the flag and its valid range for an out-of-range option.
void validate(const KMeansOptions& options);

// Knobs of the end-to-end concepts; checked by validate().
struct End2EndOptions {
  int64_t num_concepts = 200;  // K, --num-concepts; 1 ≤ K ≤ M
  double temperature = 0.1;    // --temperature of the Gumbel-softmax, > 0
  double init_std = 0.02;      // std of the truncated-normal initial assignment logits q
  uint64_t seed = 0;           // seeds the initial q and every Gumbel draw
};

// Throws iis::Error naming the flag and its valid range.
void validate(const End2EndOptions& options);

// Options of the text concepts (text.hpp); the defaults are the label-free concept
// bottleneck's. The four files are CLIP's features of the fit's rows and of the concept names.
struct TextOptions {
  std::string clip_train_features;        // --clip-train-features: N×E CLIP image features
  std::string clip_val_features;          // --clip-val-features: Nv×E
  std::string text_features;              // --text-features: T×E CLIP text features
  std::string concept_names;              // --concept-names: T lines (`iis embed-text`'s names.txt)
  double clip_cutoff = 0.25;              // --clip-cutoff: keep a concept whose top-5 mean is above
  double interpretability_cutoff = 0.45;  // --interpretability-cutoff: keep cos³ above this
  int64_t proj_steps = 1000;              // --proj-steps: at most this many Adam steps
  int64_t proj_batch_size = 50000;        // --proj-batch-size: rows per step (≤ N)
  double proj_lr = 1e-3;                  // Adam's learning rate of the projection
  int64_t check_every = 50;               // steps between validation checks
  std::string final_layer = "adam";       // --final-layer: adam (the joint heads) | saga
  heads::SagaOptions saga;                // --saga-*: the elastic net of --final-layer saga
};

// Throws iis::Error naming the flag and its valid range.
void validate(const TextOptions& options);

// The options of the concept types, as `iis fit` and `iis run`'s `fit:` take them. K and the
// seed are not here: they are the fit's, given per seed (concept_type.hpp, SeedInputs).
struct ConceptTypeOptions {
  // prototype, --concept-select: first | stratified | random; "" = stratified when element
  // labels are given, random otherwise.
  std::string select;
  // cluster, --kmeans-max-elements, --kmeans-tol, --kmeans-max-iter (k and seed: per seed).
  KMeansOptions kmeans;
  // end2end, --temperature (num_concepts and seed: per seed).
  End2EndOptions end2end;
  // text: CLIP's features and the cut-offs.
  TextOptions text;
};

// Throws iis::Error naming the flag for an option outside its range, whichever type is fit.
void validate(const ConceptTypeOptions& options, int64_t num_concepts);

}  // namespace iis::concepts
