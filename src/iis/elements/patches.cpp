// Grid patches: cells of floor(W/grid)×floor(H/grid) resized to size×size.
#include "iis/elements/patches.hpp"

#include "iis/core/error.hpp"
#include "iis/image/preprocess.hpp"

namespace iis::elements {

std::vector<Patch> grid_patches(const cv::Mat& rgb, int grid, int size) {
  IIS_ASSERT(rgb.type() == CV_8UC3, "grid_patches needs an RGB image");
  IIS_ASSERT(grid >= 1 && size >= 1, "grid and patch size must be positive");
  IIS_CHECK_HINT(rgb.cols >= grid && rgb.rows >= grid,
                 "image of " << rgb.cols << "x" << rgb.rows << " is smaller than the " << grid
                             << "x" << grid << " patch grid",
                 "use a smaller --grid, or segments");
  const int w = rgb.cols / grid, h = rgb.rows / grid;
  std::vector<Patch> patches;
  patches.reserve(static_cast<size_t>(grid) * grid);
  for (int r = 0; r < grid; ++r) {
    for (int c = 0; c < grid; ++c) {
      Patch p;
      p.row = r;
      p.col = c;
      p.cell = cv::Rect(c * w, r * h, w, h);
      p.image = image::resize_like_pil(rgb(p.cell), size, size, image::Interpolation::Bicubic);
      patches.push_back(std::move(p));
    }
  }
  return patches;
}

}  // namespace iis::elements
