// CLIP models as OpenAI publishes them (ViT-B-16.pt, RN50.pt, ...): TorchScript archives whose
// encode_image and encode_text give the image and text features, and the `clip:` backbone.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace iis::backbone {

// The side of CLIP's images when an archive does not record it (ViT-B/16's).
constexpr int64_t kClipDefaultResolution = 224;

// A CLIP archive loaded for one device. OpenAI's archives were traced on a GPU in float16:
// their graphs name the device cuda:0 and cast to float16. Loading patches them as CLIP's
// clip.load does: every cuda device constant becomes `device`, and on a CPU every float16
// cast (aten::to) becomes a float32 one and the weights become float32.
class ClipModel {
 public:
  // Which method a caller needs; the constructor checks that the archive has it.
  enum class Tower { Image, Text };

  // Throws iis::Error naming `path` when it is missing, is not TorchScript, or lacks the
  // method of `tower` (encode_image or encode_text).
  ClipModel(const std::string& path, torch::Device device, Tower tower);

  // images: B×3×R×R float32 (any device), preprocessed as CLIP does. Returns encode_image's
  // output as float32 on device(), B×E for CLIP. Runs in inference mode; throws iis::Error
  // naming the file with the model's own message when it fails.
  torch::Tensor encode_image(const torch::Tensor& images);

  // ids: N×context_length() int64 (any device): per row the start token, the text's ids, the
  // end token, zeros. Returns encode_text's output as float32 on device(), N×E for CLIP.
  torch::Tensor encode_text(const torch::Tensor& ids);

  // The image side the model takes: the archive's `input_resolution` (a 0-d tensor in
  // OpenAI's archives, or an int), else `visual.input_resolution`; 0 when it records neither.
  int64_t input_resolution() const { return input_resolution_; }
  // Token ids per text: the archive's `context_length`, else 77.
  int64_t context_length() const { return context_length_; }
  // The archive's `vocab_size` (49 408 for CLIP's tokenizer), 0 when it does not record it.
  int64_t vocab_size() const { return vocab_size_; }

  const std::string& path() const { return path_; }
  torch::Device device() const { return device_; }

 private:
  torch::Tensor call(const std::string& method, const torch::Tensor& input,
                     const std::string& what);

  std::string path_;
  torch::Device device_;
  torch::jit::Module module_;
  int64_t input_resolution_ = 0;
  int64_t context_length_ = 77;
  int64_t vocab_size_ = 0;
};

}  // namespace iis::backbone
