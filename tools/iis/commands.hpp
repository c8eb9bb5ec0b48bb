// Registry of subcommands: each tools/iis/commands/<name>.cpp adds one and says what runs it.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace iis::tool {

// A parsed subcommand and the function that runs it once options are bound.
struct Command {
  CLI::App* app;
  std::function<void()> run;
};

using Commands = std::vector<Command>;

// Prints the versions of iis, LibTorch and OpenCV and whether CUDA is available
// (`iis version`, `iis --version`).
void print_version();

void add_version_command(CLI::App& root, Commands& commands);
void add_elements_command(CLI::App& root, Commands& commands);
void add_superpixels_command(CLI::App& root, Commands& commands);
void add_pretrain_command(CLI::App& root, Commands& commands);
void add_finetune_command(CLI::App& root, Commands& commands);
void add_report_command(CLI::App& root, Commands& commands);
void add_run_command(CLI::App& root, Commands& commands);
void add_embed_command(CLI::App& root, Commands& commands);
void add_embed_text_command(CLI::App& root, Commands& commands);
void add_merge_command(CLI::App& root, Commands& commands);
void add_preprocess_command(CLI::App& root, Commands& commands);
void add_kmeans_command(CLI::App& root, Commands& commands);
void add_fit_command(CLI::App& root, Commands& commands);
void add_score_command(CLI::App& root, Commands& commands);
void add_predict_command(CLI::App& root, Commands& commands);
void add_explain_command(CLI::App& root, Commands& commands);
void add_tokenize_command(CLI::App& root, Commands& commands);

}  // namespace iis::tool
