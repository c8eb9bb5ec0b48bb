// `iis pretrain`: trains a native backbone on a labelled image dataset (the embedded default:
// Fashion-MNIST), one checkpoint per epoch, resumable and deterministic for a seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iis::models {

// What `iis pretrain` does; each field is one flag. Validated by validate_pretrain_options().
struct PretrainOptions {
  std::string arch;          // --arch, required: one of native_architectures()
  std::string data;          // --data, required: an IDX images file (…-images-idx3-ubyte[.gz]) or
                             // an ImageFolder; the training split
  std::string val_data;      // --val-data: a test split whose accuracy is logged per epoch; "" none
  std::string out;           // --out, required: folder of epoch_<k>.pt, last.pt and log.json
  int64_t epochs = 5;        // --epochs, 0…1000; 0 saves only the seeded initial model epoch_0.pt
  uint64_t seed = 0;         // --seed: initial weights, batch order and the --train-limit subset
  int64_t batch_size = 128;  // --batch-size, 1…65536
  double lr = 1e-3;          // --lr, Adam's learning rate, constant, in (0, 10]
  int64_t train_limit = 0;   // --train-limit: train on a seeded random subset of N images; 0 all
  std::string device = "cpu";  // --device: cpu, cuda or cuda:<i>
  bool force = false;          // --force: start afresh even if `out` holds a run (any options)
};

// Throws iis::Error naming the flag and its valid range for the first invalid field.
void validate_pretrain_options(const PretrainOptions& options);

// One finished epoch, as log.json records it.
struct PretrainEpoch {
  int64_t epoch = 0;  // 1-based; 0 is the initial model (no training)
  // Measures are NaN where not measured (epoch 0's training measures, val without
  // --val-data); log.json writes them as null.
  double train_loss = 0;      // mean cross-entropy over the epoch's batches (train mode)
  double train_accuracy = 0;  // share of training images classified right during the epoch
  double val_accuracy = 0;    // accuracy on --val-data after the epoch (eval mode)
  double seconds = 0;         // wall time of the epoch's training and evaluation
  std::string checkpoint;     // path of epoch_<k>.pt
};

// What run_pretrain produced or found.
struct PretrainResult {
  std::vector<PretrainEpoch> epochs;  // epoch 0 … options.epochs
  std::string checkpoint;             // epoch_<options.epochs>.pt, the requested model
  std::string log;                    // log.json
  int64_t epochs_trained = 0;         // trained by this call (0 when all were there already)
  int64_t num_classes = 0;
  int64_t train_size = 0;  // images trained on (after --train-limit)
};

// Trains options.arch on options.data for options.epochs epochs with Adam (constant lr) and
// cross-entropy, writing out/epoch_<k>.pt (k = 0 the seeded initial model), out/last.pt and
// out/log.json atomically after each epoch. When `out` already holds a run with the same
// options (epochs aside), training resumes after its last epoch, or nothing is trained if it
// has reached options.epochs; a run with other options is an error unless options.force.
// The whole split is held in memory as uint8 (60000×28×28 = 47 MB for Fashion-MNIST).
// Deterministic for a seed on one machine and thread count; a resumed run gives the same
// weights as an uninterrupted one.
PretrainResult run_pretrain(const PretrainOptions& options);

}  // namespace iis::models
