// The inputs of `iis fit`: the five (or six) .npy files read, checked against each other and
// described by their fingerprints.
#pragma once

#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "iis/fit/fit.hpp"
#include "iis/results/results.hpp"

namespace iis::fit::detail {

struct Inputs {
  torch::Tensor train_x, train_y, val_x, val_y, elements, element_labels;
  int64_t num_classes = 0;
  std::map<std::string, results::InputFile> files;  // by input name: path, fingerprint, shape
  std::string key;                                  // one fingerprint over every input file
};

// Reads every input (or takes it from `arrays`) and checks shapes, label ranges and the class
// count (throws iis::Error naming the flag and file); writes nothing.
Inputs load_inputs(const FitOptions& options, const FitArrays& arrays);

}  // namespace iis::fit::detail
