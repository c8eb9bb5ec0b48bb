// `iis elements`: concept candidates (superpixel segments or grid patches) cut from a dataset.
#include <iostream>
#include <map>

#include "commands.hpp"
#include "iis/elements/elements.hpp"

namespace iis::tool {

void add_elements_command(CLI::App& root, Commands& commands) {
  auto* app = root.add_subcommand(
      "elements",
      "Cut visual elements (SLIC segments or grid patches) from images: "
      "DIR/<class>/<stem>_<i>.png, "
      "DIR/manifest.jsonl, DIR/labels.npy (int64 class per element), DIR/skipped.txt; resumable");
  auto o = std::make_shared<elements::ElementsOptions>();
  auto shard = std::make_shared<std::string>();
  app->add_option("--data", o->data,
                  "ImageFolder folder or IDX images file (…-images-idx3-ubyte[.gz])")
      ->required();
  app->add_option("--kind", o->kind, "segments (SLIC superpixels) or patches (grid cells)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, elements::ElementKind>{
              {"segments", elements::ElementKind::Segments},
              {"patches", elements::ElementKind::Patches}},
          CLI::ignore_case))
      ->required();
  app->add_option("--out", o->out, "output folder DIR")->required();
  app->add_option("--images-per-class", o->images_per_class, "images used per class (0 = all)")
      ->capture_default_str();
  app->add_option("--image-select", o->select,
                  "first (in sorted order, default) or random (seeded)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, elements::ImageSelect>{{"first", elements::ImageSelect::First},
                                                       {"random", elements::ImageSelect::Random}},
          CLI::ignore_case));
  app->add_option("--seed", o->seed, "seed of --image-select random")->capture_default_str();
  app->add_option("--scales", o->scales, "segments: SLIC n_segments per scale")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--compactness", o->compactness, "segments: SLIC compactness")
      ->capture_default_str();
  app->add_option("--sigma", o->sigma, "segments: SLIC Gaussian pre-smoothing")
      ->capture_default_str();
  app->add_option("--masks-per-scale", o->masks_per_scale,
                  "segments: at most this many masks per scale")
      ->capture_default_str();
  app->add_option("--min-area", o->min_area,
                  "segments: masks covering <= this fraction of the image are skipped")
      ->capture_default_str();
  app->add_option("--jaccard", o->jaccard,
                  "segments: masks overlapping an accepted one by Jaccard > this are skipped")
      ->capture_default_str();
  app->add_option("--fill", o->fill, "segments: grey value outside the mask")
      ->capture_default_str();
  app->add_option("--grid", o->grid, "patches: grid×grid cells")->capture_default_str();
  app->add_option("--patch-size", o->patch_size, "patches: side of each resized cell")
      ->capture_default_str();
  app->add_flag("--force", o->force,
                "write into a non-empty DIR made from other inputs (its old elements are removed)");
  app->add_option("--shard", *shard,
                  "i/n: only the i-th (0-based) of n contiguous parts of the selected images, into "
                  "DIR.part<i>of<n>/; auto: i and n from mpirun, srun or torchrun; join with "
                  "iis merge");
  commands.push_back({app, [o, shard] {
                        if (!shard->empty()) {
                          elements::apply_shard(*o, *shard, core::process_environment());
                        }
                        const auto s = elements::run_elements(*o);
                        std::cout << "wrote " << s.elements << " elements from "
                                  << s.images - s.images_skipped << " of " << s.images
                                  << " images to " << s.out << " in " << s.seconds << " s";
                        if (s.images_resumed > 0) {
                          std::cout << " (" << s.images_resumed << " images done earlier)";
                        }
                        std::cout << "\n";
                        if (s.images_skipped > 0) {
                          std::cout << "skipped " << s.images_skipped
                                    << " unreadable images, listed in " << s.out
                                    << "/skipped.txt\n";
                        }
                      }});
}

}  // namespace iis::tool
