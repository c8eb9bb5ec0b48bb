// One seed of `iis fit`: its concepts, the joint training of its heads, the heads reported at
// each ratio, and OUT/seeds/<seed>/ (concepts, heads, seed.json).
#pragma once

#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cstdint>

#include "iis/fit/detail/inputs.hpp"
#include "iis/fit/fit.hpp"

namespace iis::fit::detail {

// Trains one seed from an empty OUT/seeds/<seed>/, writes it, and returns its seed.json.
// `settings`: the seed's settings, recorded so that a later run reuses only a matching seed.
nlohmann::json run_seed(const FitOptions& options, const Inputs& in, uint64_t seed,
                        torch::Device device, const nlohmann::json& settings);

}  // namespace iis::fit::detail
