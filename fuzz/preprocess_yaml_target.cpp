// Fuzz target: the bytes as a preprocessing YAML (--preprocess-yaml, a backbone's YAML) over
// the imagenet preset; settings it accepts must survive preprocess_yaml and a second reading.
#include <stdexcept>
#include <string>

#include "fuzz/targets.hpp"
#include "iis/image/preprocess.hpp"

namespace iis::fuzz {
namespace {

bool same_settings(const image::Preprocess& a, const image::Preprocess& b) {
  return a.preset == b.preset && a.resize_size == b.resize_size && a.crop_size == b.crop_size &&
         a.interpolation == b.interpolation && a.mean == b.mean && a.std == b.std &&
         a.channels == b.channels;
}

}  // namespace

void preprocess_yaml_input(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  allowing_user_errors([&] {
    image::Preprocess p;
    image::apply_preprocess_yaml(p, text, "fuzz.yaml");
    p.describe();
    image::preprocessed_shape(p, 375, 500);
    image::Preprocess again;
    image::apply_preprocess_yaml(again, image::preprocess_yaml(p), "its own YAML");
    if (!same_settings(p, again))
      throw std::logic_error("preprocess_yaml then apply_preprocess_yaml changed the settings");
  });
}

}  // namespace iis::fuzz
