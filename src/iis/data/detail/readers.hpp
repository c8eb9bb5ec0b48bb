// The two dataset readers behind open_dataset().
#pragma once

#include <memory>
#include <string>

#include "iis/data/dataset.hpp"

namespace iis::data::detail {

// An ImageFolder tree (torchvision's order: sorted class folders; inside each, files found
// recursively, ordered by folder path then file name).
std::unique_ptr<Dataset> open_image_folder(const std::string& root);

// True for a path named like an IDX images file: `…-images-idx3-ubyte[.gz]` or
// `…-images.idx3-ubyte[.gz]` (MNIST's original names).
bool is_idx_images_path(const std::string& path);

// An IDX images file with its labels file beside it.
std::unique_ptr<Dataset> open_idx(const std::string& images_path);

}  // namespace iis::data::detail
