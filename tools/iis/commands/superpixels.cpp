// `iis superpixels`: the SLIC label map (.npy) or boundary overlay (.png) of one image.
#include <iostream>

#include "commands.hpp"
#include "iis/elements/superpixels.hpp"

namespace iis::tool {

void add_superpixels_command(CLI::App& root, Commands& commands) {
  auto* app = root.add_subcommand(
      "superpixels",
      "SLIC superpixels of one image (scikit-image 0.19 semantics): an int32 H×W label map "
      "(.npy, labels 0..n-1) or the image with the segment boundaries drawn in yellow (.png)");
  auto o = std::make_shared<elements::SuperpixelsOptions>();
  app->add_option("image", o->image, "input image (jpg, png, bmp, webp, tif, ...)")->required();
  app->add_option("--n-segments", o->n_segments, "approximate number of superpixels")->required();
  app->add_option("--compactness", o->compactness,
                  "weight of the spatial term against CIELAB colour")
      ->capture_default_str();
  app->add_option("--sigma", o->sigma, "Gaussian pre-smoothing in pixels, 0 = none")
      ->capture_default_str();
  app->add_option("--out", o->out, "output file: .npy (label map) or .png (overlay)")->required();
  commands.push_back({app, [o] {
                        const auto r = elements::run_superpixels(*o);
                        std::cout << "wrote " << r.segments << " superpixels of a " << r.width
                                  << "×" << r.height << " image to " << r.out << " in " << r.seconds
                                  << " s\n";
                      }});
}

}  // namespace iis::tool
