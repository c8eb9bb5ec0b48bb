// `iis preprocess`: dumps the model input `iis embed` would build for some images (.npy).
#include <iostream>

#include "commands.hpp"
#include "iis/embed/embed.hpp"
#include "preprocess_flags.hpp"

namespace iis::tool {

void add_preprocess_command(CLI::App& root, Commands& commands) {
  auto* app = root.add_subcommand(
      "preprocess",
      "Write the preprocessed input of image files as one .npy (N×C×H×W float32, or N×H×W×C "
      "uint8 before scaling with --uint8), for checking against torchvision");
  auto options = std::make_shared<embed::PreprocessDumpOptions>();
  app->add_option("images", options->images, "image files")->required();
  app->add_option("--out", options->out, "output .npy file")->required();
  app->add_option("--backbone", options->backbone, "take the settings recorded with this backbone");
  app->add_flag("--uint8", options->uint8, "the 8-bit image after resize and crop, before scaling");
  add_preprocess_flags(app, options->preprocess);
  commands.push_back({app, [options] {
                        embed::run_preprocess_dump(*options);
                        std::cout << "wrote " << options->out << "\n";
                      }});
}

}  // namespace iis::tool
