// The stages of `iis run`: how each maps the config onto its area's run_* function and which
// inputs enter its key.
#include <algorithm>
#include <filesystem>
#include <map>
#include <tuple>

#include "iis/concepts/concept_type.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/data/dataset.hpp"
#include "iis/elements/elements.hpp"
#include "iis/embed/embed.hpp"
#include "iis/fit/fit.hpp"
#include "iis/models/pretrain.hpp"
#include "iis/pipeline/detail/stages.hpp"
#include "iis/predict/explain.hpp"
#include "iis/report/report.hpp"
#include "iis/results/results.hpp"
#include "iis/text/concept_sets.hpp"

namespace fs = std::filesystem;

namespace iis::pipeline::detail {
namespace {

std::string join(const std::string& a, const std::string& b) { return (fs::path(a) / b).string(); }

// The shards of an elements stage: folders of `iis elements --shard`, joined as `iis merge`
// joins them.
Sharding elements_sharding(const StageContext& ctx, const Stage& stage,
                           const elements::ElementsOptions& options) {
  Sharding sharding;
  sharding.base = join(shards_folder(ctx, stage.name), "elements");
  sharding.run_shard = [options](int64_t index, int64_t count, const std::string& out) {
    elements::ElementsOptions o = options;
    o.shard_index = index;
    o.shard_count = count;
    o.out = out;
    o.force = true;  // the folder is the pipeline's: resume it, or replace what other inputs made
    elements::run_elements(o);
  };
  sharding.merge = [out = stage.output_dir](const std::vector<std::string>& shards) {
    elements::run_merge_elements({shards, out});
  };
  return sharding;
}

// The shards of an embed stage: prefixes of `iis embed --shard`, joined as `iis merge` joins
// them. The split's limit (dataset.train_limit, val_limit) bounds what the shards split:
// --limit would cut each shard instead.
Sharding embed_sharding(const StageContext& ctx, const Stage& stage,
                        const embed::EmbedOptions& options) {
  Sharding sharding;
  sharding.base = join(shards_folder(ctx, stage.name), "data");
  sharding.run_shard = [options](int64_t index, int64_t count, const std::string& out) {
    embed::EmbedOptions o = options;
    o.first_images = o.limit;
    o.limit = 0;
    o.shard_index = index;
    o.shard_count = count;
    o.out = out;
    embed::run_embed(o);
  };
  // A shard is a run of whole batches (run_embed): a split of few batches has fewer shards.
  sharding.parts = [options](int64_t processes) {
    int64_t images = data::open_dataset(options.data)->size();
    if (options.limit > 0) images = std::min(images, options.limit);
    return std::min(processes, (images + options.batch_size - 1) / options.batch_size);
  };
  sharding.merge = [out = options.out](const std::vector<std::string>& shards) {
    embed::run_merge({shards, out});
  };
  return sharding;
}

}  // namespace

std::vector<ResolvedBackbone> pretrain_stages(StageContext& ctx) {
  const RunConfig& c = ctx.config;
  // The longest training asked of each (arch, seed, training subset): shorter entries use its
  // earlier epochs.
  using Id = std::tuple<std::string, int64_t, int64_t>;
  auto id_of = [&](const BackboneConfig& b) -> Id {
    return {b.arch, b.seed, b.train_limit >= 0 ? b.train_limit : c.pretrain.train_limit};
  };
  std::map<Id, int64_t> epochs;
  for (const auto& b : c.backbones)
    if (b.pretrain) epochs[id_of(b)] = std::max(epochs[id_of(b)], b.epochs);
  std::map<Id, std::string> folders;
  for (const auto& [id, n] : epochs) {
    const auto& [arch, seed, train_limit] = id;
    Stage s;
    s.name = "pretrain/" + arch + "_s" + std::to_string(seed) +
             (train_limit != c.pretrain.train_limit ? "_n" + std::to_string(train_limit) : "");
    s.kind = "pretrain";
    s.output_dir = join(ctx.run_dir, s.name);
    s.clean = false;  // run_pretrain resumes from its per-epoch checkpoints
    s.key = StageKey("pretrain");
    s.key.add("arch", arch)
        .add("seed", seed)
        .add("epochs", n)
        .add("data", ctx.train_key)
        .add("batch_size", c.pretrain.batch_size)
        .add("lr", c.pretrain.lr)
        .add("train_limit", train_limit)
        .add("device", c.device);
    models::PretrainOptions o;
    o.arch = arch;
    o.data = c.dataset.train;
    o.out = s.output_dir;
    o.epochs = n;
    o.seed = static_cast<uint64_t>(seed);
    o.batch_size = c.pretrain.batch_size;
    o.lr = c.pretrain.lr;
    o.train_limit = train_limit;
    o.device = c.device;
    // run_pretrain resumes a folder trained with the same options (epochs aside) and refuses
    // one trained with others; a file of those options tells the two apart.
    StageKey same("pretrain-options");
    same.add("arch", arch).add("seed", seed).add("data", ctx.train_key);
    same.add("batch_size", c.pretrain.batch_size).add("lr", c.pretrain.lr);
    same.add("train_limit", train_limit).add("device", c.device);
    const std::string options_file = join(s.output_dir, "pipeline_options.txt");
    s.run = [o, options_file, text = same.text()](bool force) mutable {
      if (fs::exists(options_file) && core::read_text(options_file) != text) force = true;
      core::write_text_atomic(options_file, text);
      o.force = force;
      models::run_pretrain(o);
    };
    run_stage(ctx, s);
    folders[id] = s.output_dir;
  }
  std::vector<ResolvedBackbone> out;
  for (const auto& b : c.backbones) {
    ResolvedBackbone r{b.name, b.spec, ""};
    if (b.pretrain)
      r.spec = "native:" + b.arch + "@" +
               join(folders[id_of(b)], "epoch_" + std::to_string(b.epochs) + ".pt");
    out.push_back(r);
  }
  return out;
}

std::string elements_stage(StageContext& ctx) {
  const RunConfig& c = ctx.config;
  const auto& l = c.concepts;
  const bool from_train = c.dataset.elements_from == "train";
  Stage s;
  s.name = "elements";
  s.kind = "elements";
  s.output_dir = join(ctx.run_dir, "elements");
  s.key = StageKey("elements");
  // The key's values keep the types and names they had, so that earlier runs resume.
  s.key.add("data", from_train ? ctx.train_key : ctx.val_key)
      .add("kind", std::string(elements::to_string(l.kind)))
      .add("images_per_class", static_cast<int64_t>(l.images_per_class))
      .add("image_select", std::string(elements::to_string(l.select)))
      .add("seed", static_cast<int64_t>(l.seed));
  if (l.kind == elements::ElementKind::Segments) {
    s.key.add("scales", std::vector<int64_t>(l.scales.begin(), l.scales.end()))
        .add("compactness", l.compactness)
        .add("sigma", l.sigma)
        .add("masks_per_scale", static_cast<int64_t>(l.masks_per_scale))
        .add("min_area", l.min_area)
        .add("jaccard", l.jaccard)
        .add("fill", static_cast<int64_t>(l.fill));
  } else {
    s.key.add("grid", static_cast<int64_t>(l.grid))
        .add("patch_size", static_cast<int64_t>(l.patch_size));
  }
  elements::ElementsOptions o = l;
  o.data = from_train ? c.dataset.train : c.dataset.val;
  o.out = s.output_dir;
  s.run = [o](bool) { elements::run_elements(o); };
  return run_stage(ctx, s, elements_sharding(ctx, s, o));
}

namespace {

// One split to embed: its data, the data's content key, and how many images.
struct Split {
  const char* name;
  std::string data, data_key;
  int64_t limit;
};

// The embed stage of `backbone` on one split, in <run>/<folder>/<split>/data.*; returns the
// stage's hash and sets `prefix`.
std::string embed_stage(StageContext& ctx, const ResolvedBackbone& backbone,
                        const std::string& folder, const Split& split, std::string& prefix) {
  const RunConfig& c = ctx.config;
  Stage s;
  s.name = folder + "/" + split.name;
  s.kind = "embed";
  s.output_dir = join(ctx.run_dir, s.name);
  s.key = StageKey("embed");
  s.key.add("backbone", backbone.spec)
      .add("backbone_files", backbone.key)
      .add("data", split.data)
      .add("data_key", split.data_key)
      .add("limit", split.limit)
      .add("device", c.device);
  embed::EmbedOptions o;
  o.backbone = backbone.spec;
  o.data = split.data;
  o.out = join(s.output_dir, "data");
  o.batch_size = c.embed_batch_size;
  o.device = c.device;
  o.limit = split.limit;
  s.run = [o](bool) { embed::run_embed(o); };
  prefix = o.out;
  return run_stage(ctx, s, embed_sharding(ctx, s, o));
}

}  // namespace

Embedded embed_stages(StageContext& ctx, const ResolvedBackbone& backbone,
                      const std::string& elements_hash) {
  const RunConfig& c = ctx.config;
  Embedded e;
  const std::string folder = "embed/" + backbone.name;
  std::string hashes;
  hashes += embed_stage(ctx, backbone, folder,
                        {"train", c.dataset.train, ctx.train_key, c.dataset.train_limit}, e.train);
  hashes += embed_stage(ctx, backbone, folder,
                        {"val", c.dataset.val, ctx.val_key, c.dataset.val_limit}, e.val);
  hashes += embed_stage(ctx, backbone, folder,
                        {"elements", join(ctx.run_dir, "elements"), elements_hash, 0}, e.elements);
  e.hash = core::fingerprint_text(hashes);
  return e;
}

ClipEmbedded clip_stages(StageContext& ctx, const ResolvedBackbone& clip) {
  const RunConfig& c = ctx.config;
  ClipEmbedded e;
  std::string hashes;
  hashes += embed_stage(ctx, clip, "text/clip",
                        {"train", c.dataset.train, ctx.train_key, c.dataset.train_limit}, e.train);
  hashes += embed_stage(ctx, clip, "text/clip",
                        {"val", c.dataset.val, ctx.val_key, c.dataset.val_limit}, e.val);
  Stage s;
  s.name = "text/concepts";
  s.kind = "embed-text";
  s.output_dir = join(ctx.run_dir, s.name);
  embed::EmbedTextOptions o;
  o.clip = clip.spec.substr(std::string("clip:").size());
  o.concepts = c.text.concepts;
  o.out = join(s.output_dir, "concepts");
  o.device = c.device;
  o.truncate = c.text.truncate;
  const std::string concepts_file = text::resolve_text_set(o.concepts, "text.concepts");
  s.key = StageKey("embed-text");
  s.key.add("clip_files", clip.key)
      .add("concepts", core::fingerprint_file(concepts_file))
      .add("truncate", static_cast<int64_t>(o.truncate))
      .add("device", c.device);
  s.run = [o](bool) { embed::run_embed_text(o); };
  hashes += run_stage(ctx, s);
  e.text = o.out;
  e.hash = core::fingerprint_text(hashes);
  return e;
}

// Text concepts read CLIP's files instead of the elements.
void use_clip_files(fit::FitOptions& o, const ClipEmbedded& clip) {
  o.concepts.clear();
  o.concept_labels.clear();
  auto& t = o.concept_options.text;
  t.clip_train_features = clip.train + ".features.npy";
  t.clip_val_features = clip.val + ".features.npy";
  t.text_features = clip.text + ".features.npy";
  t.concept_names = clip.text + ".names.txt";
}

std::string fit_stage(StageContext& ctx, const ResolvedBackbone& backbone, const std::string& type,
                      const Embedded& embedded, const ClipEmbedded& clip) {
  const RunConfig& c = ctx.config;
  Stage s;
  s.name = "fit/" + backbone.name + "/" + type;
  s.kind = "fit";
  s.output_dir = join(ctx.run_dir, s.name);
  fit::FitOptions o = c.fit;
  o.train_features = embedded.train + ".features.npy";
  o.train_labels = embedded.train + ".labels.npy";
  o.val_features = embedded.val + ".features.npy";
  o.val_labels = embedded.val + ".labels.npy";
  o.concepts = embedded.elements + ".features.npy";
  o.concept_labels = embedded.elements + ".labels.npy";
  o.out = s.output_dir;
  o.concept_type = type;
  o.device = c.device;
  const bool text = !concepts::find_concept_type(type).uses_elements();
  if (text) use_clip_files(o, clip);
  // Every setting fit's numbers depend on, as fit itself records them.
  s.key = StageKey("fit");
  if (text) s.key.add("clip", clip.hash);
  s.key.add("embedded", embedded.hash)
      .add("settings", fit::fit_settings(o).dump())
      .add("seeds", std::vector<int64_t>(o.seeds.begin(), o.seeds.end()))
      .add("device", c.device);
  s.run = [o](bool) { fit::run_fit(o); };
  return run_stage(ctx, s);
}

namespace {

// Explains the first `count` validation rows with the interpretable head of the backbone of the
// highest standard accuracy among the fits of `type`, into RUN/explanations/<backbone>_<type>/.
void explain_best_backbone(const std::string& run_dir, const std::string& type, int64_t count) {
  const report::ReportRow* best = nullptr;
  const auto rows = report::collect_results(run_dir);
  for (const auto& r : rows)
    if (r.concept_type == type && (!best || r.standard_accuracy > best->standard_accuracy))
      best = &r;
  if (best == nullptr) return;
  const fs::path fit = (fs::path(run_dir) / best->source).parent_path();
  const auto results = results::read_results((fit / "results.json").string());
  predict::ExplainOptions o;
  o.fit = fit.string();
  o.source.features = results.inputs.at("val_features").path;
  o.source.labels = results.inputs.at("val_labels").path;
  for (int64_t i = 0; i < count; ++i) o.indices.push_back(i);
  o.out = join(join(run_dir, "explanations"), best->backbone + "_" + type);
  o.title = best->backbone + " (" + type + " concepts): " + std::to_string(count) + " test images";
  core::remove_tree(o.out);
  predict::run_explain(o);
}

}  // namespace

std::string report_stage(StageContext& ctx, const std::map<std::string, std::string>& fit_hashes,
                         bool figures) {
  Stage s;
  s.name = "report";
  s.kind = "report";
  s.output_dir = ctx.run_dir;
  s.clean = false;  // it shares the run folder; its files are each replaced atomically
  s.key = StageKey("report");
  for (const auto& [name, hash] : fit_hashes) s.key.add("fit/" + name, hash);
  s.key.add("figures", static_cast<int64_t>(figures));
  s.key.add("explain", ctx.config.report_explain);
  const bool finetune = std::any_of(ctx.config.backbones.begin(), ctx.config.backbones.end(),
                                    [](const BackboneConfig& b) { return b.finetune; });
  if (finetune) s.key.add("finetune_comparison", static_cast<int64_t>(2));  // 2: on the page
  report::ReportOptions o;
  o.run_dir = ctx.run_dir;
  o.figures = figures;
  const int64_t explain = ctx.config.report_explain;
  const std::string type = ctx.config.concept_types.front();
  s.run = [o, finetune, explain, type, &config = ctx.config](bool) {
    if (explain > 0) explain_best_backbone(o.run_dir, type, explain);
    if (finetune) write_finetune_comparison(config, o.run_dir);  // the report shows it
    report::run_report(o);
  };
  return run_stage(ctx, s);
}

}  // namespace iis::pipeline::detail
