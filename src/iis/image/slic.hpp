// SLIC superpixels with scikit-image 0.19 semantics (skimage.segmentation.slic).
#pragma once

#include <opencv2/core.hpp>

namespace iis::image {

// Options of slic(); defaults are the reference's (scikit-image's, with the paper's
// compactness 10 and sigma 1).
struct SlicOptions {
  int n_segments = 100;       // approximate number of superpixels
  double compactness = 10.0;  // weight of the spatial term, in CIELAB units per grid step
  double sigma = 1.0;         // Gaussian pre-smoothing (pixels), per channel; 0 = none
  int max_iter = 10;          // k-means iterations
  bool enforce_connectivity = true;
  double min_size_factor = 0.5;  // segments smaller than this × (H·W/n_segments) are merged
  double max_size_factor = 3.0;
};

// Segments an H×W CV_8UC3 RGB image. Returns an H×W CV_32S label map with labels
// 0..n-1 (every pixel labelled; each label one connected region when
// enforce_connectivity). Deterministic.
cv::Mat slic(const cv::Mat& rgb, const SlicOptions& options = {});

}  // namespace iis::image
