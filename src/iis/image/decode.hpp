// Decoding image files of any common format into 8-bit RGB.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

namespace iis::image {

// The default cap on an image's pixel count: PIL's `Image.MAX_IMAGE_PIXELS` (a 9459×9459
// image, 268 MB decoded), the limit PyTorch users' loaders already apply. Larger images are
// refused from their header, before anything is allocated.
constexpr uint64_t kDefaultMaxImagePixels = 89478485;

// The process-wide cap (`iis --max-image-pixels`); 0 restores the default. Peak memory of a
// command that decodes images grows with cap × worker threads.
void set_max_image_pixels(uint64_t pixels);
uint64_t max_image_pixels();

// Reads an image file into an H×W CV_8UC3 matrix in RGB order (not OpenCV's BGR).
// Grayscale is replicated to 3 channels, alpha is dropped, palette, CMYK and 16-bit images
// are converted (16-bit scaled by 1/257). Throws iis::Error naming the file when it is
// missing, empty, truncated, corrupt or not an image.
cv::Mat read_rgb(const std::string& path);

// Decodes an encoded image held in memory (same conversions); `name` is used in errors.
cv::Mat decode_rgb(const std::vector<unsigned char>& bytes, const std::string& name);

}  // namespace iis::image
