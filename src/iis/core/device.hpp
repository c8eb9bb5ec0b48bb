// The one parser of device names (--device, the config's `device:`).
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

namespace iis::core {

// The device `text` names — "cpu", "cuda" or "cuda:N" — or none for any other text. Looks only
// at the text (a config is checked where it is read); check_device also looks at the machine.
std::optional<torch::Device> parse_device(const std::string& text);

// parse_device, then checks that the device exists here (CUDA available, N below
// the number of visible GPUs); throws iis::Error naming `flag` (e.g. "--device") otherwise.
torch::Device check_device(const std::string& text, const std::string& flag = "--device");

}  // namespace iis::core
