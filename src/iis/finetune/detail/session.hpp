// Internal: what one `iis finetune` run holds between epochs, its inputs and its files.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "iis/finetune/concept_maker.hpp"
#include "iis/finetune/finetune.hpp"
#include "iis/finetune/images.hpp"
#include "iis/finetune/loss.hpp"
#include "iis/finetune/trainable.hpp"

namespace iis::finetune::detail {

// The splits and elements in memory, and the identity of everything the weights depend on.
struct Inputs {
  ImageSplit train, val;
  std::unique_ptr<ConceptMaker> concepts;
  int64_t num_classes = 0;
  nlohmann::json identity;  // settings and input fingerprints (epochs and device aside)
};

// Everything a run keeps between steps and writes into state.pt.
struct Session {
  std::unique_ptr<TrainableBackbone> backbone;
  FinetuneHeads heads;
  std::unique_ptr<torch::optim::Adam> backbone_adam, heads_adam;
  torch::Tensor concepts;  // K×D, the current concept vectors
  int64_t epoch = 0, step = 0;
};

// Reads the splits and the elements (checked against --data's classes) and the identity.
Inputs load_inputs(const FinetuneOptions& options, const std::string& preprocess_yaml);

// The identity of the inputs and settings, for resuming (no files are read but fingerprints).
nlohmann::json run_identity(const FinetuneOptions& options);

// Both optimisers over the session's backbone and heads (Adam, the project's constants).
void make_optimizers(Session& session, const FinetuneOptions& options);

// The heads a run starts from: fitted on the frozen backbone, fresh, or read from --heads.
FinetuneHeads initial_heads(const FinetuneOptions& options, Session& session, const Inputs& inputs,
                            torch::Device device);

// Validation top-1 of the standard and the interpretable head, with concepts made anew from
// the current backbone (eval mode, no gradient).
std::pair<double, double> val_accuracy(Session& session, Inputs& inputs, int64_t position,
                                       torch::Device device);

// state.pt: the epoch and step, the heads, the concepts, the prototype choice, the optimisers.
void save_state(const std::string& path, Session& session, const ConceptMaker& maker);
// The epoch state.pt was written after.
int64_t state_epoch(const std::string& path);
// Loads what save_state wrote into a session whose backbone is already open.
void load_state(const std::string& path, Session& session, ConceptMaker& maker,
                const FinetuneOptions& options, torch::Device device);

// OUT/heads/*.npy in `iis fit`'s names, one ratio: gamma, beta 1×K, weight 1×C×K, bias 1×C,
// standard_weight C×D, standard_bias C.
void save_heads(const std::string& dir, const FinetuneHeads& heads);
// Reads them (also a folder of `iis fit` holding one ratio), checked against the backbone's
// width D, K and C; throws iis::Error naming the file.
FinetuneHeads load_heads(const std::string& dir, int64_t width, int64_t num_concepts,
                         int64_t num_classes);

}  // namespace iis::finetune::detail
