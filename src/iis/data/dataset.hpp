// Labelled image datasets behind one interface: ImageFolder trees and IDX files (MNIST,
// Fashion-MNIST). Used by `iis elements`, `iis embed` and `iis pretrain`.
#pragma once

#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace iis::data {

// A labelled image dataset with a fixed, deterministic order.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Class names in label order (ImageFolder: sorted sub-folder names).
  virtual const std::vector<std::string>& class_names() const = 0;
  virtual int64_t label(int64_t index) const = 0;
  // Where sample `index` comes from: a file path, or "<idx file>#<row>" for IDX.
  virtual std::string source(int64_t index) const = 0;
  // A short name for sample `index`, usable in file names: the file's stem for files,
  // "<split>_<row>" for IDX rows (e.g. "t10k_000042").
  virtual std::string stem(int64_t index) const;
  // The image as H×W CV_8UC3 RGB. Throws iis::Error naming the source if it cannot be
  // decoded (callers skip, count and list such samples). Thread-safe.
  virtual cv::Mat image(int64_t index) const = 0;
};

// Opens `path`: a folder (ImageFolder: one sub-folder per class, sorted; files with
// extensions jpg, jpeg, png, bmp, webp, tif, tiff in any case, sorted by name), or an IDX
// images file `…-images-idx3-ubyte[.gz]` whose labels file `…-labels-idx1-ubyte[.gz]` lies
// beside it. Throws iis::Error with a hint for anything else.
std::unique_ptr<Dataset> open_dataset(const std::string& path);

}  // namespace iis::data
