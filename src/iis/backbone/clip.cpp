// CLIP archives: loading with the device and float16 patches of CLIP's clip.load, their two
// encoders, the attributes that describe them, and the `clip:` backbone.
#include "iis/backbone/clip.hpp"

#include <torch/csrc/jit/ir/ir.h>

#include <filesystem>
#include <sstream>

#include "iis/backbone/detail/clip_backbone.hpp"
#include "iis/backbone/detail/torch_text.hpp"
#include "iis/core/error.hpp"
#include "iis/core/progress.hpp"

namespace iis::backbone {

namespace {

constexpr const char* kClipHint =
    "give one of OpenAI's CLIP archives (ViT-B-16.pt, RN50.pt, ...: what clip.load(name, "
    "jit=True) downloads), or make a small random one with scripts/make_clip_model.py";

// What patch_graph changed, for the log line.
struct Patches {
  int devices = 0;  // device constants moved from cuda to the target device
  int casts = 0;    // float16 casts turned into float32 ones
};

// One graph of the archive, patched as clip.load patches it: device constants naming a CUDA
// device name `device` instead; with `to_float`, the dtype argument (second or third input)
// of every aten::to that is the constant float16 is replaced by a float32 constant. The dtype
// constant gets a new node rather than a new value, since a constant node may feed others.
void patch_graph(torch::jit::Graph& graph, torch::Device device, bool to_float, Patches& done) {
  namespace jit = torch::jit;
  const std::string target = device.str();
  for (jit::Node* node : jit::findAllNodes(graph, jit::prim::Constant, /*recurse=*/true)) {
    if (node->output()->type()->kind() != c10::TypeKind::DeviceObjType ||
        !node->hasAttribute(jit::attr::value)) {
      continue;
    }
    const std::string name = node->s(jit::attr::value);
    if (name.rfind("cuda", 0) == 0 && name != target) {
      node->s_(jit::attr::value, target);
      ++done.devices;
    }
  }
  if (!to_float) return;
  for (jit::Node* node : jit::findAllNodes(graph, jit::aten::to, /*recurse=*/true)) {
    for (size_t i = 1; i <= 2 && i < node->inputs().size(); ++i) {
      jit::Value* value = node->input(i);
      jit::Node* constant = value->node();
      if (constant->kind() != jit::prim::Constant ||
          value->type()->kind() != c10::TypeKind::IntType ||
          !constant->hasAttribute(jit::attr::value) ||
          constant->i(jit::attr::value) != static_cast<int64_t>(at::kHalf)) {
        continue;
      }
      jit::WithInsertPoint here(node);
      node->replaceInput(i, graph.insertConstant(static_cast<int64_t>(at::kFloat)));
      ++done.casts;
    }
  }
}

// Patches every method of every module of the archive (before any runs: the interpreter
// compiles a method's graph on its first call).
Patches patch_for_device(torch::jit::Module& module, torch::Device device) {
  Patches done;
  for (const torch::jit::Module& m : module.modules()) {
    for (const torch::jit::Method& method : m.get_methods()) {
      patch_graph(*method.graph(), device, /*to_float=*/device.is_cpu(), done);
    }
  }
  return done;
}

// An integer the archive records as a one-element integer tensor (OpenAI's archives) or an int;
// 0 when `module` has no attribute `name`.
int64_t integer_attribute(const torch::jit::Module& module, const std::string& name,
                          const std::string& path) {
  if (!module.hasattr(name)) return 0;
  const c10::IValue value = module.attr(name);
  if (value.isInt()) return value.toInt();
  if (value.isTensor()) {
    const torch::Tensor t = value.toTensor();
    if (t.numel() == 1 && !t.is_floating_point() && !t.is_complex()) return t.item<int64_t>();
  }
  IIS_FAIL("the CLIP archive " << path << " records " << name << " as " << value.tagKind()
                               << ", not an integer",
           kClipHint);
}

// `visual.input_resolution` when the archive has a submodule `visual` with it, else 0.
int64_t visual_resolution(const torch::jit::Module& module, const std::string& path) {
  for (const auto& child : module.named_children()) {
    if (child.name == "visual") return integer_attribute(child.value, "input_resolution", path);
  }
  return 0;
}

}  // namespace

ClipModel::ClipModel(const std::string& path, torch::Device device, Tower tower)
    : path_(path), device_(device) {
  IIS_CHECK_HINT(std::filesystem::is_regular_file(path),
                 "CLIP archive " << path << " does not exist", kClipHint);
  try {
    module_ = torch::jit::load(path, device);
  } catch (const std::exception& e) {
    IIS_FAIL(
        "cannot load CLIP archive " << path << ": " << torch_error_text(detail::exception_text(e)),
        kClipHint);
  }
  const bool image = tower == Tower::Image;
  const char* method = image ? "encode_image" : "encode_text";
  IIS_CHECK_HINT(
      module_.find_method(method).has_value(),
      "the TorchScript " << path << " has no method " << method << ", so it is not a CLIP archive",
      kClipHint << (image ? "; a TorchScript image model whose forward gives the features is "
                            "given without clip:"
                          : ""));
  input_resolution_ = integer_attribute(module_, "input_resolution", path);
  if (input_resolution_ == 0) input_resolution_ = visual_resolution(module_, path);
  if (module_.hasattr("context_length")) {
    context_length_ = integer_attribute(module_, "context_length", path);
  }
  vocab_size_ = integer_attribute(module_, "vocab_size", path);
  IIS_CHECK_HINT(input_resolution_ >= 0 && context_length_ >= 2 && vocab_size_ >= 0,
                 "the CLIP archive " << path << " records input_resolution " << input_resolution_
                                     << ", context_length " << context_length_ << " and vocab_size "
                                     << vocab_size_,
                 kClipHint);

  const Patches done = patch_for_device(module_, device);
  if (device.is_cpu()) module_.to(torch::kFloat32);
  module_.eval();
  if (done.devices > 0 || done.casts > 0) {
    core::log_info(path + ": " + std::to_string(done.devices) + " CUDA device constants set to " +
                   device.str() + ", " + std::to_string(done.casts) +
                   " float16 casts made float32 (as CLIP's clip.load does)");
  }
}

torch::Tensor ClipModel::call(const std::string& method, const torch::Tensor& input,
                              const std::string& what) {
  c10::InferenceMode guard;
  c10::IValue out;
  try {
    out = module_.run_method(method, input.to(device_));
  } catch (const std::exception& e) {  // c10::Error, or the interpreter's own exceptions
    IIS_FAIL("CLIP archive " << path_ << ": " << method << " failed on " << what << " of shape "
                             << input.sizes() << ": "
                             << torch_error_text(detail::exception_text(e)),
             "check that the file is a CLIP archive and, for images, that the preprocessing "
             "gives its input resolution ("
                 << input_resolution_ << ")");
  }
  IIS_CHECK_HINT(out.isTensor(),
                 "CLIP archive " << path_ << ": " << method << " returned " << out.tagKind()
                                 << ", not a tensor",
                 kClipHint);
  return out.toTensor().to(torch::kFloat32);
}

torch::Tensor ClipModel::encode_image(const torch::Tensor& images) {
  IIS_CHECK(images.dim() == 4, "CLIP archive " << path_ << " expects B×3×H×W images, got "
                                               << images.dim() << " dimensions");
  return call("encode_image", images.to(torch::kFloat32), "images");
}

torch::Tensor ClipModel::encode_text(const torch::Tensor& ids) {
  IIS_CHECK(ids.dim() == 2 && ids.size(1) == context_length_,
            "CLIP archive " << path_ << " expects N×" << context_length_ << " token ids, got "
                            << ids.sizes());
  return call("encode_text", ids.to(torch::kInt64), "token ids");
}

namespace {

class ClipBackbone : public Backbone {
 public:
  ClipBackbone(std::string spec, std::string path, torch::Device device)
      : spec_(std::move(spec)),
        path_(std::move(path)),
        model_(std::make_unique<ClipModel>(path_, device, ClipModel::Tower::Image)) {
    std::ostringstream yaml;
    yaml << "preset: clip\n";
    const int64_t side = model_->input_resolution();
    if (side > 0) {
      yaml << "val_resize_size: " << side << "\nval_crop_size: " << side << "\n";
    } else {
      core::log_info(path_ +
                     " does not record its input resolution (input_resolution); "
                     "preprocessing for " +
                     std::to_string(kClipDefaultResolution) +
                     ": give --resize-size and --crop-size for another");
    }
    preprocess_ = yaml.str();
  }

  // encode_image's B×E output as it is: the text concepts compare it with encode_text's.
  torch::Tensor embed(const torch::Tensor& images) override {
    return pool_representation(model_->encode_image(images), spec_);
  }
  // The patches depend on the device: another device loads the archive again.
  void to(torch::Device device) override {
    if (device != model_->device()) {
      model_ = std::make_unique<ClipModel>(path_, device, ClipModel::Tower::Image);
    }
  }
  torch::Device device() const override { return model_->device(); }
  std::string name() const override { return spec_; }
  std::string preprocess_config() const override { return preprocess_; }

 private:
  std::string spec_, path_;
  std::unique_ptr<ClipModel> model_;
  std::string preprocess_;
};

}  // namespace

namespace detail {

std::unique_ptr<Backbone> open_clip_backbone(const std::string& spec, torch::Device device) {
  const std::string path = spec.substr(std::string("clip:").size());
  IIS_CHECK_HINT(!path.empty(), "backbone spec " << spec << " names no file",
                 "write clip:<archive.pt>, e.g. clip:ViT-B-16.pt");
  return std::make_unique<ClipBackbone>(spec, path, device);
}

}  // namespace detail

}  // namespace iis::backbone
