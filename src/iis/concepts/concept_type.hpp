// A concept type: how `iis fit` makes the K concepts of one seed from the element vectors,
// the scores the interpretable heads train on, and what it saves (docs/design.md §4). Each type is
// one file in concepts/types/, listed once in concepts/registry.cpp.
#pragma once

#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "iis/concepts/end2end.hpp"
#include "iis/concepts/kmeans.hpp"
#include "iis/concepts/options.hpp"
#include "iis/concepts/registry.hpp"
#include "iis/core/options.hpp"
#include "iis/heads/train.hpp"
#include "iis/results/results.hpp"

namespace iis::concepts {

// What one seed's concepts are made from. Tensors are borrowed for the seed's lifetime.
struct SeedInputs {
  torch::Tensor elements;        // M×D float32 (CPU): the element vectors
  torch::Tensor element_labels;  // M int64 (CPU), or undefined
  torch::Tensor train_features;  // N×D float32 on the device the heads train on
  torch::Tensor val_features;    // Nv×D float32, same device
  int64_t num_concepts = 0;      // K
  std::vector<double> ratios;    // the heads' sparsity ratios
  std::vector<double> lrs;       // their learning rates (heads are ratio-major: R·L)
  uint64_t seed = 0;
  std::string seed_folder;  // the seed's folder relative to the fit's output, for records
};

// The head reported at one ratio: its index among the interpretable heads and its epoch.
struct PickedHead {
  int64_t head = 0;
  int64_t epoch = 0;
  torch::Tensor weight;  // C×K: its linear layer's weights
};

// An input file of a type's own (name: its key in results.json "inputs"), read by the type and
// fingerprinted with the fit's inputs, so that a finished fit is reused only on the same files.
struct TypeInput {
  std::string name;
  std::string path;
};

// One seed's concepts, from their choice to their files. Called in this order: choose(),
// scores(), keep(), save().
class SeedConcepts {
 public:
  virtual ~SeedConcepts() = default;
  // Chooses (or, for learned types, prepares) the concepts.
  virtual void choose() = 0;
  // The scores the interpretable heads train on; owned by this object.
  virtual heads::ConceptScores& scores() = 0;
  // After training: the head reported at each ratio (learned types keep its concepts).
  virtual void keep(const std::vector<PickedHead>& /*picked*/) {}
  // Whether the type solves the interpretable heads itself (text's --final-layer saga) instead
  // of the joint training; then train_final_layer() gives one head per ratio, in order.
  virtual bool has_final_layer() const { return false; }
  virtual std::vector<heads::HeadOutcome> train_final_layer(const heads::TrainSplits& /*splits*/,
                                                            heads::ThresholdRule /*rule*/) {
    return {};
  }
  // Writes concepts.npy and the type's own files into `seed_dir`, and its part of seed.json into
  // `record`: concept_type and its details (concept_select, kmeans, end2end, ...).
  virtual void save(const std::string& seed_dir, results::SeedResults& record) const = 0;
};

// One concept type. Implementations are stateless singletons.
class ConceptType {
 public:
  virtual ~ConceptType() = default;
  virtual std::string name() const = 0;
  // How it makes concepts, for `--help`: "K of the elements".
  virtual std::string help() const = 0;
  // Whether it makes concepts from the element vectors (--concepts); text concepts do not.
  virtual bool uses_elements() const { return true; }
  // Its own input files (see TypeInput).
  virtual std::vector<TypeInput> input_files(const ConceptTypeOptions& /*options*/) const {
    return {};
  }
  // Checks its own input files against the fit's rows before anything is written (shapes from
  // the files' headers); throws iis::Error naming the flag.
  virtual void check_inputs(const ConceptTypeOptions& /*options*/, int64_t /*train_rows*/,
                            int64_t /*val_rows*/) const {}
  // Its own options (flags of `iis fit`, keys of `iis run`'s fit: section), bound to `options`.
  virtual core::Options options(ConceptTypeOptions& /*options*/) const { return {}; }
  // Throws iis::Error naming the flag for a combination of options this type cannot run with
  // (each option's own range: validate(ConceptTypeOptions) below).
  virtual void validate(const ConceptTypeOptions& /*options*/, int64_t /*num_concepts*/,
                        bool /*has_element_labels*/) const {}
  // Whether `options` make it solve its own final layer (SeedConcepts::has_final_layer), which
  // is solved rather than picked by epoch: --select-on holdout does not apply to it.
  virtual bool own_final_layer(const ConceptTypeOptions& /*options*/) const { return false; }
  // Adds to a seed's settings those of this type that change its numbers.
  virtual void add_settings(results::FitSettings& settings, const ConceptTypeOptions& options,
                            bool has_element_labels) const = 0;
  // What a seed folder holds beside concepts.npy, heads/ and seed.json, for results.json's
  // "files".
  virtual std::string files() const = 0;
  // Sets what results.json gains from the seeds' records (default: nothing).
  virtual void summarize(const std::vector<results::SeedResults>& /*seeds*/,
                         results::FitResults& /*results*/) const {}
  virtual std::unique_ptr<SeedConcepts> start(const SeedInputs& in,
                                              const ConceptTypeOptions& options) const = 0;
};

// Every concept type, in the registry's order (the order reports list them in).
const std::vector<const ConceptType*>& concept_types();

// The type called `name`; throws iis::Error naming --concept-type and the valid names.
const ConceptType& find_concept_type(const std::string& name);

// Writes a tensor as `name` in `folder` (CPU copy), for the types' save().
void save_tensor(const std::string& folder, const std::string& name, const torch::Tensor& t);

}  // namespace iis::concepts
