// `iis run` and `iis demo`: the stages of a configuration, their keys and their order.
#include "iis/pipeline/run.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>

#include "iis/core/device.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/paths.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/text.hpp"
#include "iis/models/native.hpp"
#include "iis/pipeline/detail/stages.hpp"
#include "iis/text/concept_sets.hpp"

namespace fs = std::filesystem;

namespace iis::pipeline {
namespace {

std::string join(const std::string& a, const std::string& b) { return (fs::path(a) / b).string(); }

// A cheap content key of a dataset: an IDX images file (and its labels file beside it) by
// content, an ImageFolder by the names, sizes and times of its files.
std::string data_fingerprint(const std::string& path) {
  IIS_CHECK_HINT(fs::exists(path), "dataset " << path << " not found",
                 "check dataset.train / dataset.val in the config");
  if (fs::is_regular_file(path)) {
    std::string key = core::fingerprint_file(path);
    std::string labels = path;
    const auto pos = labels.find("images-idx3-ubyte");
    if (pos != std::string::npos) {
      labels.replace(pos, 17, "labels-idx1-ubyte");
      if (fs::exists(labels)) key += "+" + core::fingerprint_file(labels);
    }
    return key;
  }
  std::vector<std::string> entries;
  for (const auto& e : fs::recursive_directory_iterator(path)) {
    if (!e.is_regular_file()) continue;
    entries.push_back(fs::relative(e.path(), path).generic_string() + ":" +
                      std::to_string(e.file_size()) + ":" +
                      std::to_string(e.last_write_time().time_since_epoch().count()));
  }
  std::sort(entries.begin(), entries.end());
  std::string all;
  for (const auto& s : entries) all += s + "\n";
  return core::fingerprint_text(all);
}

// The file a backbone spec loads: the TorchScript file, a clip: archive, a native checkpoint;
// "" for an untrained native model.
std::string spec_file(const std::string& spec) {
  if (spec.rfind("clip:", 0) == 0) return spec.substr(5);
  if (spec.rfind("native:", 0) != 0) return spec;
  const auto at = spec.find('@');
  return at == std::string::npos ? "" : spec.substr(at + 1);
}

// The content key of a backbone spec's files (TorchScript file, its YAML, a checkpoint).
std::string spec_fingerprint(const std::string& spec) {
  const std::string file = spec_file(spec);
  if (file.empty()) return "untrained";
  IIS_CHECK_HINT(fs::is_regular_file(file), "backbone file " << file << " not found",
                 "check the spec in the config's backbones list");
  std::string key = core::fingerprint_file(file);
  const std::string yaml = fs::path(file).replace_extension(".yaml").string();
  if (fs::exists(yaml)) key += "+" + core::fingerprint_file(yaml);
  return key;
}

// The architecture of a "native:<arch>[@ckpt]" spec, or "" for a TorchScript file.
std::string native_arch(const std::string& spec) {
  if (spec.rfind("native:", 0) != 0) return "";
  return spec.substr(7,
                     spec.find('@') == std::string::npos ? std::string::npos : spec.find('@') - 7);
}

void check_architecture(const std::string& arch, const std::string& entry) {
  const std::vector<std::string> known = models::native_architectures();
  if (std::find(known.begin(), known.end(), arch) != known.end()) return;
  std::string list;
  for (const auto& a : known) list += (list.empty() ? "" : ", ") + a;
  IIS_FAIL("backbone " << entry << ": '" << arch << "' is not a native architecture; did you mean '"
                       << core::nearest(arch, known) << "'?",
           "the run trains and reads " << list
                                       << "; export other models with "
                                          "scripts/export_backbone.py and give them as spec: "
                                          "model.ts");
}

// Everything a stage would refuse later, checked before the first stage runs: an error after
// other backbones have trained for minutes helps no one.
void check_before_running(const RunConfig& config) {
  std::vector<core::NamedPath> inputs = {{"dataset.train", config.dataset.train},
                                         {"dataset.val", config.dataset.val}};
  for (const auto& [key, path] : inputs) {
    IIS_CHECK_HINT(fs::exists(path), "dataset " << path << " not found",
                   "check " << key << " in the config");
  }
  for (const auto& b : config.backbones) {
    if (b.finetune) continue;  // its `from` entry is checked; its file is made by the run
    if (b.pretrain) {
      check_architecture(b.arch, b.name);
      continue;
    }
    const std::string arch = native_arch(b.spec);
    if (!arch.empty()) check_architecture(arch, b.name);
    const std::string file = spec_file(b.spec);
    if (file.empty()) continue;
    IIS_CHECK_HINT(fs::is_regular_file(file),
                   "backbone " << b.name << ": file " << file << " not found",
                   "check the spec in the config's backbones list");
    inputs.push_back({"backbone " + b.name, file});
  }
  if (!config.text.clip.empty()) {
    IIS_CHECK_HINT(fs::is_regular_file(config.text.clip),
                   "text.clip: file " << config.text.clip << " not found",
                   "a CLIP TorchScript archive (scripts/make_clip_model.py writes a small one)");
    inputs.push_back({"text.clip", config.text.clip});
    text::resolve_text_set(config.text.concepts, "text.concepts");
  }
  core::check_device(config.device, "device");
  core::check_output_apart({"out", config.out}, inputs);
}

// The stage kinds in the order a run goes through them.
const std::vector<std::string> kStageKinds = {"pretrain", "elements", "embed", "fit", "report"};

// Whether stages of `kind` run under --stage `last`: that kind and those it needs ("" = all).
bool needed(const std::string& kind, const std::string& last) {
  if (last.empty() || kind == last) return true;
  if (last == "pretrain" || last == "elements") return false;  // they need nothing
  const auto rank = [](const std::string& k) {
    return std::find(kStageKinds.begin(), kStageKinds.end(), k) - kStageKinds.begin();
  };
  return rank(kind) < rank(last);
}

// The stages --stage asks for, in order: backbones (pretrain entries first, one training run
// per architecture and seed), elements, then per backbone its embeddings and heads, the report.
void run_stages(detail::StageContext& ctx, const std::string& last, bool figures) {
  std::vector<detail::ResolvedBackbone> backbones;
  if (needed("pretrain", last)) {
    backbones = detail::pretrain_stages(ctx);
    for (auto& b : backbones)
      if (!b.spec.empty()) b.key = spec_fingerprint(b.spec);
  }
  const std::string elements_hash = needed("elements", last) ? detail::elements_stage(ctx) : "";
  if (!needed("embed", last)) return;
  ctx.elements_hash = elements_hash;
  // Fine-tuned entries, from the backbones above and the elements; their files exist after.
  detail::finetune_stages(ctx, backbones);
  for (auto& b : backbones)
    if (b.key.empty()) b.key = spec_fingerprint(b.spec);
  detail::ClipEmbedded clip;
  if (!ctx.config.text.clip.empty()) {
    const std::string spec = "clip:" + ctx.config.text.clip;
    clip = detail::clip_stages(ctx, {"clip", spec, spec_fingerprint(spec)});
  }
  std::map<std::string, std::string> fit_hashes;
  for (size_t i = 0; i < backbones.size(); ++i) {
    const auto& b = backbones[i];
    const auto embedded = detail::embed_stages(ctx, b, elements_hash);
    if (!needed("fit", last)) continue;
    for (const auto& type : ctx.config.concept_types_of(ctx.config.backbones[i]))
      fit_hashes[b.name + "/" + type] = detail::fit_stage(ctx, b, type, embedded, clip);
  }
  if (needed("report", last)) detail::report_stage(ctx, fit_hashes, figures);
}

// --shard as given, logged; count 0 for a plain run.
core::ShardSpec shard_of(const RunOptions& options) {
  core::ShardSpec shard;
  shard.count = 0;
  if (options.shard.empty()) return shard;
  shard = core::parse_shard(options.shard, options.environment);
  core::log_info("--shard " + options.shard + ": shard " + std::to_string(shard.index) + "/" +
                 std::to_string(shard.count) + " of every " + options.stage + " stage" +
                 (shard.automatic ? ", from " + shard.source : std::string()));
  return shard;
}

}  // namespace

void RunOptions::validate() const {
  IIS_CHECK_HINT(stage.empty() ||
                     std::find(kStageKinds.begin(), kStageKinds.end(), stage) != kStageKinds.end(),
                 "--stage must be pretrain, elements, embed, fit or report, got '" << stage << "'",
                 "e.g. --stage embed; without --stage every stage runs");
  IIS_CHECK_HINT(shard.empty() || stage == "elements" || stage == "embed",
                 "--shard needs --stage elements or --stage embed"
                     << (stage.empty() ? std::string() : ", got --stage " + stage),
                 "only those stages split over processes; run the others without --shard");
}

const std::string& demo_config_text() {
  static const std::string text =
#include "demo_config.inc"
      ;
  return text;
}

RunResult run_pipeline(const RunOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  options.validate();
  IIS_CHECK_HINT(!options.config.empty() || !options.config_text.empty(), "no config given",
                 "usage: iis run CONFIG.yaml (see configs/demo.yaml)");
  const std::string text =
      options.config_text.empty() ? core::read_text(options.config) : options.config_text;
  // Messages name where the config came from: its file, the demo's, or text given by a caller.
  const std::string source =
      !options.config_text.empty()
          ? (options.config_text == demo_config_text() ? "demo config" : "config text")
          : options.config;
  RunConfig config = parse_run_config(text, source);
  if (!options.out.empty()) config.out = options.out;
  IIS_CHECK_HINT(!config.out.empty(), config.source << ": no run folder: 'out' is not set",
                 "add `out: runs/NAME` to the config or pass --out DIR");
  check_before_running(config);
  const std::string run_dir = config.out;
  const core::ShardSpec shard = shard_of(options);
  // The processes of a sharded run share the folder: they leave its records to the plain run.
  const bool sharded = shard.count > 0;
  core::make_dirs(run_dir);
  if (!sharded) core::write_text_atomic(join(run_dir, "config.yaml"), text);
  core::log_info("run folder " + run_dir);

  StageRunner runner(options.force, sharded ? "" : join(run_dir, "stages.json"));
  detail::StageContext ctx{config, run_dir, runner};
  ctx.force = options.force;
  if (sharded) ctx.sharded_kind = options.stage;
  ctx.shard = shard;
  ctx.train_key = data_fingerprint(config.dataset.train);
  ctx.val_key = data_fingerprint(config.dataset.val);
  run_stages(ctx, options.stage, options.figures);

  RunResult result;
  result.run_dir = run_dir;
  result.stages = runner.records();
  if (needed("report", options.stage)) {
    result.report.rows = report::collect_results(run_dir);
    result.report.correlations = report::correlate(result.report.rows);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

RunResult run_demo(const DemoOptions& options) {
  RunOptions run;
  run.config_text = demo_config_text();
  run.out = options.out;
  run.force = options.force;
  return run_pipeline(run);
}

}  // namespace iis::pipeline
