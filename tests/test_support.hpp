// Shared test helpers: a fresh temporary folder per test, the paths of the sources, the tool and
// Fashion-MNIST.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
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

// What a shell command printed on stdout and its exit status (-1 when it did not exit).
struct CommandRun {
  int status = -1;
  std::string output;
};

inline CommandRun run_command(const std::string& shell_command) {
  CommandRun run;
  FILE* pipe = ::popen(shell_command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    run.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// The folder of the Fashion-MNIST files: $IIS_FASHION_MNIST_DIR when set, else where Debian's
// dataset-fashion-mnist installs them.
inline std::string fashion_mnist_dir() {
  const char* env = std::getenv("IIS_FASHION_MNIST_DIR");
  return env != nullptr && *env != '\0' ? env : "/usr/share/datasets/fashion-mnist";
}
inline std::string fashion_mnist_file(const std::string& name) {
  return fashion_mnist_dir() + "/" + name;
}

// The first of the four Fashion-MNIST files that is missing, or "" when all are there.
inline std::string missing_fashion_mnist_file() {
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    const std::string path = fashion_mnist_file(name);
    if (!std::filesystem::exists(path)) return path;
  }
  return "";
}

// Whether a test must fail, not skip, when the data it needs is missing: IIS_REQUIRE_DATA set
// to anything but "" or "0" (CI sets it, so that a missing package cannot pass as skipped tests).
inline bool data_required() {
  const char* env = std::getenv("IIS_REQUIRE_DATA");
  return env != nullptr && std::string(env) != "" && std::string(env) != "0";
}

inline std::string missing_fashion_mnist_message(const std::string& missing) {
  return "Fashion-MNIST is missing (" + missing +
         "): install the Debian package dataset-fashion-mnist, or point IIS_FASHION_MNIST_DIR at "
         "its files";
}

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

// IIS_NEEDS_FASHION_MNIST(): first in a test (or its fixture's SetUp) that reads Fashion-MNIST.
// Without the data the test is skipped, or fails under IIS_REQUIRE_DATA=1.
#define IIS_NEEDS_FASHION_MNIST()                                               \
  do {                                                                          \
    const std::string iis_missing_ = ::iis::test::missing_fashion_mnist_file(); \
    if (!iis_missing_.empty()) {                                                \
      if (::iis::test::data_required())                                         \
        FAIL() << ::iis::test::missing_fashion_mnist_message(iis_missing_)      \
               << " (IIS_REQUIRE_DATA is set: missing data fails the test)";    \
      GTEST_SKIP() << ::iis::test::missing_fashion_mnist_message(iis_missing_); \
    }                                                                           \
  } while (0)

// EXPECT_IIS_ERROR(statement, "substring"): the statement throws iis::Error whose message
// contains the substring.
#define EXPECT_IIS_ERROR(statement, substring)                                                     \
  do {                                                                                             \
    std::string iis_what_ = ::iis::test::error_of([&] { statement; });                             \
    EXPECT_NE(iis_what_.find(substring), std::string::npos)                                        \
        << "expected an iis::Error containing '" << (substring) << "', got '" << iis_what_ << "'"; \
  } while (0)
