// Replays every input kept in fuzz/corpus/<target> (the fuzzers' minimised corpora and the
// inputs of fixed findings) through its fuzz target: each must parse or fail with iis::Error
// only, without crashing, in every build.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/targets.hpp"
#include "test_support.hpp"

namespace iis::fuzz {
namespace {

namespace fs = std::filesystem;
using Target = void (*)(const uint8_t*, size_t);

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs every file of corpus/<name> through `target`; returns how many there were.
size_t replay(const std::string& name, Target target) {
  const fs::path folder = fs::path(IIS_FUZZ_CORPUS_DIR) / name;
  size_t count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    const auto bytes = read_bytes(entry.path());
    try {
      target(bytes.data(), bytes.size());
    } catch (const std::exception& e) {
      ADD_FAILURE() << entry.path() << ": " << e.what() << " (not an iis::Error)";
    }
    ++count;
  }
  return count;
}

TEST(CorpusReplay, Npy) { EXPECT_GE(replay("npy", npy_input), 10u); }
TEST(CorpusReplay, Idx) { EXPECT_GE(replay("idx", idx_input), 4u); }
TEST(CorpusReplay, RunConfig) { EXPECT_GE(replay("run_config", run_config_input), 3u); }
TEST(CorpusReplay, PreprocessYaml) {
  EXPECT_GE(replay("preprocess_yaml", preprocess_yaml_input), 4u);
}
TEST(CorpusReplay, ScoreResults) { EXPECT_GE(replay("score_results", score_results_input), 1u); }

}  // namespace
}  // namespace iis::fuzz
