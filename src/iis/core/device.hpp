// The one parser of device names (--device, the config's `device:`).
#pragma once

#include <torch/torch.h>

#include <string>

namespace iis::core {

// Parses "cpu", "cuda" or "cuda:N" and checks the device exists here (CUDA available, N below
// the number of visible GPUs); throws iis::Error naming `flag` (e.g. "--device") otherwise.
torch::Device check_device(const std::string& text, const std::string& flag = "--device");

}  // namespace iis::core
