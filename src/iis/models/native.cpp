// The native architectures (an MLP, a two-layer CNN, small ResNets), their factory, their
// input preprocessing and their checkpoints.
#include "iis/models/native.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/random.hpp"

namespace iis::models {

namespace {

constexpr int64_t kInputSize = 28;
constexpr int64_t kCheckpointFormat = 1;

// Checks that x is B×1×28×28 float; every architecture calls it before its first layer.
void check_input(const torch::Tensor& x, const std::string& arch) {
  IIS_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == kInputSize && x.size(3) == kInputSize &&
                x.is_floating_point(),
            arch << ": expected a B×1×" << kInputSize << "×" << kInputSize
                 << " float batch, got shape " << x.sizes() << " of " << x.dtype());
}

// Common bookkeeping of the project's models; subclasses build layers and define features().
class NativeBase : public NativeModelImpl {
 public:
  NativeBase(std::string arch, int64_t num_classes, int64_t feature_dim)
      : arch_(std::move(arch)), num_classes_(num_classes), feature_dim_(feature_dim) {
    classifier_ = register_module("classifier", torch::nn::Linear(feature_dim, num_classes));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return classifier_(features(x)); }
  int64_t feature_dim() const override { return feature_dim_; }
  int64_t in_channels() const override { return 1; }
  int64_t input_size() const override { return kInputSize; }
  std::string arch() const override { return arch_; }
  int64_t num_classes() const override { return num_classes_; }

 private:
  std::string arch_;
  int64_t num_classes_, feature_dim_;
  torch::nn::Linear classifier_{nullptr};
};

// mlp: 784 → 128 → 64 (representation, after ReLU) → classes.
class MlpImpl : public NativeBase {
 public:
  explicit MlpImpl(int64_t num_classes) : NativeBase("mlp", num_classes, /*feature_dim=*/64) {
    fc1_ = register_module("fc1", torch::nn::Linear(kInputSize * kInputSize, 128));
    fc2_ = register_module("fc2", torch::nn::Linear(128, 64));
  }
  torch::Tensor features(const torch::Tensor& x) override {
    check_input(x, arch());
    auto h = torch::relu(fc1_(x.flatten(1)));
    return torch::relu(fc2_(h));
  }

 private:
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};

// cnn2: conv3×3(16) → ReLU → max-pool 2 → conv3×3(32) → ReLU → max-pool 2 → fc 128
// (representation, after ReLU) → classes.
class Cnn2Impl : public NativeBase {
 public:
  explicit Cnn2Impl(int64_t num_classes) : NativeBase("cnn2", num_classes, /*feature_dim=*/128) {
    conv1_ = register_module(
        "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, /*kernel_size=*/3).padding(1)));
    conv2_ = register_module(
        "conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, /*kernel_size=*/3).padding(1)));
    fc_ = register_module("fc", torch::nn::Linear(32 * 7 * 7, 128));
  }
  torch::Tensor features(const torch::Tensor& x) override {
    check_input(x, arch());
    auto h = torch::max_pool2d(torch::relu(conv1_(x)), /*kernel_size=*/2);  // 16×14×14
    h = torch::max_pool2d(torch::relu(conv2_(h)), /*kernel_size=*/2);       // 32×7×7
    return torch::relu(fc_(h.flatten(1)));
  }

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, /*kernel_size=*/3).stride(stride).padding(1).bias(false));
}

// The basic residual block of ResNet: two 3×3 convolutions with batch norm, and a 1×1
// projection on the shortcut when the shape changes.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
    conv1_ = register_module("conv1", conv3x3(in, out, stride));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(out));
    conv2_ = register_module("conv2", conv3x3(out, out, /*stride=*/1));
    bn2_ = register_module("bn2", torch::nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      shortcut_conv_ = register_module(
          "shortcut_conv",
          torch::nn::Conv2d(
              torch::nn::Conv2dOptions(in, out, /*kernel_size=*/1).stride(stride).bias(false)));
      shortcut_bn_ = register_module("shortcut_bn", torch::nn::BatchNorm2d(out));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = torch::relu(bn1_(conv1_(x)));
    h = bn2_(conv2_(h));
    auto shortcut = shortcut_conv_ ? shortcut_bn_(shortcut_conv_(x)) : x;
    return torch::relu(h + shortcut);
  }

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, shortcut_conv_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, shortcut_bn_{nullptr};
};
TORCH_MODULE(BasicBlock);

// resnet8-w<W>: conv3×3 stride 2 (W) + BN + ReLU (28×28 → 14×14), then three basic blocks of
// widths W (14×14), 2W (7×7) and 4W (4×4), global average pooling → 4W-dimensional
// representation → classes. 8 weighted layers: the stem, 2 per block, the classifier. The
// strided stem makes an epoch about 3× cheaper on a CPU than a stem at full resolution.
class ResNet8Impl : public NativeBase {
 public:
  ResNet8Impl(const std::string& arch, int64_t width, int64_t num_classes)
      : NativeBase(arch, num_classes, /*feature_dim=*/4 * width) {
    stem_conv_ = register_module("stem_conv", conv3x3(1, width, /*stride=*/2));
    stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(width));
    block1_ = register_module("block1", BasicBlock(width, width, /*stride=*/1));
    block2_ = register_module("block2", BasicBlock(width, 2 * width, /*stride=*/2));
    block3_ = register_module("block3", BasicBlock(2 * width, 4 * width, /*stride=*/2));
    // He initialisation of the convolutions (fan-out, as torchvision's ResNets).
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* conv = module->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(conv->weight, /*a=*/0, torch::kFanOut, torch::kReLU);
      }
    }
  }
  torch::Tensor features(const torch::Tensor& x) override {
    check_input(x, arch());
    auto h = torch::relu(stem_bn_(stem_conv_(x)));
    h = block3_(block2_(block1_(h)));
    return h.mean({2, 3});
  }

 private:
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  BasicBlock block1_{nullptr}, block2_{nullptr}, block3_{nullptr};
};

using Factory = std::function<std::shared_ptr<NativeModelImpl>(int64_t num_classes)>;

// Architecture names in the order users see them (small to large).
const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> entries = [] {
    std::vector<std::pair<std::string, Factory>> e;
    e.emplace_back("mlp", [](int64_t c) { return std::make_shared<MlpImpl>(c); });
    e.emplace_back("cnn2", [](int64_t c) { return std::make_shared<Cnn2Impl>(c); });
    for (int64_t width : {8, 16, 32}) {
      std::string name = "resnet8-w" + std::to_string(width);
      e.emplace_back(
          name, [name, width](int64_t c) { return std::make_shared<ResNet8Impl>(name, width, c); });
    }
    return e;
  }();
  return entries;
}

std::string joined_architectures() {
  std::string out;
  for (const auto& name : native_architectures()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

cv::Mat NativePreprocessing::fit_image(const cv::Mat& image) const {
  IIS_CHECK(
      !image.empty() && image.depth() == CV_8U && (image.channels() == 1 || image.channels() == 3),
      "native model input: expected an 8-bit grey or RGB image, got "
          << image.channels() << " channels of depth " << image.depth());
  cv::Mat grey;
  if (image.channels() == 3) {
    cv::cvtColor(image, grey, cv::COLOR_RGB2GRAY);
  } else {
    grey = image;
  }
  // torchvision's geometry: the shorter side resized to `size`, then a centre crop.
  const int side = static_cast<int>(size);
  if (std::min(grey.rows, grey.cols) != side) {
    const double scale = static_cast<double>(side) / std::min(grey.rows, grey.cols);
    const int w = grey.cols <= grey.rows ? side : static_cast<int>(grey.cols * scale);
    const int h = grey.rows <= grey.cols ? side : static_cast<int>(grey.rows * scale);
    cv::Mat resized;
    cv::resize(grey, resized, cv::Size(w, h), 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    grey = resized;
  }
  if (grey.rows != side || grey.cols != side) {
    const int x = static_cast<int>(std::nearbyint((grey.cols - side) / 2.0));
    const int y = static_cast<int>(std::nearbyint((grey.rows - side) / 2.0));
    grey = grey(cv::Rect(x, y, side, side));
  }
  return grey.clone();
}

torch::Tensor NativePreprocessing::normalize(const torch::Tensor& images) const {
  IIS_CHECK(images.dim() == 4 && images.size(1) == channels && images.size(2) == size &&
                images.size(3) == size && images.scalar_type() == torch::kUInt8,
            "native model input: expected B×" << channels << "×" << size << "×" << size
                                              << " uint8 images, got shape " << images.sizes()
                                              << " of " << images.dtype());
  return images.to(torch::kFloat32).div_(255.0).sub_(mean).div_(std);
}

std::string NativePreprocessing::to_yaml() const {
  std::ostringstream out;
  out << "preset: none\nval_resize_size: " << size << "\nval_crop_size: " << size
      << "\ninterpolation: bilinear\nmean: [" << mean << "]\nstd: [" << std
      << "]\nchannels: " << channels << "\n";
  return out.str();
}

std::vector<std::string> native_architectures() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

std::shared_ptr<NativeModelImpl> make_native_model(const std::string& arch, int64_t num_classes,
                                                   uint64_t seed) {
  IIS_CHECK(num_classes >= 2,
            "native model " << arch << ": needs at least 2 classes, got " << num_classes);
  auto it = std::find_if(registry().begin(), registry().end(),
                         [&](const auto& entry) { return entry.first == arch; });
  IIS_CHECK_HINT(it != registry().end(), "unknown native architecture '" << arch << "'",
                 "valid architectures: " << joined_architectures());
  // The weights come from LibTorch's global generator; the caller's stream is left untouched.
  std::shared_ptr<NativeModelImpl> model;
  core::with_torch_seed(seed, [&] { model = it->second(num_classes); });
  return model;
}

void write_native_model(torch::serialize::OutputArchive& archive, NativeModelImpl& model) {
  archive.write("iis_format", c10::IValue(kCheckpointFormat));
  archive.write("iis_arch", c10::IValue(model.arch()));
  archive.write("iis_num_classes", c10::IValue(model.num_classes()));
  torch::serialize::OutputArchive weights;
  model.save(weights);
  archive.write("model", weights);
}

std::shared_ptr<NativeModelImpl> read_native_model(torch::serialize::InputArchive& archive) {
  c10::IValue format, arch, num_classes;
  IIS_CHECK_HINT(archive.try_read("iis_format", format) && format.isInt(),
                 "not a native iis checkpoint (no iis_format entry)",
                 "native checkpoints are written by `iis pretrain`; TorchScript files are "
                 "given to `iis embed` without the native: prefix");
  IIS_CHECK(format.toInt() == kCheckpointFormat,
            "checkpoint format " << format.toInt() << " is not supported (expected "
                                 << kCheckpointFormat << ")");
  archive.read("iis_arch", arch);
  archive.read("iis_num_classes", num_classes);
  auto model = make_native_model(arch.toStringRef(), num_classes.toInt(), /*seed=*/0);
  torch::serialize::InputArchive weights;
  archive.read("model", weights);
  model->load(weights);
  model->eval();
  return model;
}

void save_native_checkpoint(const std::string& path, NativeModelImpl& model) {
  with_context("saving native checkpoint " + path, [&] {
    torch::serialize::OutputArchive archive;
    write_native_model(archive, model);
    core::write_atomic(path, [&](const std::string& tmp) { archive.save_to(tmp); });
  });
}

std::shared_ptr<NativeModelImpl> load_native_checkpoint(const std::string& path) {
  return with_context_value("loading native checkpoint " + path, [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(path, torch::kCPU);
    return read_native_model(archive);
  });
}

}  // namespace iis::models
