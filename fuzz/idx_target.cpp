// Fuzz target: an IDX images file and its labels file, read as open_idx reads them (from the
// gunzipped bytes), then a few rows decoded. Input layout: 2 bytes (little-endian) L, the
// images file, then the labels file as the last min(L, rest) bytes.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz/targets.hpp"
#include "iis/data/detail/readers.hpp"

namespace iis::fuzz {
namespace {

// The dataset's promises: every label names a class, every image is rows×cols RGB.
void check_row(const data::Dataset& d, int64_t i) {
  const int64_t label = d.label(i);
  if (label < 0 || label >= static_cast<int64_t>(d.class_names().size()))
    throw std::logic_error("IDX label " + std::to_string(label) + " has no class name");
  const cv::Mat image = d.image(i);
  if (image.type() != CV_8UC3 || image.empty())
    throw std::logic_error("IDX image is not 8-bit RGB");
  if (d.source(i).empty() || d.stem(i).empty())
    throw std::logic_error("IDX row without a source or stem");
}

}  // namespace

void idx_input(const uint8_t* data, size_t size) {
  if (size < 2) return;
  const size_t rest = size - 2;
  const size_t labels_size = std::min<size_t>(data[0] | data[1] << 8, rest);
  const uint8_t* images_begin = data + 2;
  const uint8_t* labels_begin = data + size - labels_size;
  allowing_user_errors([&] {
    const auto d =
        data::detail::idx_dataset_from_bytes("fuzz/fashion-train-images-idx3-ubyte",
                                             std::vector<unsigned char>(images_begin, labels_begin),
                                             "fuzz/fashion-train-labels-idx1-ubyte",
                                             std::vector<unsigned char>(labels_begin, data + size));
    for (int64_t i : {int64_t{0}, int64_t{1}, d->size() - 1}) {
      if (i >= 0 && i < d->size()) check_row(*d, i);
    }
  });
}

}  // namespace iis::fuzz
