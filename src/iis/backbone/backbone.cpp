// TorchScript backbones, the spec-string factory and the pooling of representations.
#include "iis/backbone/backbone.hpp"

#include <torch/script.h>

#include <filesystem>
#include <sstream>

#include "iis/backbone/detail/clip_backbone.hpp"
#include "iis/backbone/detail/native_backbone.hpp"
#include "iis/backbone/detail/torch_text.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"

namespace fs = std::filesystem;

namespace iis::backbone {

namespace {

// LibTorch's messages carry a C++ backtrace; users need the first line.
std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? text : line;
}

std::string torch_message(const c10::Error& e) {
  return torch_error_text(e.what_without_backtrace());
}

class TorchScriptBackbone : public Backbone {
 public:
  TorchScriptBackbone(const std::string& path, torch::Device device)
      : path_(path), device_(device) {
    IIS_CHECK_HINT(fs::is_regular_file(path), "backbone file " << path << " does not exist",
                   "export one with scripts/export_backbone.py MODEL --out " << path);
    try {
      module_ = torch::jit::load(path, device);
    } catch (const c10::Error& e) {
      IIS_FAIL("cannot load TorchScript backbone " << path << ": " << torch_message(e),
               "the file must come from torch.jit.script/trace(...).save(); re-export it with "
               "scripts/export_backbone.py");
    } catch (const std::exception& e) {
      IIS_FAIL("cannot load TorchScript backbone " << path << ": " << first_line(e.what()),
               "re-export it with scripts/export_backbone.py");
    }
    module_.eval();
    const fs::path yaml = fs::path(path).replace_extension(".yaml");
    if (fs::is_regular_file(yaml)) preprocess_ = core::read_text(yaml.string());
  }

  torch::Tensor embed(const torch::Tensor& images) override {
    IIS_CHECK(images.dim() == 4, "backbone " << path_ << " expects B×C×H×W images, got "
                                             << images.dim() << " dimensions");
    c10::InferenceMode guard;
    torch::jit::IValue out;
    try {
      out = module_.forward({images.to(device_)});
    } catch (const std::exception& e) {  // c10::Error, or the interpreter's own exceptions
      IIS_FAIL("backbone " << path_ << " failed on a batch of shape " << images.sizes() << ": "
                           << torch_error_text(detail::exception_text(e)),
               "check that the preprocessing (--preset, --crop-size, --channels) gives the input "
               "the model expects; run the model in Python on one image to see its own error");
    }
    IIS_CHECK_HINT(out.isTensor(),
                   "backbone " << path_ << " returned " << out.tagKind() << ", not a tensor",
                   "export a module whose forward returns the representation tensor");
    return pool_representation(out.toTensor(), path_);
  }

  void to(torch::Device device) override {
    module_.to(device);
    device_ = device;
  }
  torch::Device device() const override { return device_; }
  std::string name() const override { return path_; }
  std::string preprocess_config() const override { return preprocess_; }

 private:
  std::string path_;
  torch::Device device_;
  torch::jit::Module module_;
  std::string preprocess_;
};

}  // namespace

torch::Tensor pool_representation(const torch::Tensor& output, const std::string& model) {
  torch::Tensor pooled;
  switch (output.dim()) {
    case 4:
      pooled = output.to(torch::kFloat32).mean({2, 3});
      break;
    case 3:
      pooled = output.select(1, 0).to(torch::kFloat32);
      break;
    case 2:
      pooled = output.to(torch::kFloat32);
      break;
    default:
      IIS_FAIL("backbone " << model << " returned a tensor of shape " << output.sizes() << " (rank "
                           << output.dim()
                           << "); expected B×C×H×W (mean-pooled), B×T×C (token 0) or B×D",
               "export the layer whose output is the representation");
  }
  pooled = pooled.contiguous();
  const torch::Tensor bad = ~torch::isfinite(pooled);
  if (bad.any().item<bool>()) {
    const int64_t row = bad.any(1).nonzero()[0][0].item<int64_t>();
    IIS_FAIL("backbone " << model << " produced NaN or infinite features (row " << row
                         << " of a batch of " << pooled.size(0) << ")",
             "check the model and its preprocessing; with --half, try without it or --bf16");
  }
  return pooled;
}

std::unique_ptr<Backbone> open_backbone(const std::string& spec, torch::Device device) {
  IIS_CHECK_HINT(!spec.empty(), "no backbone given",
                 "pass --backbone model.ts (a TorchScript file), clip:<ViT-B-16.pt> or "
                 "native:<arch>[@ckpt.pt]");
  if (spec.rfind("native:", 0) == 0) return detail::open_native_backbone(spec, device);
  if (spec.rfind("clip:", 0) == 0) return detail::open_clip_backbone(spec, device);
  return std::make_unique<TorchScriptBackbone>(spec, device);
}

}  // namespace iis::backbone
