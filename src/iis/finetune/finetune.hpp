// `iis finetune`: fine-tunes a backbone through its standard head and a sparse concept head at
// once, loss CE(standard) + λ·CE(interpretable) — the paper's first application
// (docs/design.md §12). λ = 0 is the control: the same steps without the interpretability term.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iis::finetune {

// Every knob of `iis finetune`; each field is one flag. Checked by validate().
struct FinetuneOptions {
  std::string backbone;  // --backbone SPEC (required): native:<arch>@ckpt.pt or model.ts
  std::string data;      // --data TRAIN (required): ImageFolder or IDX images file
  std::string val_data;  // --val-data VAL (required): accuracies are measured on it
  std::string elements;  // --elements DIR (required): a complete `iis elements` folder cut
                         //   from images of the same classes as --data
  std::string out;       // --out DIR (required)
  std::string concept_type = "prototype";  // --concept-type prototype | cluster
  int64_t num_concepts = 200;              // --num-concepts K, 1 ≤ K ≤ elements
  double ratio = 0.5;                      // --ratio r of the interpretable head, in [0, 1)
  double lambda = 1.0;                     // --lambda λ ≥ 0; 0 = the control
  int64_t epochs = 2;                      // --epochs, 0…1000 (0: only the heads' start)
  double lr = 1e-4;                        // --lr: Adam's learning rate of the backbone
  double head_lr = 1e-3;                   // --head-lr: Adam's learning rate of both heads
  int64_t batch_size = 128;                // --batch-size, 1…65536
  uint64_t seed = 0;                       // --seed: data order, heads, concept sample, k-means
  std::string device = "cpu";              // --device cpu | cuda | cuda:N
  int64_t concept_refresh = 1;             // --concept-refresh: steps between concept updates
  bool concept_grad = false;               // --concept-grad: gradient through the concepts
                                           //   (needs --concept-refresh 1)
  std::string head_init = "fit";           // --head-init fit | fresh: heads fitted on the
                                           //   frozen backbone's features, or new
  int64_t head_epochs = 10;                // --head-epochs of that fit (lr 0.01, batch 1024)
  std::string heads;                       // --heads DIR: start from these heads instead
                                           //   (DIR/{standard_weight,standard_bias,gamma,
                                           //   beta,weight,bias}.npy, as written to OUT/heads)
  int64_t train_limit = 0;                 // --train-limit: the first N training images; 0 all
  int64_t val_limit = 0;                   // --val-limit: the first N validation images; 0 all
  bool force = false;                      // --force: start afresh over a run of other settings

  // Throws iis::Error naming the flag and its valid range.
  void validate() const;
  // The same for every setting but the paths and the device (what `iis run`'s config holds).
  void validate_settings() const;
};

// One epoch as log.json records it (epoch 0: the start, before any step).
struct FinetuneEpoch {
  int64_t epoch = 0;
  double standard_loss = 0;           // mean training CE of the standard head (NaN at epoch 0)
  double interpretable_loss = 0;      // mean training CE of the interpretable head (NaN at 0)
  double standard_accuracy = 0;       // validation top-1 of the standard head
  double interpretable_accuracy = 0;  // validation top-1 of the interpretable head
  double seconds = 0;                 // wall time of the epoch
  double cpu_seconds = 0;             // process CPU time of the epoch
};

struct FinetuneResult {
  std::vector<FinetuneEpoch> epochs;  // 0 … options.epochs
  std::string backbone;               // OUT/backbone.pt or OUT/backbone.ts: the fine-tuned backbone
  std::string spec;                   // the spec `iis embed --backbone` takes for it
  int64_t epochs_trained = 0;         // by this call
  int64_t steps_per_epoch = 0;
};

// The order of the training rows in epoch `epoch` (1-based) for `seed`: a permutation of
// 0…n−1 of its own stream, whatever λ, the ratio or the concepts are.
std::vector<int64_t> batch_order(int64_t n, uint64_t seed, int64_t epoch);

// Fine-tunes as options say, writing into OUT: epoch_<e>.pt|.ts (the backbone after each
// epoch, e = 0 the start), state.pt (heads, optimisers, concepts: what resuming needs),
// heads/*.npy (the heads after the last epoch), log.json (per epoch) and finetune.json
// (settings, fingerprints, before and after), each atomically; last backbone.pt|.ts (and its
// YAML). A folder holding a run of the same settings resumes after its last epoch with the
// numbers an uninterrupted run gives; one of other settings is refused unless force.
FinetuneResult run_finetune(const FinetuneOptions& options);

}  // namespace iis::finetune
