// Grid patches as concept candidates (the reference's patch_extractor).
#pragma once

#include <opencv2/core.hpp>
#include <vector>

namespace iis::elements {

// One cell of the grid.
struct Patch {
  int row = 0, col = 0;  // cell position in the grid
  cv::Rect cell;         // the pixels it was cut from
  cv::Mat image;         // size×size CV_8UC3 RGB
};

// Cuts `rgb` (H×W CV_8UC3) into grid×grid cells of floor(W/grid)×floor(H/grid) pixels from
// the top-left corner (the remainder on the right and bottom is unused, as in the reference),
// row by row, and resizes each to size×size with PIL's bicubic filter. Throws iis::Error when
// the image is smaller than the grid (a cell would be empty).
std::vector<Patch> grid_patches(const cv::Mat& rgb, int grid = 4, int size = 224);

}  // namespace iis::elements
