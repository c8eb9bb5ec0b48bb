// Loading a split into memory in parallel and making model input from it.
#include "iis/finetune/images.hpp"

#include <cstring>

#include "iis/core/error.hpp"
#include "iis/core/parallel.hpp"
#include "iis/core/progress.hpp"
#include "iis/data/dataset.hpp"

namespace iis::finetune {
namespace {

// image::normalization_table as a channels×256 tensor.
torch::Tensor lookup_table(const image::Preprocess& p, int64_t channels) {
  const auto table = image::normalization_table(p, static_cast<int>(channels));
  return torch::tensor(table, torch::kFloat32).view({channels, 256});
}

// One image as C×H×W uint8 (planar).
torch::Tensor planar(const cv::Mat& image) {
  const cv::Mat small = image.isContinuous() ? image : image.clone();  // a crop is a view
  auto hwc =
      torch::from_blob(small.data, {small.rows, small.cols, small.channels()}, torch::kUInt8);
  // clone, not contiguous(): with one channel the permuted view already counts as contiguous
  // and would keep pointing into `small`, which dies here.
  return hwc.permute({2, 0, 1}).clone(at::MemoryFormat::Contiguous);
}

}  // namespace

ImageSplit load_image_split(const std::string& path, const image::Preprocess& p, int64_t limit,
                            const std::string& what) {
  auto dataset = data::open_dataset(path);
  const int64_t n = limit > 0 ? std::min(limit, dataset->size()) : dataset->size();
  IIS_CHECK_HINT(n > 0, what << " " << path << " holds no images",
                 "give an IDX images file or an ImageFolder with one sub-folder per class");
  std::vector<torch::Tensor> images(n);
  std::vector<std::string> errors(n);
  core::Progress progress("loading " + what, n, "images");
  core::parallel_for(0, n, 256, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      try {
        images[i] = planar(image::resize_and_crop(dataset->image(i), p));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    }
  });
  progress.advance(n);
  progress.finish();
  ImageSplit split;
  split.class_names = dataset->class_names();
  std::vector<torch::Tensor> kept;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    if (!images[i].defined()) {
      if (split.unreadable++ < 5)
        core::log_info("skipping " + dataset->source(i) + ": " + errors[i]);
      continue;
    }
    IIS_CHECK_HINT(kept.empty() || images[i].sizes() == kept[0].sizes(),
                   what << " " << dataset->source(i) << " gives input of shape "
                        << images[i].sizes() << ", the first image " << kept[0].sizes(),
                   "fine-tuning needs one input size: give the backbone a crop size "
                   "(val_crop_size in its YAML)");
    kept.push_back(images[i]);
    labels.push_back(dataset->label(i));
  }
  IIS_CHECK_HINT(!kept.empty(), "no image of " << what << " " << path << " could be read",
                 "check the files; the first error was: " << errors[0]);
  split.images = torch::stack(kept);
  split.labels = torch::tensor(labels, torch::kInt64);
  split.lut = lookup_table(p, split.images.size(1));
  return split;
}

torch::Tensor model_input(const ImageSplit& split, const torch::Tensor& index,
                          torch::Device device) {
  const torch::Tensor values = split.images.index_select(0, index).to(torch::kInt64);
  std::vector<torch::Tensor> channels;
  for (int64_t c = 0; c < values.size(1); ++c) {
    channels.push_back(split.lut[c].index({values.select(1, c)}));
  }
  return torch::stack(channels, 1).to(device);
}

}  // namespace iis::finetune
