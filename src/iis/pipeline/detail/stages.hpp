// Internal: the stages `iis run` builds from a config, one function per kind.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "iis/core/launcher.hpp"
#include "iis/pipeline/config.hpp"
#include "iis/pipeline/stage.hpp"

namespace iis::pipeline::detail {

struct StageContext {
  const RunConfig& config;
  std::string run_dir;
  StageRunner& runner;
  std::string train_key, val_key;  // content keys of the dataset splits
  std::string elements_hash;       // the elements stage's hash, once it has run
  bool force = false;              // --force
  // A sharded run (--stage KIND --shard i/n): this process computes its shard of every stage
  // of kind `sharded_kind` and only checks that the stages those need are up to date.
  // "" = a plain run.
  std::string sharded_kind;
  core::ShardSpec shard;
};

// How a stage splits over the processes of a sharded run. Shard i of n lies at
// BASE.part<i>of<n> (core::shard_name; a folder or a prefix of files) with
// BASE.part<i>of<n>.stage.json beside it, written last, holding the stage's hash.
struct Sharding {
  std::string base;  // shards_folder(...)/<leaf>
  // Computes shard `index` of `count` into `out` (the shard's folder or prefix).
  std::function<void(int64_t index, int64_t count, const std::string& out)> run_shard;
  // How many shards the stage splits into when `processes` share it: fewer when it has fewer
  // units of work (a split of few batches); the processes beyond have nothing to do. Unset:
  // one shard per process.
  std::function<int64_t(int64_t processes)> parts;
  // Joins the shards (all n, in index order) into the stage's folder.
  std::function<void(const std::vector<std::string>& shards)> merge;
};

// RUN_DIR/shards/<stage name>: the folder of a stage's shards, removed once they are merged.
std::string shards_folder(const StageContext& ctx, const std::string& stage_name);

// Runs a stage that does not split. A plain run: through the runner. A sharded run: only
// checks that it is up to date, throwing naming it and the command to run first otherwise.
std::string run_stage(StageContext& ctx, const Stage& stage);

// Runs a stage that splits. A plain run: through the runner, which merges the shards a
// sharded run left instead of computing the stage (all n finished for the stage's current
// hash, else it throws naming each shard missing, unfinished or made with other settings), and
// then removes them. A sharded run: this process's shard when the stage is of the sharded kind
// (nothing when the stage is up to date or the shard finished), else as run_stage above.
std::string run_stage(StageContext& ctx, const Stage& stage, const Sharding& sharding);

// A backbone entry resolved to a spec open_backbone accepts.
struct ResolvedBackbone {
  std::string name, spec;
  std::string key;  // content key of its files
};

// The representations of one backbone.
struct Embedded {
  std::string train, val, elements;  // PREFIXes of data.{features,labels}.npy
  std::string hash;                  // combined hash of the three embed stages
};

// CLIP's features of both splits and of the text concepts (text: in the config).
struct ClipEmbedded {
  std::string train, val;  // PREFIXes of data.features.npy (text/clip/<split>/)
  std::string text;        // PREFIX of concepts.{features.npy,names.txt} (text/concepts/)
  std::string hash;        // combined hash of the three stages; "" when not run
};

// Runs (or skips) one pretrain stage per (arch, seed) of the config's pretrain entries and
// returns every backbone of the config with its spec.
std::vector<ResolvedBackbone> pretrain_stages(StageContext& ctx);

// One finetune stage per finetune entry (finetune/<name>/, `iis finetune` from the entry's
// `from` on dataset.train with the run's elements); fills those entries' spec and key.
void finetune_stages(StageContext& ctx, std::vector<ResolvedBackbone>& backbones);

// finetune.csv and finetune.json in the run folder: each fine-tuned backbone beside its start
// and its control (the entry of the same settings with lambda 0), per concept type, and the
// gains over seeds. Nothing when the config has no finetune entry.
void write_finetune_comparison(const RunConfig& config, const std::string& run_dir);

// The element images of the concept library; returns the stage hash.
std::string elements_stage(StageContext& ctx);

// Train, validation and element representations of one backbone.
Embedded embed_stages(StageContext& ctx, const ResolvedBackbone& backbone,
                      const std::string& elements_hash);

// CLIP (`clip`: the spec clip:<archive> and its key) on both splits, and the text concepts.
ClipEmbedded clip_stages(StageContext& ctx, const ResolvedBackbone& clip);

// The heads of one backbone and concept type: fit/<backbone>/<type>/results.json. Text concepts
// read `clip`'s files.
std::string fit_stage(StageContext& ctx, const ResolvedBackbone& backbone, const std::string& type,
                      const Embedded& embedded, const ClipEmbedded& clip);

// summary.csv, summary.json, figures and index.html in the run folder.
std::string report_stage(StageContext& ctx, const std::map<std::string, std::string>& fit_hashes,
                         bool figures);

}  // namespace iis::pipeline::detail
