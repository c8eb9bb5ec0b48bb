// CLIP archives (clip.hpp) behind the Backbone interface: the `clip:` spec.
#pragma once

#include <memory>
#include <string>

#include "iis/backbone/backbone.hpp"

namespace iis::backbone::detail {

// Opens "clip:<archive.pt>": embed() is the archive's encode_image, preprocess_config() the
// `clip` preset at the archive's input resolution. Throws iis::Error naming the file.
std::unique_ptr<Backbone> open_clip_backbone(const std::string& spec, torch::Device device);

}  // namespace iis::backbone::detail
