// Shared test helpers: a fresh temporary folder per test, the paths of the sources and the tool.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"

namespace iis::test {

// A unique empty folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("iis_test_" + std::to_string(rd()) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { iis::core::remove_tree(path_.string()); }
  std::string str() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string source_dir() { return IIS_SOURCE_DIR; }
#ifdef IIS_TOOL
inline std::string tool_path() { return IIS_TOOL; }
#endif

// The message of the iis::Error thrown by `body`, or "" if none was thrown.
template <typename F>
std::string error_of(F&& body) {
  try {
    body();
  } catch (const iis::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace iis::test

// EXPECT_IIS_ERROR(statement, "substring"): the statement throws iis::Error whose message
// contains the substring.
#define EXPECT_IIS_ERROR(statement, substring)                                                     \
  do {                                                                                             \
    std::string iis_what_ = ::iis::test::error_of([&] { statement; });                             \
    EXPECT_NE(iis_what_.find(substring), std::string::npos)                                        \
        << "expected an iis::Error containing '" << (substring) << "', got '" << iis_what_ << "'"; \
  } while (0)
