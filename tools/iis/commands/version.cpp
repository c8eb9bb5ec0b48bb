// `iis version`: the versions of iis and of the libraries it runs on.
#include <torch/torch.h>

#include <iostream>
#include <opencv2/core/version.hpp>

#include "commands.hpp"

namespace iis::tool {

void print_version() {
  std::cout << "iis " << IIS_VERSION << "\nLibTorch " << TORCH_VERSION << "\nOpenCV " << CV_VERSION
            << "\nCUDA available: " << (torch::cuda::is_available() ? "yes" : "no") << "\n";
}

void add_version_command(CLI::App& root, Commands& commands) {
  auto* app = root.add_subcommand("version", "Print the versions of iis, LibTorch and OpenCV");
  commands.push_back({app, print_version});
}

}  // namespace iis::tool
