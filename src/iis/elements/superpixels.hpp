// `iis superpixels`: the SLIC label map of one image, as .npy or as an overlay picture, to see
// what the segment concepts are cut from and to compare with scikit-image.
#pragma once

#include <opencv2/core.hpp>

#include <string>

namespace iis::elements {

// Options of run_superpixels(); SLIC defaults are the paper's.
struct SuperpixelsOptions {
  std::string image;        // any image iis::image::read_rgb reads
  int n_segments = 30;      // approximate number of superpixels (--n-segments)
  double compactness = 10;  // SLIC compactness (--compactness)
  double sigma = 1;         // SLIC Gaussian pre-smoothing in pixels (--sigma)
  std::string out;          // .npy: int32 H×W label map (labels 0..n-1); .png: overlay
};

// What run_superpixels() wrote.
struct SuperpixelsResult {
  int height = 0, width = 0;
  int segments = 0;  // number of labels
  double seconds = 0;
  std::string out;
};

// The SLIC label map of an H×W CV_8UC3 RGB image in memory (the Python module's arrays): H×W
// CV_32S, labels 0..n-1, what run_superpixels writes as .npy. Throws iis::Error naming the flag
// of a value out of range.
cv::Mat superpixel_labels(const cv::Mat& rgb, const SuperpixelsOptions& options);

// Reads the image, runs iis::image::slic and writes the label map or the overlay (the image
// with segment boundaries drawn in yellow) atomically. Throws iis::Error naming the flag or
// the file on bad options or unreadable input.
SuperpixelsResult run_superpixels(const SuperpixelsOptions& options);

}  // namespace iis::elements
