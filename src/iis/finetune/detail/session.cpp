// The state of a fine-tuning run: its optimisers, the heads it starts from, its evaluation and
// what it writes to resume.
#include "iis/finetune/detail/session.hpp"

#include <filesystem>

#include "iis/core/adam.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/heads/threshold.hpp"
#include "iis/heads/train.hpp"
#include "iis/io/npy.hpp"

namespace fs = std::filesystem;

namespace iis::finetune::detail {
namespace {

constexpr int64_t kEvalBatch = 1024;
const char* const kHeadNames[] = {"standard_weight", "standard_bias", "gamma", "beta",
                                  "weight",          "bias"};

std::unique_ptr<torch::optim::Adam> make_adam(const std::vector<torch::Tensor>& params, double lr) {
  return std::make_unique<torch::optim::Adam>(params,
                                              torch::optim::AdamOptions(lr)
                                                  .betas({core::kAdamBeta1, core::kAdamBeta2})
                                                  .eps(core::kAdamEps));
}

std::vector<torch::Tensor> all_heads(const FinetuneHeads& h) {
  return {h.standard_weight, h.standard_bias, h.gamma, h.beta, h.weight, h.bias};
}

// B×D representations of every row of `split` (eval mode, no gradient), on `device`.
torch::Tensor frozen_features(TrainableBackbone& backbone, const ImageSplit& split,
                              torch::Device device) {
  torch::NoGradGuard no_grad;
  backbone.train(false);
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < split.size(); begin += kEvalBatch) {
    const auto index = torch::arange(begin, std::min(split.size(), begin + kEvalBatch));
    parts.push_back(backbone.features(model_input(split, index, device)));
  }
  return torch::cat(parts);
}

// Both heads fitted on the frozen backbone's features by `iis fit`'s training (one ratio, lr
// 0.01, batch 1024, the picked epoch on the validation split, as `iis fit` reports).
FinetuneHeads fitted_heads(const FinetuneOptions& o, Session& s, const Inputs& in,
                           torch::Device device) {
  heads::TrainSplits splits;
  splits.train_features = frozen_features(*s.backbone, in.train, device);
  splits.val_features = frozen_features(*s.backbone, in.val, device);
  splits.train_labels = in.train.labels.to(device);
  splits.val_labels = in.val.labels.to(device);
  splits.num_classes = in.num_classes;
  heads::PrecomputedScores scores(
      heads::normalized_concept_scores(splits.train_features, s.concepts),
      heads::normalized_concept_scores(splits.val_features, s.concepts));
  heads::TrainOptions t;
  t.ratios = {o.ratio};
  t.epochs = o.head_epochs;
  t.seed = o.seed;
  t.progress_stage = "fitting the heads on the frozen backbone";
  const heads::TrainOutcome fit = heads::train_heads(splits, scores, t);
  const heads::HeadParams& st = fit.standard.at(0).params;
  const heads::HeadParams& in_head = fit.interpretable.at(0).params;
  return trainable_copy(
      {st.weight, st.bias, in_head.gamma, in_head.beta, in_head.weight, in_head.bias}, device);
}

torch::Tensor load_head_file(const std::string& dir, const std::string& name,
                             std::vector<int64_t> shape) {
  const std::string path = (fs::path(dir) / (name + ".npy")).string();
  IIS_CHECK_HINT(fs::is_regular_file(path), "--heads " << dir << " has no " << name << ".npy",
                 "give the heads/ folder of an `iis finetune` run");
  torch::Tensor t = io::load_npy(path).to(torch::kFloat32);
  if (t.dim() == static_cast<int64_t>(shape.size()) + 1 && t.size(0) == 1) t = t[0];
  IIS_CHECK_HINT(t.sizes() == torch::IntArrayRef(shape),
                 "--heads " << path << " has shape " << t.sizes() << ", this run needs "
                            << torch::IntArrayRef(shape),
                 "the heads must come from a backbone of the same representation width, the "
                 "same K (--num-concepts) and classes, and one ratio");
  return t;
}

}  // namespace

void make_optimizers(Session& s, const FinetuneOptions& o) {
  s.backbone_adam = make_adam(s.backbone->parameters(), o.lr);
  s.heads_adam = make_adam(all_heads(s.heads), o.head_lr);
}

FinetuneHeads load_heads(const std::string& dir, int64_t width, int64_t k, int64_t c) {
  const std::string sw = (fs::path(dir) / "standard_weight.npy").string();
  if (fs::is_regular_file(sw)) {
    const auto header = io::read_npy_header(sw);
    IIS_CHECK_HINT(header.shape.size() != 2 || header.shape[1] == width,
                   "--heads " << dir << " is a head for representations of width "
                              << header.shape[1] << "; the backbone's are " << width << " wide",
                   "give heads fitted on this backbone (or one of its width), or drop --heads");
  }
  return {load_head_file(dir, "standard_weight", {c, width}),
          load_head_file(dir, "standard_bias", {c}),
          load_head_file(dir, "gamma", {k}),
          load_head_file(dir, "beta", {k}),
          load_head_file(dir, "weight", {c, k}),
          load_head_file(dir, "bias", {c})};
}

void save_heads(const std::string& dir, const FinetuneHeads& h) {
  core::make_dirs(dir);
  const auto tensors = all_heads(h);
  for (size_t i = 0; i < tensors.size(); ++i) {
    torch::Tensor t = tensors[i].detach().cpu();
    if (i >= 2) t = t.unsqueeze(0);  // one ratio, in `iis fit`'s R×… layout
    io::save_npy((fs::path(dir) / (std::string(kHeadNames[i]) + ".npy")).string(), t);
  }
}

FinetuneHeads initial_heads(const FinetuneOptions& o, Session& s, const Inputs& in,
                            torch::Device device) {
  const int64_t width = s.concepts.size(1);
  if (!o.heads.empty()) {
    return trainable_copy(load_heads(o.heads, width, o.num_concepts, in.num_classes), device);
  }
  if (o.head_init == "fresh")
    return fresh_heads(in.num_classes, width, o.num_concepts, o.seed, device);
  return fitted_heads(o, s, in, device);
}

std::pair<double, double> val_accuracy(Session& s, Inputs& in, int64_t position,
                                       torch::Device device) {
  const torch::Tensor concepts = in.concepts->compute(*s.backbone, device, /*with_grad=*/false);
  const torch::Tensor z = frozen_features(*s.backbone, in.val, device);
  torch::NoGradGuard no_grad;
  const auto labels = in.val.labels.to(device);
  const auto standard = standard_logits(z, s.heads).argmax(1).eq(labels).sum();
  const auto sparse =
      interpretable_logits(z, concepts, s.heads, position).argmax(1).eq(labels).sum();
  const double n = static_cast<double>(in.val.size());
  return {standard.item<double>() / n, sparse.item<double>() / n};
}

void save_state(const std::string& path, Session& s, const ConceptMaker& maker) {
  torch::serialize::OutputArchive archive;
  archive.write("epoch", c10::IValue(s.epoch));
  archive.write("step", c10::IValue(s.step));
  const auto tensors = all_heads(s.heads);
  for (size_t i = 0; i < tensors.size(); ++i) archive.write(kHeadNames[i], tensors[i].detach());
  archive.write("concepts", s.concepts.detach());
  if (maker.prototype_index().defined()) archive.write("prototype_index", maker.prototype_index());
  torch::serialize::OutputArchive backbone_adam, heads_adam;
  s.backbone_adam->save(backbone_adam);
  s.heads_adam->save(heads_adam);
  archive.write("backbone_adam", backbone_adam);
  archive.write("heads_adam", heads_adam);
  core::write_atomic(path, [&](const std::string& tmp) { archive.save_to(tmp); });
}

int64_t state_epoch(const std::string& path) {
  return with_context_value("reading " + path, [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(path, torch::kCPU);
    c10::IValue epoch;
    archive.read("epoch", epoch);
    return epoch.toInt();
  });
}

void load_state(const std::string& path, Session& s, ConceptMaker& maker, const FinetuneOptions& o,
                torch::Device device) {
  with_context("resuming from " + path, [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(path, device);
    c10::IValue epoch, step;
    archive.read("epoch", epoch);
    archive.read("step", step);
    s.epoch = epoch.toInt();
    s.step = step.toInt();
    std::vector<torch::Tensor> t(6);
    for (size_t i = 0; i < t.size(); ++i) archive.read(kHeadNames[i], t[i]);
    s.heads = trainable_copy({t[0], t[1], t[2], t[3], t[4], t[5]}, device);
    archive.read("concepts", s.concepts);
    torch::Tensor index;
    if (archive.try_read("prototype_index", index)) maker.set_prototype_index(index.cpu());
    make_optimizers(s, o);
    torch::serialize::InputArchive backbone_adam, heads_adam;
    archive.read("backbone_adam", backbone_adam);
    archive.read("heads_adam", heads_adam);
    s.backbone_adam->load(backbone_adam);
    s.heads_adam->load(heads_adam);
  });
}

}  // namespace iis::finetune::detail
