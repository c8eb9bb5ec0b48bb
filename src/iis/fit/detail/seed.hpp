// One seed of `iis fit`: its concepts, the joint training of its heads, the heads reported at
// each ratio, and OUT/seeds/<seed>/ (concepts, heads, seed.json).
#pragma once

#include <torch/types.h>

#include <cstdint>

#include "iis/fit/detail/inputs.hpp"
#include "iis/fit/fit.hpp"
#include "iis/results/results.hpp"

namespace iis::fit::detail {

// Trains one seed from an empty OUT/seeds/<seed>/, writes it, and returns its seed.json record.
// `settings`: the seed's settings, recorded so that a later run reuses only a matching seed.
results::SeedResults run_seed(const FitOptions& options, const Inputs& in, uint64_t seed,
                              torch::Device device, const results::FitSettings& settings);

}  // namespace iis::fit::detail
