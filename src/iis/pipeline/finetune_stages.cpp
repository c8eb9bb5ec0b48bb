// The finetune stages of `iis run`: a backbone entry fine-tuned from another entry.
#include <algorithm>
#include <filesystem>

#include "iis/core/files.hpp"
#include "iis/finetune/finetune.hpp"
#include "iis/pipeline/detail/stages.hpp"

namespace fs = std::filesystem;

namespace iis::pipeline::detail {
namespace {

std::string folder_join(const std::string& a, const std::string& b) {
  return (fs::path(a) / b).string();
}

// The spec of the backbone `iis finetune` writes into `dir` from a backbone of spec `from`.
std::string finetuned_spec(const std::string& from, const std::string& dir) {
  if (from.rfind("native:", 0) != 0) return folder_join(dir, "backbone.ts");
  const std::string arch =
      from.substr(7, from.find('@') == std::string::npos ? std::string::npos : from.find('@') - 7);
  return "native:" + arch + "@" + folder_join(dir, "backbone.pt");
}

// Every setting of the entry, as text (its epochs aside: a longer run resumes a shorter one).
StageKey settings_key(const finetune::FinetuneOptions& o) {
  StageKey key("finetune-options");
  key.add("lambda", o.lambda).add("ratio", o.ratio).add("seed", static_cast<int64_t>(o.seed));
  key.add("lr", o.lr).add("head_lr", o.head_lr).add("batch_size", o.batch_size);
  key.add("concept_type", o.concept_type).add("num_concepts", o.num_concepts);
  key.add("concept_refresh", o.concept_refresh)
      .add("concept_grad", static_cast<int64_t>(o.concept_grad));
  key.add("head_init", o.head_init).add("head_epochs", o.head_epochs);
  key.add("train_limit", o.train_limit).add("val_limit", o.val_limit);
  return key;
}

}  // namespace

void finetune_stages(StageContext& ctx, std::vector<ResolvedBackbone>& backbones) {
  const RunConfig& c = ctx.config;
  for (size_t i = 0; i < c.backbones.size(); ++i) {
    const BackboneConfig& b = c.backbones[i];
    if (!b.finetune) continue;
    const auto& from = *std::find_if(backbones.begin(), backbones.end(),
                                     [&](const ResolvedBackbone& r) { return r.name == b.from; });
    Stage s;
    s.name = "finetune/" + b.name;
    s.kind = "finetune";
    s.output_dir = folder_join(ctx.run_dir, s.name);
    s.clean = false;  // run_finetune resumes after its last finished epoch
    const StageKey same = settings_key(b.finetune_options);
    s.key = StageKey("finetune");
    s.key.add("from", from.spec).add("from_files", from.key).add("settings", same.hash());
    s.key.add("epochs", b.finetune_options.epochs).add("data", ctx.train_key);
    s.key.add("val", ctx.val_key).add("elements", ctx.elements_hash).add("device", c.device);
    finetune::FinetuneOptions o = b.finetune_options;
    o.backbone = from.spec;
    o.data = c.dataset.train;
    o.val_data = c.dataset.val;
    o.elements = folder_join(ctx.run_dir, "elements");
    o.out = s.output_dir;
    o.device = c.device;
    const std::string options_file = folder_join(s.output_dir, "pipeline_options.txt");
    const std::string text = same.text() + "from=" + from.key + "\n";
    s.run = [o, options_file, text](bool force) mutable {
      // A folder fine-tuned with other settings starts afresh; the same ones resume.
      if (fs::exists(options_file) && core::read_text(options_file) != text) force = true;
      core::make_dirs(o.out);
      core::write_text_atomic(options_file, text);
      o.force = force;
      finetune::run_finetune(o);
    };
    run_stage(ctx, s);
    backbones[i].spec = finetuned_spec(from.spec, s.output_dir);
  }
}

}  // namespace iis::pipeline::detail
