// The two dataset readers behind open_dataset().
#pragma once

#include <memory>
#include <string>
#include <vector>

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

// The IDX dataset held in `images` and `labels`, the two files' (gunzipped) bytes, which the
// paths name in errors and sources: what open_idx reads the files into. Throws iis::Error for
// a bad magic number, size or count.
std::unique_ptr<Dataset> idx_dataset_from_bytes(const std::string& images_path,
                                                std::vector<unsigned char> images,
                                                const std::string& labels_path,
                                                std::vector<unsigned char> labels);

}  // namespace iis::data::detail
