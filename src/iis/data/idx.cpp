// IDX datasets (MNIST, Fashion-MNIST): an images file and its labels file, plain or gzip.
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "iis/core/error.hpp"
#include "iis/data/detail/readers.hpp"

namespace fs = std::filesystem;

namespace iis::data::detail {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

// torchvision's FashionMNIST.classes.
const std::vector<std::string> kFashionClasses = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                  "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                  "Bag",         "Ankle boot"};

// The whole content of a file, gunzipped when it is gzip (zlib reads plain files as is).
std::vector<unsigned char> read_maybe_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  IIS_CHECK_HINT(file != nullptr, "cannot open " << path, "check the path and its permissions");
  std::vector<unsigned char> data;
  std::vector<unsigned char> chunk(1 << 20);
  while (true) {
    const int n = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n <= 0) {
      int code = Z_OK;
      const char* message = gzerror(file, &code);
      const std::string text = message ? message : "";
      gzclose(file);
      IIS_CHECK_HINT(n == 0 && (code == Z_OK || code == Z_STREAM_END),
                     path << ": corrupt or truncated gzip data (" << text << ")",
                     "the download is damaged; fetch the file again");
      break;
    }
    data.insert(data.end(), chunk.begin(), chunk.begin() + n);
  }
  return data;
}

uint32_t big_endian_u32(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// Replaces the first occurrence of `from` in the file name of `path`.
std::string replace_in_name(const std::string& path, const std::string& from,
                            const std::string& to) {
  fs::path p(path);
  std::string name = p.filename().string();
  const size_t at = name.find(from);
  if (at == std::string::npos) return "";
  name.replace(at, from.size(), to);
  return (p.parent_path() / name).string();
}

// The labels file beside `images_path`: "images-idx3" -> "labels-idx1" (or with dots), gzip
// or plain, whichever exists.
std::string find_labels_file(const std::string& images_path) {
  std::string labels;
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"images-idx3", "labels-idx1"},
                                 {"images.idx3", "labels.idx1"}}) {
    labels = replace_in_name(images_path, from, to);
    if (!labels.empty()) break;
  }
  std::vector<std::string> candidates = {labels};
  const bool gz = labels.size() > 3 && labels.compare(labels.size() - 3, 3, ".gz") == 0;
  candidates.push_back(gz ? labels.substr(0, labels.size() - 3) : labels + ".gz");
  std::error_code ec;
  for (const auto& candidate : candidates) {
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  IIS_FAIL("labels file for " << images_path << " not found (looked for " << candidates[0]
                              << " and " << candidates[1] << ")",
           "put the …-labels-idx1-ubyte[.gz] file beside the images file");
}

class IdxDataset : public Dataset {
 public:
  IdxDataset(std::string path, std::string split, std::vector<unsigned char> pixels, int rows,
             int cols, std::vector<int64_t> labels, std::vector<std::string> classes)
      : path_(std::move(path)),
        split_(std::move(split)),
        pixels_(std::move(pixels)),
        rows_(rows),
        cols_(cols),
        labels_(std::move(labels)),
        classes_(std::move(classes)) {}

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  const std::vector<std::string>& class_names() const override { return classes_; }
  int64_t label(int64_t index) const override { return labels_.at(static_cast<size_t>(index)); }
  std::string source(int64_t index) const override { return path_ + "#" + std::to_string(index); }
  std::string stem(int64_t index) const override {
    const int width = static_cast<int>(std::to_string(std::max<int64_t>(size() - 1, 0)).size());
    char row[32];
    std::snprintf(row, sizeof(row), "%0*lld", width, static_cast<long long>(index));
    return split_ + "_" + row;
  }
  cv::Mat image(int64_t index) const override {
    IIS_CHECK(index >= 0 && index < size(),
              "IDX row " << index << " out of range [0, " << size() << ") in " << path_);
    const size_t plane = static_cast<size_t>(rows_) * cols_;
    // The grey plane, wrapped without copying, then replicated into a new RGB image.
    const cv::Mat gray(rows_, cols_, CV_8UC1,
                       const_cast<unsigned char*>(pixels_.data() + plane * index));
    cv::Mat rgb;
    cv::cvtColor(gray, rgb, cv::COLOR_GRAY2RGB);
    return rgb;
  }

 private:
  std::string path_, split_;
  std::vector<unsigned char> pixels_;  // N×rows×cols, uint8, without the header
  int rows_, cols_;
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
};

}  // namespace

bool is_idx_images_path(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  return name.find("images-idx3-ubyte") != std::string::npos ||
         name.find("images.idx3-ubyte") != std::string::npos;
}

std::unique_ptr<Dataset> open_idx(const std::string& images_path) {
  const std::string labels_path = find_labels_file(images_path);
  return idx_dataset_from_bytes(images_path, read_maybe_gzip(images_path), labels_path,
                                read_maybe_gzip(labels_path));
}

std::unique_ptr<Dataset> idx_dataset_from_bytes(const std::string& images_path,
                                                std::vector<unsigned char> images,
                                                const std::string& labels_path,
                                                std::vector<unsigned char> labels) {
  const std::string hint = "the file is damaged or not an IDX file; fetch it again";

  IIS_CHECK_HINT(
      images.size() >= 16,
      images_path << ": too short for an IDX images header (" << images.size() << " bytes)", hint);
  const uint32_t magic = big_endian_u32(&images[0]);
  IIS_CHECK_HINT(magic == kImagesMagic,
                 images_path << ": magic number 0x" << std::hex << magic << std::dec
                             << " is not that of IDX images (0x803: unsigned bytes, 3 dims)",
                 hint);
  const uint64_t n = big_endian_u32(&images[4]), rows = big_endian_u32(&images[8]),
                 cols = big_endian_u32(&images[12]);
  IIS_CHECK_HINT(rows > 0 && cols > 0 && rows <= 65536 && cols <= 65536,
                 images_path << ": image size " << rows << "x" << cols << " out of range", hint);
  IIS_CHECK_HINT(images.size() == 16 + n * rows * cols,
                 images_path << ": header promises " << n << " images of " << rows << "x" << cols
                             << " (" << 16 + n * rows * cols << " bytes) but the data has "
                             << images.size() << " bytes",
                 hint);

  IIS_CHECK_HINT(
      labels.size() >= 8,
      labels_path << ": too short for an IDX labels header (" << labels.size() << " bytes)", hint);
  const uint32_t label_magic = big_endian_u32(&labels[0]);
  IIS_CHECK_HINT(label_magic == kLabelsMagic,
                 labels_path << ": magic number 0x" << std::hex << label_magic << std::dec
                             << " is not that of IDX labels (0x801: unsigned bytes, 1 dim)",
                 hint);
  const uint64_t label_count = big_endian_u32(&labels[4]);
  IIS_CHECK_HINT(label_count == n,
                 labels_path << " has " << label_count << " labels but " << images_path << " has "
                             << n << " images",
                 "the two files must come from the same split (both train or both t10k)");
  IIS_CHECK_HINT(
      labels.size() == 8 + n,
      labels_path << ": header promises " << n << " labels but the data has " << labels.size() - 8,
      hint);

  std::vector<int64_t> label_values(labels.begin() + 8, labels.end());
  const int64_t max_label =
      label_values.empty() ? 0 : *std::max_element(label_values.begin(), label_values.end());
  std::string lower = images_path;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::vector<std::string> classes;
  if (lower.find("fashion") != std::string::npos && max_label < 10) {
    classes = kFashionClasses;
  } else {
    for (int64_t c = 0; c <= std::max<int64_t>(max_label, 9); ++c) {
      classes.push_back(std::to_string(c));
    }
  }
  images.erase(images.begin(), images.begin() + 16);
  std::string name = fs::path(images_path).filename().string();
  std::string split = name.substr(0, std::min(name.find("-images"), name.find(".images")));
  if (split.empty()) split = "idx";
  return std::make_unique<IdxDataset>(images_path, split, std::move(images), static_cast<int>(rows),
                                      static_cast<int>(cols), std::move(label_values),
                                      std::move(classes));
}

}  // namespace iis::data::detail
