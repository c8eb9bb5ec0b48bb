// `iis run CONFIG` and `iis demo`: elements → embed → fit → report as stages, each skipped when
// its stamp says its inputs and options are unchanged.
#pragma once

#include <string>
#include <vector>

#include "iis/core/launcher.hpp"
#include "iis/pipeline/config.hpp"
#include "iis/pipeline/stage.hpp"
#include "iis/report/report.hpp"

namespace iis::pipeline {

// Options of `iis run`.
struct RunOptions {
  std::string config;       // CONFIG: the YAML file (required unless config_text is given)
  std::string config_text;  // YAML text used instead of a file (the demo's embedded config)
  std::string out;          // --out: the run folder, overriding the config's `out`
  bool force = false;       // --force: recompute every stage
  bool figures = true;      // false: --no-figures, the report without gnuplot
  // --stage KIND: run only the stages of that kind and those they need, then stop:
  // pretrain, elements (each needs nothing), embed (needs pretrain and elements), fit, report
  // (everything, as "" does).
  std::string stage;
  // --shard i/n|auto (with --stage elements or embed): compute only this process's shard of
  // every stage of that kind, into RUN_DIR/shards/<stage>/, checking that the stages it needs
  // are up to date (it runs none of them); a later run without --shard merges the shards as
  // `iis merge` would and goes on. "auto" reads the launcher's variables in `environment`.
  std::string shard;
  core::Environment environment;  // the tool passes core::process_environment()

  // Throws iis::Error naming --stage or --shard.
  void validate() const;
};

// What a run did.
struct RunResult {
  std::string run_dir;
  std::vector<StageRecord> stages;  // in order; also in RUN_DIR/stages.json (not when sharded)
  report::ReportResult report;      // empty when --stage stopped before the report
  double seconds = 0;
};

// Runs the whole pipeline. Layout of the run folder:
//   config.yaml                          the config as given
//   stages.json                          every stage: ran or skipped, seconds, hash
//   pretrain/<arch>_s<seed>/epoch_<k>.pt native backbones the run trains itself
//   elements/                            the concept library's element images + manifest
//   embed/<backbone>/{train,val,elements}/data.{features,labels}.npy …
//   shards/<stage>/                      a sharded run's shards, until a plain run merges them
//   fit/<backbone>/<concept_type>/results.json …
//   summary.csv, summary.json, index.html, figures/   (iis report)
RunResult run_pipeline(const RunOptions& options);

// The embedded default configuration (configs/demo.yaml, compiled in).
const std::string& demo_config_text();

// Options of `iis demo`.
struct DemoOptions {
  std::string out = "runs/demo";  // --out
  bool force = false;             // --force
};

// `iis run` on the embedded default configuration with `out` overridden.
RunResult run_demo(const DemoOptions& options);

}  // namespace iis::pipeline
