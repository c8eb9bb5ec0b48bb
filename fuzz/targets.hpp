// The parsers' fuzz targets: each feeds bytes through the entry point the tool uses. Shared by
// the libFuzzer binaries (fuzz/CMakeLists.txt) and the corpus replay test of every build.
#pragma once

#include <cstddef>
#include <cstdint>

#include "iis/core/error.hpp"

namespace iis::fuzz {

// Each target parses `data` as its kind of input. A user error (iis::Error) is an expected
// outcome and is swallowed; anything else escapes and is a finding: another exception (a
// broken round trip throws std::logic_error), a crash, or a sanitizer report.
void npy_input(const uint8_t* data, size_t size);         // a .npy file: the three loaders
void idx_input(const uint8_t* data, size_t size);         // IDX images + labels, see idx_target.cpp
void run_config_input(const uint8_t* data, size_t size);  // an `iis run` YAML config
void preprocess_yaml_input(const uint8_t* data, size_t size);  // a preprocessing YAML
void score_results_input(const uint8_t* data, size_t size);    // a results.json for `iis score`

// Runs `body`, swallowing iis::Error (the contract of every parser for bad input).
template <typename F>
void allowing_user_errors(F&& body) {
  try {
    body();
  } catch (const iis::Error&) {
  }
}

}  // namespace iis::fuzz
