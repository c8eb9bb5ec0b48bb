// Command-line flags of the preprocessing settings, shared by `iis embed` and `iis preprocess`.
#pragma once

#include <CLI/CLI.hpp>

#include "iis/embed/embed.hpp"

namespace iis::tool {

inline void add_preprocess_flags(CLI::App* app, embed::PreprocessFlags& flags) {
  app->add_option("--preset", flags.preset,
                  "imagenet (torchvision eval: resize 256, crop 224, ImageNet mean/std), clip "
                  "(CLIP's: resize 224 bicubic, crop 224, CLIP's mean/std) or none (scale to "
                  "[0,1] only); default: the YAML beside the backbone, a clip: backbone's "
                  "resolution, else imagenet")
      ->check(CLI::IsMember({"imagenet", "clip", "none"}));
  app->add_option("--preprocess-yaml", flags.yaml,
                  "YAML of preprocessing keys (val_resize_size, val_crop_size, interpolation, "
                  "mean, std, channels) applied over the preset");
  app->add_option("--resize-size", flags.resize_size, "shorter side after resizing (0 = no resize)")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--crop-size", flags.crop_size, "centre crop side (0 = no crop)")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--interpolation", flags.interpolation, "bilinear, bicubic or nearest");
  app->add_option("--mean", flags.mean, "per-channel mean, e.g. --mean 0.485 0.456 0.406")
      ->expected(1, 3);
  app->add_option("--std", flags.std, "per-channel std, e.g. --std 0.229 0.224 0.225")
      ->expected(1, 3);
  app->add_flag("--no-normalize", flags.no_normalize, "scale to [0,1] without mean/std");
  app->add_option("--channels", flags.channels, "1 (grey, PIL's convert('L')) or 3 (RGB)");
}

}  // namespace iis::tool
