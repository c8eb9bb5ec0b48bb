// Checks of the output prefix of `iis embed` and `iis merge` against folders and inputs; the
// fingerprint of a backbone spec.
#include <filesystem>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
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

std::string backbone_fingerprint(const std::string& spec) {
  if (spec.rfind("native:", 0) == 0) {
    const size_t at = spec.find('@');
    if (at == std::string::npos) return core::fingerprint_text(spec);
    return core::fingerprint_text(spec.substr(0, at) + ":" +
                                  core::fingerprint_file(spec.substr(at + 1)));
  }
  // The same archive gives other features through clip: (encode_image) than as a plain
  // TorchScript file (forward).
  if (spec.rfind("clip:", 0) == 0) {
    return core::fingerprint_text("clip:" + core::fingerprint_file(spec.substr(5)));
  }
  return core::fingerprint_file(spec);
}

}  // namespace iis::embed::detail
