// Fuzz target: the bytes as the YAML config of `iis run`, parsed and validated.
#include <string>

#include "fuzz/targets.hpp"
#include "iis/pipeline/config.hpp"

namespace iis::fuzz {

void run_config_input(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  allowing_user_errors([&] { pipeline::parse_run_config(text, "fuzz.yaml"); });
}

}  // namespace iis::fuzz
