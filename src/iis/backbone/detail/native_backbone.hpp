// Native C++ models (iis/models) behind the Backbone interface.
#pragma once

#include <memory>
#include <string>

#include "iis/backbone/backbone.hpp"

namespace iis::backbone::detail {

// Opens "native:<arch>@<checkpoint.pt>" (a trained model; its architecture must be <arch>)
// or "native:<arch>" (untrained, seed 0). Throws iis::Error naming the spec.
std::unique_ptr<Backbone> open_native_backbone(const std::string& spec, torch::Device device);

}  // namespace iis::backbone::detail
