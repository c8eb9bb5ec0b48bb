// Native and TorchScript backbones for training, and their saving in the form they came in.
#include "iis/finetune/trainable.hpp"

#include <torch/script.h>

#include <filesystem>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/models/native.hpp"

namespace fs = std::filesystem;

namespace iis::finetune {
namespace {

class NativeTrainable : public TrainableBackbone {
 public:
  explicit NativeTrainable(std::shared_ptr<models::NativeModelImpl> model)
      : model_(std::move(model)) {}
  torch::Tensor features(const torch::Tensor& x) override {
    return pool_trainable(model_->features(x), model_->arch());
  }
  std::vector<torch::Tensor> parameters() override { return model_->parameters(); }
  void train(bool on) override { model_->train(on); }
  void to(torch::Device device) override { model_->to(device); }
  void save(const std::string& path) override {
    // Checkpoints are read on the CPU; a copy keeps the training device's tensors in place.
    models::save_native_checkpoint(path, *model_);
  }
  std::string extension() const override { return ".pt"; }
  std::string spec_for(const std::string& path) const override {
    return "native:" + model_->arch() + "@" + path;
  }
  std::string preprocess_yaml() const override { return model_->preprocessing().to_yaml(); }

 private:
  std::shared_ptr<models::NativeModelImpl> model_;
};

class ScriptTrainable : public TrainableBackbone {
 public:
  ScriptTrainable(const std::string& path, torch::Device device) : path_(path) {
    IIS_CHECK_HINT(fs::is_regular_file(path), "backbone file " << path << " does not exist",
                   "give a TorchScript file (scripts/export_backbone.py) or native:<arch>@ckpt.pt");
    try {
      module_ = torch::jit::load(path, device);
    } catch (const std::exception& e) {
      const std::string what = e.what();
      IIS_FAIL(
          "cannot load TorchScript backbone " << path << ": " << what.substr(0, what.find('\n')),
          "the file must come from torch.jit.script/trace(...).save()");
    }
    for (auto p : module_.parameters()) p.requires_grad_(true);
    const fs::path yaml = fs::path(path).replace_extension(".yaml");
    if (fs::is_regular_file(yaml)) yaml_ = core::read_text(yaml.string());
  }
  torch::Tensor features(const torch::Tensor& x) override {
    torch::jit::IValue out = module_.forward({x});
    IIS_CHECK_HINT(out.isTensor(), "backbone " << path_ << " returned " << out.tagKind(),
                   "export a module whose forward returns the representation tensor");
    return pool_trainable(out.toTensor(), path_);
  }
  std::vector<torch::Tensor> parameters() override {
    std::vector<torch::Tensor> params;
    for (const auto& p : module_.parameters()) params.push_back(p);
    return params;
  }
  void train(bool on) override { module_.train(on); }
  void to(torch::Device device) override { module_.to(device); }
  void save(const std::string& path) override {
    with_context("saving TorchScript backbone " + path, [&] {
      core::write_atomic(path, [&](const std::string& tmp) { module_.save(tmp); });
      if (!yaml_.empty()) {
        core::write_text_atomic(fs::path(path).replace_extension(".yaml").string(), yaml_);
      }
    });
  }
  std::string extension() const override { return ".ts"; }
  std::string spec_for(const std::string& path) const override { return path; }
  std::string preprocess_yaml() const override { return yaml_; }

 private:
  std::string path_, yaml_;
  torch::jit::Module module_;
};

std::shared_ptr<models::NativeModelImpl> load_native(const std::string& spec) {
  const std::string rest = spec.substr(std::string("native:").size());
  const size_t at = rest.find('@');
  const std::string arch = rest.substr(0, at);
  if (at == std::string::npos) return models::make_native_model(arch, 10, /*seed=*/0);
  const std::string checkpoint = rest.substr(at + 1);
  IIS_CHECK_HINT(fs::is_regular_file(checkpoint),
                 "checkpoint " << checkpoint << " of backbone " << spec << " does not exist",
                 "train one with `iis pretrain`, or check the path");
  auto model = models::load_native_checkpoint(checkpoint);
  IIS_CHECK_HINT(model->arch() == arch,
                 "checkpoint " << checkpoint << " holds a " << model->arch() << ", not a " << arch,
                 "write native:" << model->arch() << "@" << checkpoint);
  return model;
}

}  // namespace

torch::Tensor pool_trainable(const torch::Tensor& output, const std::string& name) {
  switch (output.dim()) {
    case 4:
      return output.to(torch::kFloat32).mean({2, 3});
    case 3:
      return output.select(1, 0).to(torch::kFloat32);
    case 2:
      return output.to(torch::kFloat32);
    default:
      IIS_FAIL("backbone " << name << " returned a tensor of shape " << output.sizes()
                           << "; expected B×C×H×W, B×T×C or B×D",
               "export the layer whose output is the representation");
  }
}

std::unique_ptr<TrainableBackbone> open_trainable_backbone(const std::string& spec,
                                                           torch::Device device) {
  IIS_CHECK_HINT(!spec.empty(), "--backbone is required",
                 "give native:<arch>@ckpt.pt or a TorchScript file");
  IIS_CHECK_HINT(spec.rfind("clip:", 0) != 0,
                 "--backbone " << spec << ": fine-tuning CLIP archives is not supported",
                 "export the image encoder as a TorchScript file and give that");
  std::unique_ptr<TrainableBackbone> backbone;
  if (spec.rfind("native:", 0) == 0) {
    std::shared_ptr<models::NativeModelImpl> model;
    with_context("loading native backbone " + spec, [&] { model = load_native(spec); });
    backbone = std::make_unique<NativeTrainable>(std::move(model));
  } else {
    backbone = std::make_unique<ScriptTrainable>(spec, device);
  }
  backbone->to(device);
  return backbone;
}

}  // namespace iis::finetune
