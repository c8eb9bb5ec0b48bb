// Decoding image files of any common format into 8-bit RGB.
#pragma once

#include <opencv2/core.hpp>
#include <string>

namespace iis::image {

// Reads an image file into an H×W CV_8UC3 matrix in RGB order (not OpenCV's BGR).
// Grayscale is replicated to 3 channels, alpha is dropped, palette, CMYK and 16-bit images
// are converted (16-bit scaled by 1/257). Throws iis::Error naming the file when it is
// missing, empty, truncated, corrupt or not an image.
cv::Mat read_rgb(const std::string& path);

// Decodes an encoded image held in memory (same conversions); `name` is used in errors.
cv::Mat decode_rgb(const std::vector<unsigned char>& bytes, const std::string& name);

}  // namespace iis::image
