// Entry point of the `iis` tool: parses the command line, runs one subcommand, and turns
// errors into one line plus a hint and a non-zero exit.
//
// Exit codes (also in the README, "Common options", and at the end of `iis --help`):
//   0  the command did its work (and `--help`, `--version`);
//   1  it could not, because of its inputs: a missing or unreadable file, bad data, a value the
//      library refuses (an iis::Error);
//   2  the command line is wrong: an unknown flag, a missing required flag or argument, a value
//      the parser refuses; nothing was read or written;
//   3  an unexpected error: a bug, to be reported with the command line.
// The launcher (launcher.cpp) exits 127 when it cannot start the tool.
#include <malloc.h>

#include <cstdlib>
#include <iostream>
#include <limits>

#include "commands.hpp"
#include "iis/core/error.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/threads.hpp"
#include "iis/image/decode.hpp"
#include "report_error.hpp"

namespace {

// Tensors of tens of megabytes are made and freed every batch (scores of a validation chunk,
// products); above glibc's default threshold each one is a fresh mmap whose pages fault in
// again. Keeping them in the heap made an end2end sweep 1.6-1.9x faster.
void keep_large_blocks_in_heap() {
  ::mallopt(M_MMAP_THRESHOLD, 1 << 30);
  ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

// `iis` and the subcommand being parsed when the command line went wrong ("iis fit").
std::string command_path(const CLI::App& root) {
  std::string path = "iis";
  for (const CLI::App* app = &root; !app->get_subcommands().empty();) {
    app = app->get_subcommands().back();
    path += " " + app->get_name();
  }
  return path;
}

// A command-line error reads as every other error: one `error:` line and a `hint:` line naming
// the help to read, on stderr. `--help` (exit code 0 in CLI11) still prints its help.
int command_line_error(const CLI::App& root, const CLI::ParseError& e) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return root.exit(e);
  const std::string command = command_path(root);
  std::cerr << "error: " << e.what() << "\nhint: see `" << command << " --help`";
  // The error may concern an option given before the subcommand (--threads, ...).
  if (command != "iis") std::cerr << ", and `iis --help` for the options every command takes";
  std::cerr << "\n";
  return iis::tool::kExitUsageError;
}

}  // namespace

int main(int argc, char** argv) {
  keep_large_blocks_in_heap();
  using namespace iis;
  CLI::App root{"iis: the Inherent Interpretability Score of vision representations"};
  root.footer(
      "Exit codes: 0 done; 1 an input error (a missing file, bad data); 2 a command-line error; "
      "3 an unexpected error (please report it)");
  root.require_subcommand(0, 1);  // none only with --version (checked after parsing)
  root.fallthrough();
  int threads = 0;
  int64_t max_image_pixels = 0;
  bool quiet = false, plain = false, version = false;
  root.add_flag("--version", version, "Print the versions (as `iis version`) and exit");
  root.add_option("--max-image-pixels", max_image_pixels,
                  "Refuse images with more pixels, from their header (decompression bombs; "
                  "peak memory grows with this times the worker threads; default 89478485, "
                  "PIL's limit)")
      ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max(), "NONNEGATIVE"));
  root.add_option("--threads", threads, "CPU threads for LibTorch and OpenCV (default: all cores)")
      ->check(CLI::Range(0, std::numeric_limits<int>::max(), "NONNEGATIVE"));
  root.add_flag("--quiet", quiet, "No progress bars or log lines");
  root.add_flag("--plain-progress", plain,
                "Log lines instead of a progress bar, even on a terminal");

  tool::Commands commands;
  tool::add_version_command(root, commands);
  tool::add_elements_command(root, commands);
  tool::add_superpixels_command(root, commands);
  tool::add_pretrain_command(root, commands);
  tool::add_finetune_command(root, commands);
  tool::add_report_command(root, commands);
  tool::add_run_command(root, commands);
  tool::add_embed_command(root, commands);
  tool::add_embed_text_command(root, commands);
  tool::add_merge_command(root, commands);
  tool::add_preprocess_command(root, commands);
  tool::add_kmeans_command(root, commands);
  tool::add_fit_command(root, commands);
  tool::add_score_command(root, commands);
  tool::add_predict_command(root, commands);
  tool::add_explain_command(root, commands);
  tool::add_tokenize_command(root, commands);

  try {
    root.parse(argc, argv);
    if (version) {
      tool::print_version();
      return 0;
    }
    if (root.get_subcommands().empty()) throw CLI::RequiredError("A subcommand");
  } catch (const CLI::ParseError& e) {
    return command_line_error(root, e);
  }
  try {
    core::set_threads(threads);
    image::set_max_image_pixels(static_cast<uint64_t>(max_image_pixels));
    core::set_progress_mode(quiet   ? core::ProgressMode::Quiet
                            : plain ? core::ProgressMode::Plain
                                    : core::ProgressMode::Auto);
    for (auto& command : commands) {
      if (command.app->parsed()) command.run();
    }
  } catch (...) {
    return tool::report_error(std::current_exception(), std::cerr);
  }
  return 0;
}
