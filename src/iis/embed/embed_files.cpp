// Checks of the output prefix of `iis embed` and `iis merge` against folders and inputs.
#include <filesystem>

#include "iis/core/error.hpp"
#include "iis/embed/detail/embed_files.hpp"

namespace iis::embed::detail {

void check_prefix(const std::string& prefix, const std::string& flag) {
  const std::filesystem::path path(prefix);
  std::error_code ec;
  IIS_CHECK_HINT(path.has_filename() && !std::filesystem::is_directory(path, ec),
                 flag << " " << prefix << " names a folder, not a prefix of files",
                 "give a prefix such as " << (path / "train").string() << " (writes "
                                          << (path / "train").string() << ".features.npy, ...)");
}

void check_outputs_apart(const std::string& prefix, const std::string& flag,
                         const std::vector<core::NamedPath>& inputs) {
  for (const std::string& file : EmbedFiles(prefix).all()) {
    core::check_output_apart({flag, file}, inputs);
  }
}

}  // namespace iis::embed::detail
