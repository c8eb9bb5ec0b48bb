// `iis preprocess`: the model input `iis embed` would build for some image files, saved as
// .npy, so it can be compared with torchvision (scripts/preprocess_parity.py).
#include <torch/torch.h>

#include "iis/backbone/backbone.hpp"
#include "iis/core/error.hpp"
#include "iis/embed/embed.hpp"
#include "iis/image/decode.hpp"
#include "iis/io/npy.hpp"

namespace iis::embed {

void run_preprocess_dump(const PreprocessDumpOptions& options) {
  IIS_CHECK_HINT(!options.images.empty(), "no images given", "iis preprocess IMAGE... --out x.npy");
  IIS_CHECK_HINT(!options.out.empty(), "--out is required", "a .npy file to write");
  std::string backbone_yaml, backbone_name;
  if (!options.backbone.empty()) {
    auto backbone = backbone::open_backbone(options.backbone, torch::kCPU);
    backbone_yaml = backbone->preprocess_config();
    backbone_name = backbone->name();
  }
  const image::Preprocess prep =
      resolve_preprocess(options.preprocess, backbone_yaml, backbone_name);
  std::vector<torch::Tensor> items;
  for (const auto& path : options.images) {
    const cv::Mat rgb = image::read_rgb(path);
    torch::Tensor t;
    with_context("preprocessing " + path, [&] {
      if (options.uint8) {
        cv::Mat small = image::resize_and_crop(rgb, prep).clone();
        t = torch::from_blob(small.data, {small.rows, small.cols, small.channels()}, torch::kUInt8)
                .clone();
      } else {
        t = image::preprocess(rgb, prep);
      }
      IIS_CHECK_HINT(items.empty() || t.sizes() == items[0].sizes(),
                     "preprocesses to " << t.sizes() << " but " << options.images[0] << " to "
                                        << items[0].sizes(),
                     "give --crop-size so every image has the same shape, or one image per call");
    });
    items.push_back(t);
  }
  io::save_npy(options.out, torch::stack(items));
}

}  // namespace iis::embed
