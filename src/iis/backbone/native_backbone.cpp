// Native C++ models of the project used as backbones: their features() is the representation.
#include "iis/backbone/detail/native_backbone.hpp"

#include <filesystem>

#include "iis/core/error.hpp"
#include "iis/models/native.hpp"

namespace iis::backbone::detail {

namespace {

class NativeBackbone : public Backbone {
 public:
  NativeBackbone(std::string spec, std::shared_ptr<models::NativeModelImpl> model,
                 torch::Device device)
      : spec_(std::move(spec)), model_(std::move(model)), device_(device) {
    model_->eval();
    model_->to(device_);
  }

  torch::Tensor embed(const torch::Tensor& images) override {
    IIS_CHECK(images.dim() == 4 && images.size(1) == model_->in_channels(),
              "backbone " << spec_ << " expects B×" << model_->in_channels()
                          << "×H×W images, got shape " << images.sizes());
    c10::InferenceMode guard;
    return pool_representation(model_->features(images.to(device_)), spec_);
  }
  void to(torch::Device device) override {
    model_->to(device);
    device_ = device;
  }
  torch::Device device() const override { return device_; }
  std::string name() const override { return spec_; }
  // What the model was trained on (grey, 28×28, Fashion-MNIST mean/std), as YAML.
  std::string preprocess_config() const override { return model_->preprocessing().to_yaml(); }

 private:
  std::string spec_;
  std::shared_ptr<models::NativeModelImpl> model_;
  torch::Device device_;
};

}  // namespace

std::unique_ptr<Backbone> open_native_backbone(const std::string& spec, torch::Device device) {
  const std::string rest = spec.substr(std::string("native:").size());
  const size_t at = rest.find('@');
  const std::string arch = rest.substr(0, at);
  IIS_CHECK_HINT(!arch.empty(), "backbone spec " << spec << " names no architecture",
                 "write native:<arch> or native:<arch>@<checkpoint.pt>");
  std::shared_ptr<models::NativeModelImpl> model;
  if (at == std::string::npos) {
    model = models::make_native_model(arch, /*num_classes=*/10, /*seed=*/0);
  } else {
    const std::string checkpoint = rest.substr(at + 1);
    IIS_CHECK_HINT(std::filesystem::is_regular_file(checkpoint),
                   "checkpoint " << checkpoint << " of backbone " << spec << " does not exist",
                   "train one with `iis pretrain`, or check the path");
    with_context("loading native backbone " + spec,
                 [&] { model = models::load_native_checkpoint(checkpoint); });
    IIS_CHECK_HINT(
        model->arch() == arch,
        "checkpoint " << checkpoint << " holds a " << model->arch() << ", not a " << arch,
        "write native:" << model->arch() << "@" << checkpoint);
  }
  return std::make_unique<NativeBackbone>(spec, std::move(model), device);
}

}  // namespace iis::backbone::detail
