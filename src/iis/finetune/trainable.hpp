// A backbone whose weights `iis finetune` trains: a native model (iis/models) or a TorchScript
// module, behind one interface that keeps autograd on and saves the result in the form it was
// read in, so that `iis embed` takes it as is.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace iis::finetune {

class TrainableBackbone {
 public:
  virtual ~TrainableBackbone() = default;
  // x: B×C×H×W float32 on the backbone's device → B×D float32, pooled by rank as
  // backbone::pool_representation pools (rank 4: mean over H,W; 3: token 0; 2: as is), with
  // autograd. Train or eval mode as last set by train().
  virtual torch::Tensor features(const torch::Tensor& x) = 0;
  // The trainable tensors (requires_grad), in a fixed order (the optimiser's state follows it).
  virtual std::vector<torch::Tensor> parameters() = 0;
  // Train mode (batch norm from the batch, running statistics updated) or eval mode.
  virtual void train(bool on) = 0;
  virtual void to(torch::Device device) = 0;
  // Writes the backbone to `path` atomically in its own form: a native checkpoint, or a
  // TorchScript file with `preprocess_yaml()` beside it (path.ts → path.yaml) when there is one.
  virtual void save(const std::string& path) = 0;
  // ".pt" (native) or ".ts" (TorchScript): the extension of the files save() writes.
  virtual std::string extension() const = 0;
  // The spec open_backbone and open_trainable_backbone take for a copy saved at `path`.
  virtual std::string spec_for(const std::string& path) const = 0;
  // The preprocessing recorded with the backbone, as `iis embed` reads it ("" for none).
  virtual std::string preprocess_yaml() const = 0;
};

// Opens "native:<arch>@<checkpoint.pt>", "native:<arch>" (untrained, seed 0, 10 classes) or a
// TorchScript file (with its YAML beside it) for training on `device`. CLIP archives are
// refused. Throws iis::Error naming the spec.
std::unique_ptr<TrainableBackbone> open_trainable_backbone(const std::string& spec,
                                                           torch::Device device);

// The pooling of backbone::pool_representation without its checks and with autograd.
torch::Tensor pool_trainable(const torch::Tensor& output, const std::string& name);

}  // namespace iis::finetune
