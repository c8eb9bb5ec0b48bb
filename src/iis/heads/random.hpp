// Seeded randomness that is the same on every machine and LibTorch version: permutations and
// truncated-normal initial weights.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace iis::heads {

// A seeded permutation of 0..n-1 (Fisher–Yates on a 64-bit Mersenne twister).
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

// A seed derived from a base seed and a stream name (e.g. "shuffle", epoch 3), so streams
// used for different purposes never coincide.
uint64_t derive_seed(uint64_t seed, const char* stream, uint64_t index = 0);

// A CPU float32 tensor of `shape` drawn from N(0, std²) truncated to ±2·std (redrawn).
torch::Tensor truncated_normal(const std::vector<int64_t>& shape, double std, uint64_t seed);

}  // namespace iis::heads
