// Finding the shipped concept sets and class lists by name.
#include "iis/text/concept_sets.hpp"

#include <filesystem>
#include <map>

#include "iis/core/error.hpp"

namespace fs = std::filesystem;

namespace iis::text {

namespace {

// Adds the files of `folder` whose names end in `ending` to `files`, named by the file name
// without its last `cut` characters.
void add_sets(const fs::path& folder, const std::string& ending, size_t cut,
              std::map<std::string, std::string>& files) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.size() > ending.size() &&
        file.compare(file.size() - ending.size(), ending.size(), ending) == 0) {
      files[file.substr(0, file.size() - cut)] = entry.path().string();
    }
  }
}

// Name → file of every shipped set, from the first data folder that holds any (the installed
// copy, then the sources).
std::map<std::string, std::string> shipped_files() {
  for (const std::string root : {IIS_DATA_INSTALL_DIR, IIS_DATA_SOURCE_DIR}) {
    std::map<std::string, std::string> files;
    add_sets(fs::path(root) / "concepts", "_filtered.txt", /*cut=*/13, files);  // imagenet
    add_sets(fs::path(root) / "classes", "_classes.txt", /*cut=*/4, files);     // imagenet_classes
    if (!files.empty()) return files;
  }
  return {};
}

}  // namespace

std::vector<std::string> shipped_text_sets() {
  std::vector<std::string> names;
  for (const auto& [name, file] : shipped_files()) names.push_back(name);
  return names;
}

std::string resolve_text_set(const std::string& name_or_path, const std::string& flag) {
  std::error_code ec;
  if (fs::is_regular_file(name_or_path, ec)) return name_or_path;
  const auto files = shipped_files();
  const auto found = files.find(name_or_path);
  if (found != files.end()) return found->second;
  std::string names;
  for (const auto& [name, file] : files) names += (names.empty() ? "" : ", ") + name;
  IIS_FAIL(flag << " " << name_or_path << " is neither a file nor a shipped set",
           "give a text file, one concept a line, or one of: "
               << (names.empty() ? std::string("(no shipped sets found)") : names));
}

}  // namespace iis::text
