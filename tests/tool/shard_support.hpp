// Helpers of the tool's tests of sharded runs (tool_test.cpp, mpi_test.cpp): a small image
// folder, the bytes of what a run wrote, and a command line that sees no launcher.
#pragma once

#include <filesystem>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "iis/core/files.hpp"
#include "test_support.hpp"

namespace iis::test {

// ROOT/<a|b>/img<k>.png: `count` grey 28×28 noise images (what the native backbones take),
// alternating between two classes, the same for a given count.
inline void make_grey_images(const std::string& root, int count) {
  for (int k = 0; k < count; ++k) {
    const std::string folder = root + (k % 2 == 0 ? "/a" : "/b");
    std::filesystem::create_directories(folder);
    cv::Mat image(28, 28, CV_8UC1);
    cv::theRNG().state = static_cast<uint64_t>(1000 + k);
    cv::randu(image, 0, 255);
    cv::imwrite(folder + "/img" + std::to_string(k) + ".png", image);
  }
}

// Every file under `dir` with its bytes, and every folder (as "<name>/"), but the files named
// `except` (timings).
inline std::map<std::string, std::string> folder_bytes(const std::string& dir,
                                                       const std::string& except) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string name = std::filesystem::relative(e.path(), dir).string();
    if (e.is_directory()) {
      files[name + "/"] = "";
    } else if (e.path().filename() != except) {
      files[name] = core::read_text(e.path().string());
    }
  }
  return files;
}

// `env -u` for every variable a launcher sets (core/launcher.cpp), so that a command run by a
// test sees none, whatever launched the test itself.
inline std::string without_launcher() {
  std::string command = "env";
  for (const char* name :
       {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "PMI_RANK",
        "PMI_SIZE", "MPI_LOCALRANKID", "RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID",
        "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP"}) {
    command += std::string(" -u ") + name;
  }
  return command;
}

}  // namespace iis::test
