// Entry point of the `iis` tool: parses the command line, runs one subcommand, and turns
// errors into one line plus a hint and a non-zero exit.
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "commands.hpp"
#include "iis/core/error.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/threads.hpp"

namespace {

// LibTorch's OpenMP threads spin between parallel regions by default. On a machine shared
// with other work (or beside OpenBLAS's own pool) the spinning steals the cores the work
// needs: `iis fit` with end2end concepts ran 1.7–3.3× slower in wall time beside another
// busy process. libgomp reads OMP_WAIT_POLICY only when it is loaded, so the tool sets it
// and starts itself again; a policy the user set is kept.
void prefer_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: go on with the default
}

// Tensors of tens of megabytes are made and freed every batch (scores of a validation chunk,
// products); above glibc's default threshold each one is a fresh mmap whose pages fault in
// again. Keeping them in the heap made an end2end sweep 1.6-1.9x faster.
void keep_large_blocks_in_heap() {
  ::mallopt(M_MMAP_THRESHOLD, 1 << 30);
  ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp(argv);
  keep_large_blocks_in_heap();
  using namespace iis;
  CLI::App root{"iis: the Inherent Interpretability Score of vision representations"};
  root.require_subcommand(1);
  root.fallthrough();
  int threads = 0;
  bool quiet = false, plain = false;
  root.add_option("--threads", threads, "CPU threads for LibTorch and OpenCV (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  root.add_flag("--quiet", quiet, "No progress bars or log lines");
  root.add_flag("--plain-progress", plain,
                "Log lines instead of a progress bar, even on a terminal");

  tool::Commands commands;
  tool::add_version_command(root, commands);
  tool::add_elements_command(root, commands);
  tool::add_superpixels_command(root, commands);
  tool::add_pretrain_command(root, commands);
  tool::add_report_command(root, commands);
  tool::add_run_command(root, commands);
  tool::add_embed_command(root, commands);
  tool::add_merge_command(root, commands);
  tool::add_preprocess_command(root, commands);
  tool::add_kmeans_command(root, commands);
  tool::add_fit_command(root, commands);
  tool::add_score_command(root, commands);

  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return root.exit(e);
  }
  try {
    core::set_threads(threads);
    core::set_progress_mode(quiet   ? core::ProgressMode::Quiet
                            : plain ? core::ProgressMode::Plain
                                    : core::ProgressMode::Auto);
    for (auto& command : commands) {
      if (command.app->parsed()) command.run();
    }
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    if (!e.hint().empty()) std::cerr << "hint: " << e.hint() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n"
              << "hint: this is unexpected; please report it with the command line\n";
    return 2;
  }
  return 0;
}
