// Evaluation preprocessing of decoded images into model input tensors: torchvision's eval
// transform (resize with PIL's antialiased filters, centre crop, scale, normalise) and a
// plain `none` preset for small images such as Fashion-MNIST.
#pragma once

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace iis::image {

// Resampling filters of PIL's Image.resize (the ones torchvision's presets use).
enum class Interpolation { Nearest, Bilinear, Bicubic };

// "nearest" | "bilinear" | "bicubic" (any case) → Interpolation; throws naming `what`.
Interpolation parse_interpolation(const std::string& name, const std::string& what);
std::string to_string(Interpolation interpolation);

// How an image becomes a model input. Defaults are the `imagenet` preset (torchvision 0.14's
// ImageClassification eval transform for ResNet/ViT IMAGENET1K_V1 weights).
struct Preprocess {
  // Name of the preset these settings started from ("imagenet", "clip", "none"); informational.
  std::string preset = "imagenet";
  // Shorter side after resizing; the longer side becomes int(resize_size*long/short).
  // 0 = no resize. YAML key `val_resize_size`, flag --resize-size.
  int64_t resize_size = 256;
  // Side of the centre crop (offset int(round((size-crop)/2)), zero padding when the image
  // is smaller, as torchvision does). 0 = no crop. YAML `val_crop_size`, flag --crop-size.
  int64_t crop_size = 224;
  // Resize filter, antialiased when reducing exactly as PIL does. YAML/flag `interpolation`.
  Interpolation interpolation = Interpolation::Bilinear;
  // Per-channel normalisation (x - mean) / std after scaling to [0,1]; both empty = none.
  // One value per output channel (or one value for all). YAML `mean`/`std`.
  std::vector<float> mean{0.485f, 0.456f, 0.406f};
  std::vector<float> std{0.229f, 0.224f, 0.225f};
  // Output channels: 3 (RGB) or 1 (luma as PIL's convert("L"), for grayscale models).
  int64_t channels = 3;

  // Throws iis::Error naming the setting and its valid range.
  void validate() const;
  // One line, e.g. "resize 256 bilinear, crop 224, mean [...], std [...], 3 channels".
  std::string describe() const;
};

// The named presets: "imagenet" (the defaults above), "clip" (CLIP's preprocessing: resize 224
// bicubic, crop 224, CLIP's mean (0.48145466, 0.4578275, 0.40821073) and std (0.26862954,
// 0.26130258, 0.27577711), 3 channels) or "none" (scale to [0,1], no resize, no crop, no
// normalisation, 3 channels). Throws for any other name.
Preprocess preprocess_preset(const std::string& name);

// Overrides `p` with the keys found in YAML text: `preset` (applied first), `val_resize_size`
// (or `resize_size`), `val_crop_size` (or `crop_size`), `interpolation`, `mean`, `std`,
// `channels`. Other keys (training settings of the reference's model_configs) are ignored.
// `source` names the YAML in errors.
void apply_preprocess_yaml(Preprocess& p, const std::string& yaml_text, const std::string& source);

// YAML text holding every setting of `p` (readable by apply_preprocess_yaml).
std::string preprocess_yaml(const Preprocess& p);

// Shape {C, H, W} of the tensor preprocess() makes from an h×w image.
std::array<int64_t, 3> preprocessed_shape(const Preprocess& p, int64_t h, int64_t w);

// H×W CV_8UC3 RGB image → C×H'×W' float32 CPU tensor (contiguous).
torch::Tensor preprocess(const cv::Mat& rgb, const Preprocess& p);

// Same, written into `out`: contiguous float32 storage for preprocessed_shape(p, h, w).
void preprocess_into(const cv::Mat& rgb, const Preprocess& p, float* out);

// The value of each byte v of each channel after scaling and normalisation, computed with
// torchvision's float32 operations (v / 255, then (x − mean) / std): channels×256 entries,
// channel-major. preprocess_into and fine-tuning's in-memory images both read it.
std::vector<float> normalization_table(const Preprocess& p, int channels);

// The image after channel conversion, resize and crop but before scaling (H'×W', CV_8UC3 or
// CV_8UC1, padding 0): what parity checks compare with torchvision + PIL.
cv::Mat resize_and_crop(const cv::Mat& rgb, const Preprocess& p);

// PIL's Image.resize of an 8-bit 1- or 3-channel image to out_w×out_h, bit-exact: separable,
// horizontal pass first, filter support scaled by the reduction factor (antialiasing),
// 22-bit fixed-point coefficients, rounding to 8 bits between the passes.
cv::Mat resize_like_pil(const cv::Mat& image, int64_t out_w, int64_t out_h,
                        Interpolation interpolation);

}  // namespace iis::image
