// The one parser of device names (--device, the config's `device:`).
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

#include "iis/core/launcher.hpp"

namespace iis::core {

// The device `text` names — "cpu", "cuda" or "cuda:N" — or none for any other text. Looks only
// at the text (a config is checked where it is read); check_device also looks at the machine.
std::optional<torch::Device> parse_device(const std::string& text);

// parse_device, then checks that the device exists here (CUDA available, N below
// the number of visible GPUs); throws iis::Error naming `flag` (e.g. "--device") otherwise.
// Also takes "cuda:auto", one GPU per process under a launcher: cuda:<auto_cuda_index> of this
// process's environment, logged with the variable read.
torch::Device check_device(const std::string& text, const std::string& flag = "--device");

// The GPU "cuda:auto" names among `visible` (>= 1) GPUs: the node-local rank (local_rank(env))
// modulo `visible`, so that the processes on a node spread over its GPUs (and a process that
// sees one GPU, as Slurm's per-task binding leaves it, takes that one). `source` receives what
// was read, for the log.
int64_t auto_cuda_index(const Environment& env, int64_t visible, std::string& source);

}  // namespace iis::core
