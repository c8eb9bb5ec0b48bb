// `iis superpixels`: one image's SLIC label map as .npy, or its boundaries drawn over it.
#include "iis/elements/superpixels.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/image/decode.hpp"
#include "iis/image/slic.hpp"
#include "iis/io/npy.hpp"

namespace iis::elements {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  std::string tail = s.substr(s.size() - suffix.size());
  std::transform(tail.begin(), tail.end(), tail.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return tail == suffix;
}

// The RGB image with every pixel whose 4-neighbour has another label painted yellow.
cv::Mat overlay(const cv::Mat& rgb, const cv::Mat& labels) {
  cv::Mat out = rgb.clone();
  for (int y = 0; y < labels.rows; ++y) {
    for (int x = 0; x < labels.cols; ++x) {
      const int32_t v = labels.at<int32_t>(y, x);
      const bool edge = (x + 1 < labels.cols && labels.at<int32_t>(y, x + 1) != v) ||
                        (x > 0 && labels.at<int32_t>(y, x - 1) != v) ||
                        (y + 1 < labels.rows && labels.at<int32_t>(y + 1, x) != v) ||
                        (y > 0 && labels.at<int32_t>(y - 1, x) != v);
      if (edge) out.at<cv::Vec3b>(y, x) = cv::Vec3b(255, 255, 0);
    }
  }
  return out;
}

}  // namespace

cv::Mat superpixel_labels(const cv::Mat& rgb, const SuperpixelsOptions& options) {
  image::SlicOptions slic_options;
  slic_options.n_segments = options.n_segments;
  slic_options.compactness = options.compactness;
  slic_options.sigma = options.sigma;
  return image::slic(rgb, slic_options);
}

SuperpixelsResult run_superpixels(const SuperpixelsOptions& options) {
  const bool npy = ends_with(options.out, ".npy"), png = ends_with(options.out, ".png");
  IIS_CHECK_HINT(npy || png, "--out must end in .npy or .png, got '" << options.out << "'",
                 ".npy writes the int32 label map, .png an overlay of the segment boundaries");
  const auto start = std::chrono::steady_clock::now();
  const cv::Mat rgb = image::read_rgb(options.image);
  const cv::Mat labels = superpixel_labels(rgb, options);

  SuperpixelsResult result;
  result.height = labels.rows;
  result.width = labels.cols;
  double lo = 0, hi = 0;
  cv::minMaxLoc(labels, &lo, &hi);
  result.segments = int(hi) + 1;
  result.out = options.out;
  with_context("writing " + options.out, [&] {
    if (npy) {
      const torch::Tensor tensor = torch::from_blob(const_cast<int32_t*>(labels.ptr<int32_t>(0)),
                                                    {labels.rows, labels.cols}, torch::kInt32);
      io::save_npy(options.out, tensor);
    } else {
      cv::Mat bgr;
      cv::cvtColor(overlay(rgb, labels), bgr, cv::COLOR_RGB2BGR);
      std::vector<unsigned char> bytes;
      IIS_CHECK(cv::imencode(".png", bgr, bytes), "PNG encoding failed");
      core::write_atomic(options.out, [&](const std::string& tmp) {
        std::ofstream file(tmp, std::ios::binary);
        file.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        IIS_CHECK(file.good(), "cannot write " << tmp);
      });
    }
  });
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace iis::elements
