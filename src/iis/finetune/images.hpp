// The images `iis finetune` trains and measures on, held in memory after resizing and cropping
// (uint8), and turned into model input batch by batch exactly as `iis embed` turns them.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "iis/image/preprocess.hpp"

namespace iis::finetune {

// One split: every decodable image of a dataset after image::resize_and_crop.
struct ImageSplit {
  torch::Tensor images;  // N×C×H×W uint8 (CPU)
  torch::Tensor labels;  // N int64 (CPU)
  torch::Tensor lut;     // C×256 float32: value v of channel c → model input, as preprocess()
  std::vector<std::string> class_names;
  int64_t unreadable = 0;  // images skipped
  int64_t size() const { return images.size(0); }
};

// Reads the first `limit` images (0: all) of `path` (ImageFolder or IDX) through `p`. Every
// image must give the same shape (a crop size makes it so). Unreadable images are skipped and
// counted. `what` names the split in messages ("--data"). Throws iis::Error.
ImageSplit load_image_split(const std::string& path, const image::Preprocess& p, int64_t limit,
                            const std::string& what);

// Rows `index` (B int64, CPU) as float32 model input B×C×H×W on `device`: the same values
// image::preprocess gives, bit for bit.
torch::Tensor model_input(const ImageSplit& split, const torch::Tensor& index,
                          torch::Device device);

}  // namespace iis::finetune
