// Native C++ backbones (LibTorch modules) of the project, e.g. for the embedded
// Fashion-MNIST default: their interface and a factory by architecture name.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace iis::models {

// The input a native model expects, for `iis pretrain` and for `iis embed`'s native backbones:
// grey images (ITU-R 601 luma, as PIL's convert("L")), size×size, scaled to [0,1], then
// (x - mean) / std with the Fashion-MNIST training-set statistics.
struct NativePreprocessing {
  int64_t channels = 1;  // grey
  int64_t size = 28;     // square side in pixels
  double mean = 0.2860;  // of the Fashion-MNIST training pixels in [0,1]
  double std = 0.3530;

  // One image as the model sees it before scaling: H×W CV_8UC3 RGB or CV_8UC1 grey → size×size
  // CV_8UC1 (a copy). Other sizes: the shorter side is resized to `size` (area interpolation
  // when shrinking), then centre-cropped, as torchvision's Resize + CenterCrop.
  cv::Mat fit_image(const cv::Mat& image) const;
  // B×1×size×size uint8 (any device) → B×1×size×size float32 on the same device, normalised.
  torch::Tensor normalize(const torch::Tensor& images) const;
  // The same as YAML in the keys of iis/image/preprocess.hpp (preset: none, val_resize_size,
  // val_crop_size, interpolation, mean, std, channels): what Backbone::preprocess_config()
  // of a native backbone returns, so `iis embed` feeds the model what it was trained on.
  std::string to_yaml() const;
};

// A classifier whose penultimate layer is the representation.
class NativeModelImpl : public torch::nn::Module {
 public:
  // x: B×C×H×W float32 (preprocessed) → B×D float32, the representation.
  virtual torch::Tensor features(const torch::Tensor& x) = 0;
  // x → B×num_classes logits (features followed by the linear classifier).
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  virtual int64_t feature_dim() const = 0;
  virtual int64_t in_channels() const = 0;  // 1 for Fashion-MNIST models
  virtual int64_t input_size() const = 0;   // H = W expected, e.g. 28
  virtual std::string arch() const = 0;     // the name make_native_model accepts
  virtual int64_t num_classes() const = 0;
  // How inputs must be prepared (the same for every architecture of the project).
  virtual NativePreprocessing preprocessing() const { return {}; }
};

// Builds an untrained model of architecture `arch` (see native_architectures()) for
// `num_classes` classes, its weights drawn from `seed`. Throws iis::Error naming the valid
// architectures for an unknown name.
std::shared_ptr<NativeModelImpl> make_native_model(const std::string& arch, int64_t num_classes,
                                                   uint64_t seed);

// The architecture names make_native_model accepts.
std::vector<std::string> native_architectures();

// Saves / loads a model's parameters and buffers together with its architecture name and
// class count (a TorchScript-free archive readable by torch::load). Saving is atomic. Loading
// returns the model on the CPU in eval() mode; throws iis::Error naming the file if it is not
// such a checkpoint.
void save_native_checkpoint(const std::string& path, NativeModelImpl& model);
std::shared_ptr<NativeModelImpl> load_native_checkpoint(const std::string& path);

// The same, to and from an archive that may hold more entries (`iis pretrain` adds the epoch
// and optimizer state to it).
void write_native_model(torch::serialize::OutputArchive& archive, NativeModelImpl& model);
std::shared_ptr<NativeModelImpl> read_native_model(torch::serialize::InputArchive& archive);

}  // namespace iis::models
