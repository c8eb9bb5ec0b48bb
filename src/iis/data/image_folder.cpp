// ImageFolder datasets: one sub-folder per class, in torchvision's order.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <utility>

#include "iis/core/error.hpp"
#include "iis/core/paths.hpp"
#include "iis/core/progress.hpp"
#include "iis/data/detail/readers.hpp"
#include "iis/image/decode.hpp"

namespace fs = std::filesystem;

namespace iis::data::detail {

namespace {

bool has_image_extension(const fs::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* const kExtensions[] = {".jpg",  ".jpeg", ".png", ".bmp",
                                            ".webp", ".tif",  ".tiff"};
  return std::any_of(std::begin(kExtensions), std::end(kExtensions),
                     [&](const char* e) { return ext == e; });
}

class ImageFolder : public Dataset {
 public:
  ImageFolder(std::vector<std::string> classes, std::vector<std::string> files,
              std::vector<int64_t> labels)
      : classes_(std::move(classes)), files_(std::move(files)), labels_(std::move(labels)) {}

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  const std::vector<std::string>& class_names() const override { return classes_; }
  int64_t label(int64_t index) const override { return labels_.at(static_cast<size_t>(index)); }
  std::string source(int64_t index) const override { return files_.at(static_cast<size_t>(index)); }
  cv::Mat image(int64_t index) const override { return image::read_rgb(source(index)); }

 private:
  std::vector<std::string> classes_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
};

// A folder's identity, so that a symbolic link back to a folder being walked is seen.
struct FolderId {
  dev_t device;
  ino_t inode;
  bool operator==(const FolderId& o) const { return device == o.device && inode == o.inode; }
};

FolderId folder_id(const fs::path& folder) {
  struct stat info {};
  IIS_CHECK_HINT(::stat(folder.c_str(), &info) == 0, "cannot read " << folder.string(),
                 "check the folder's permissions");
  return {info.st_dev, info.st_ino};
}

// A name written one per line into paths.txt and manifests: a newline would split it.
void check_name(const fs::path& path) {
  IIS_CHECK_HINT(!core::has_control_character(path.filename().string()),
                 "dataset name with a control character: " << core::escape_control(path.string()),
                 "rename it: names are written one per line into the outputs");
}

// Appends the image files under `dir` (recursively, links followed) as (folder, name)
// pairs. `ancestors` holds the folders from the root down to `dir`: a link leading back to
// one of them is a loop, refused with its path (it would otherwise be walked forever).
void walk_images(const fs::path& dir, std::vector<FolderId>& ancestors,
                 std::vector<std::pair<std::string, std::string>>& found) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    std::error_code file_ec;
    if (it->is_directory(file_ec)) {
      const FolderId id = folder_id(p);
      IIS_CHECK_HINT(
          std::find(ancestors.begin(), ancestors.end(), id) == ancestors.end(),
          "symbolic link loop in the dataset: " << p.string() << " leads back to a folder above it",
          "remove the link, or replace it by the folders it should add");
      check_name(p);
      ancestors.push_back(id);
      walk_images(p, ancestors, found);
      ancestors.pop_back();
    } else if (has_image_extension(p)) {
      check_name(p);
      found.emplace_back(p.parent_path().string(), p.filename().string());
    }
  }
  IIS_CHECK_HINT(!ec, "cannot list " << dir.string() << ": " << ec.message(),
                 "check the folder's permissions");
}

// The image files under `class_dir`, as torchvision's make_dataset lists them:
// `for root, _, names in sorted(os.walk(class_dir, followlinks=True)): for name in
// sorted(names)`. Byte order of UTF-8 strings is Python's code-point order.
std::vector<std::string> list_images(const fs::path& root, const fs::path& class_dir) {
  std::vector<FolderId> ancestors{folder_id(root), folder_id(class_dir)};
  std::vector<std::pair<std::string, std::string>> found;  // (folder, file name)
  walk_images(class_dir, ancestors, found);
  std::sort(found.begin(), found.end());
  std::vector<std::string> files;
  files.reserve(found.size());
  for (const auto& [folder, name] : found) files.push_back((fs::path(folder) / name).string());
  return files;
}

}  // namespace

std::unique_ptr<Dataset> open_image_folder(const std::string& root) {
  std::vector<std::string> classes;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::error_code dir_ec;
    if (!entry.is_directory(dir_ec)) continue;
    check_name(entry.path());
    classes.push_back(entry.path().filename().string());
  }
  IIS_CHECK_HINT(!ec, "cannot list dataset folder " << root << ": " << ec.message(),
                 "check the folder's permissions");
  IIS_CHECK_HINT(!classes.empty(), "dataset folder " << root << " has no class sub-folders",
                 "an ImageFolder root holds one sub-folder per class (root/<class>/<image>); "
                 "if these are the images of one class, pass the folder above it");
  std::sort(classes.begin(), classes.end());
  std::vector<std::string> files;
  std::vector<int64_t> labels;
  std::vector<std::string> empty;
  for (size_t c = 0; c < classes.size(); ++c) {
    std::vector<std::string> class_files = list_images(root, fs::path(root) / classes[c]);
    if (class_files.empty()) empty.push_back(classes[c]);
    files.insert(files.end(), class_files.begin(), class_files.end());
    labels.insert(labels.end(), class_files.size(), static_cast<int64_t>(c));
  }
  IIS_CHECK_HINT(!files.empty(), "dataset folder " << root << " has no images",
                 "images need one of the extensions jpg, jpeg, png, bmp, webp, tif, tiff");
  if (!empty.empty()) {
    std::string names;
    for (const auto& name : empty) names += (names.empty() ? "" : ", ") + name;
    // Kept as classes so that labels stay those of torchvision's ImageFolder order.
    core::log_info("warning: " + std::to_string(empty.size()) +
                   " class folder(s) without images (kept as classes): " + names);
  }
  return std::make_unique<ImageFolder>(std::move(classes), std::move(files), std::move(labels));
}

}  // namespace iis::data::detail
