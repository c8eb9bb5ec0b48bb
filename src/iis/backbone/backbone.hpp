// A backbone as iis uses it: preprocessed images in, one representation vector per image out.
// TorchScript files, CLIP archives (clip.hpp) and native models (iis/models/native.hpp) behind
// one interface.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

namespace iis::backbone {

// Turns B×C×H×W float32 image batches into B×D float32 representations. forward() output
// of rank 4 is mean-pooled over H,W, rank 3 takes token 0, rank 2 is used as is; any other
// rank is an iis::Error.
class Backbone {
 public:
  virtual ~Backbone() = default;
  // images: B×C×H×W float32 on device(). Runs in inference mode. Returns B×D float32.
  virtual torch::Tensor embed(const torch::Tensor& images) = 0;
  virtual void to(torch::Device device) = 0;
  virtual torch::Device device() const = 0;
  // The spec it was opened from, e.g. "resnet18.ts", "clip:RN50.pt" or "native:cnn2@ckpt.pt".
  virtual std::string name() const = 0;
  // The preprocessing recorded with the model: a YAML file beside a TorchScript file
  // (model.ts → model.yaml), the `clip` preset at a CLIP archive's input resolution, or the
  // native model's own; empty if none.
  virtual std::string preprocess_config() const = 0;
};

// Opens a backbone from a spec string:
//   "model.ts" / "model.pt"            a TorchScript file whose forward returns the representation
//   "native:<arch>@<checkpoint.pt>"    a native model trained by `iis pretrain`
//   "native:<arch>"                    an untrained native model (seed 0), a control
//   "clip:<ViT-B-16.pt>"               a CLIP archive (clip.hpp): encode_image's output, and
//                                      CLIP's preprocessing at the archive's input resolution
// Throws iis::Error naming the file and LibTorch's message when loading fails.
std::unique_ptr<Backbone> open_backbone(const std::string& spec, torch::Device device);

// The pooling every backbone applies to its raw output: B×C×H×W → mean over H,W; B×T×C →
// token 0; B×D as is; returned as contiguous float32 B×D on the output's device. Throws
// iis::Error naming `model` for any other rank or when a value is NaN or infinite.
torch::Tensor pool_representation(const torch::Tensor& output, const std::string& model);

}  // namespace iis::backbone
