// Native C++ backbones (LibTorch modules) of the project, e.g. for the embedded
// Fashion-MNIST default: their interface and a factory by architecture name.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace iis::models {

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
};

// Builds an untrained model of architecture `arch` (see native_architectures()) for
// `num_classes` classes, its weights drawn from `seed`. Throws iis::Error naming the valid
// architectures for an unknown name.
std::shared_ptr<NativeModelImpl> make_native_model(const std::string& arch, int64_t num_classes,
                                                   uint64_t seed);

// The architecture names make_native_model accepts.
std::vector<std::string> native_architectures();

// Saves / loads a model's parameters and buffers together with its architecture name and
// class count (a TorchScript-free archive readable by torch::load).
void save_native_checkpoint(const std::string& path, NativeModelImpl& model);
std::shared_ptr<NativeModelImpl> load_native_checkpoint(const std::string& path);

}  // namespace iis::models
