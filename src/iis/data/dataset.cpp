// open_dataset(): picks the reader for a path (ImageFolder tree or IDX file).
#include "iis/data/dataset.hpp"

#include <filesystem>

#include "iis/core/error.hpp"
#include "iis/data/detail/readers.hpp"

namespace fs = std::filesystem;

namespace iis::data {

std::string Dataset::stem(int64_t index) const { return fs::path(source(index)).stem().string(); }

std::unique_ptr<Dataset> open_dataset(const std::string& path) {
  std::error_code ec;
  IIS_CHECK_HINT(fs::exists(path, ec), "dataset " << path << " does not exist",
                 "give an ImageFolder root (one sub-folder per class) or an IDX images file "
                 "such as /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
  if (fs::is_directory(path, ec)) return detail::open_image_folder(path);
  if (detail::is_idx_images_path(path)) return detail::open_idx(path);
  IIS_FAIL("dataset " << path << " is neither a folder nor an IDX images file",
           "give an ImageFolder root (one sub-folder per class) or a file named "
           "…-images-idx3-ubyte[.gz] with its …-labels-idx1-ubyte[.gz] beside it");
}

}  // namespace iis::data
