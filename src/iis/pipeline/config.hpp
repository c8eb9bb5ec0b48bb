// The YAML configuration of `iis run`: what to evaluate (dataset, concept library, backbones,
// concept types, ratios, seeds) and where. One place parses and validates it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iis/core/text.hpp"
#include "iis/elements/elements.hpp"
#include "iis/finetune/finetune.hpp"
#include "iis/fit/fit.hpp"

namespace iis::pipeline {

// `dataset:` — the labelled images (ImageFolder folders or IDX images files).
struct DatasetConfig {
  std::string train;  // train: the split heads (and pretrain entries) train on (required)
  std::string val;    // val: the split accuracies are measured on (required)
  std::string elements_from = "train";  // elements_from: train | val, the split concepts come from
  int64_t train_limit = 0;              // train_limit: only the first N training images; 0 = all
  int64_t val_limit = 0;                // val_limit: only the first N validation images; 0 = all
};

// One entry of `backbones:`. Exactly one of `spec`, `pretrain` and `finetune` is given.
struct BackboneConfig {
  std::string name;          // name: the folder and row name (letters, digits, . _ -)
  std::string spec;          // spec: model.ts | native:<arch>[@ckpt.pt] (see open_backbone)
  bool pretrain = false;     // pretrain: {arch, epochs, seed} — trained by the run itself
  std::string arch;          //   arch: a native architecture
  int64_t epochs = 0;        //   epochs: 0 = the seeded untrained model (a control)
  int64_t seed = 0;          //   seed
  int64_t train_limit = -1;  //   train_limit: N training images; -1 = pretrain.train_limit
  bool finetune = false;     // finetune: {from, lambda, ratio, epochs, ...} — fine-tuned by the
  std::string from;          //   run from entry `from` (not itself a finetune entry) on
                             //   dataset.train, with the run's elements (iis finetune)
  finetune::FinetuneOptions finetune_options;  // its settings (paths and device set by the run)
  // concept_types: the concept types fit on this entry, a subset of the run's (empty: all of
  // them); lets a cheap variant of a backbone skip the costly types.
  std::vector<std::string> concept_types;
};

// `pretrain:` — settings shared by all pretrain entries (see iis pretrain).
struct PretrainConfig {
  int64_t batch_size = 128;  // batch_size
  double lr = 1e-3;          // lr
  int64_t train_limit = 0;   // train_limit: a seeded subset of N training images; 0 = all
};

// `text:` — what text concepts need (concept_types lists text): a CLIP archive, which the run
// embeds both splits with, and the concepts it scores (`iis embed-text`).
struct TextConfig {
  std::string clip;       // clip: a CLIP TorchScript archive (OpenAI's layout, backbone/clip.hpp)
  std::string concepts;   // concepts: a shipped set's name (cifar10, imagenet, ...) or a file
  bool truncate = false;  // truncate: cut concepts longer than CLIP's context length
};

// The whole configuration of `iis run`.
struct RunConfig {
  std::string source;          // the file it was read from (for messages), or "<text>"
  std::string out;             // out: the run folder (required unless given on the command line)
  std::string device = "cpu";  // device: cpu | cuda | cuda:N
  std::vector<std::string> concept_types{"prototype"};  // concept_types
  int64_t embed_batch_size = 256;                       // embed: {batch_size}
  DatasetConfig dataset;
  // `concepts:` — the library of visual elements concepts are built from (docs/design.md §3):
  // the options of `iis elements`, checked by its own validation; data and out are set by the run.
  elements::ElementsOptions concepts;
  std::vector<BackboneConfig> backbones;  // backbones: at least one
  PretrainConfig pretrain;
  TextConfig text;  // text: (clip empty when absent)
  // fit: — `iis fit`'s options under their flag names; also the top-level seeds and ratios.
  // The paths, out, concept_type and device are set per fit stage.
  fit::FitOptions fit;
  // report: {explain: N} — explain the first N validation images with the interpretable head of
  // the most accurate backbone (first concept type) into RUN/explanations/, linked from the
  // report; 0 (the default) explains nothing.
  int64_t report_explain = 0;

  // The concept types fit on `b`: its own `concept_types`, else the run's, in the run's order.
  std::vector<std::string> concept_types_of(const BackboneConfig& b) const;
};

// Parses YAML text; `source` names it in messages. Paths stay as written (relative ones are
// relative to the working folder, as on the command line). Throws iis::Error naming the key
// (and, for an unknown key, the nearest valid one), its line, and the valid values.
RunConfig parse_run_config(const std::string& yaml, const std::string& source);

// Reads and parses a config file.
RunConfig load_run_config(const std::string& path);

// Nearest-word suggestions for unknown keys (core/text.hpp).
using core::edit_distance;
using core::nearest;

}  // namespace iis::pipeline
