// Every seeded draw of the project: one generator made for a (seed, purpose), and one
// counter-based stream for noise drawn in parallel. The same numbers on every machine.
#pragma once

#include <torch/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <utility>
#include <vector>

namespace iis::core {

// A seed for one purpose of a run's seed (e.g. "shuffle" of epoch 3): FNV-1a over the seed,
// the name and the index, so the streams of different purposes never coincide.
uint64_t derive_seed(uint64_t seed, const char* purpose, uint64_t index = 0);

// How 64 random bits become an integer in [0, n). The mappings give different numbers for the
// same bits; each caller keeps the one its results were first drawn with, so that no result
// changes (a seed names the same sample, permutation or initial weights in every version).
enum class IndexMap {
  Exact,          // rejection of the incomplete top range, then modulo: exactly uniform
  MultiplyShift,  // (bits · n) >> 64: bias below n / 2^64
  Modulo,         // bits mod n: bias below n / 2^64
  Scaled,         // min(n − 1, ⌊uniform() · n⌋), from 53 bits
};

// The project's seeded generator: a 64-bit Mersenne twister, whose sequence the C++ standard
// fixes (std::uniform_*_distribution and std::shuffle are implementation-defined, so every
// conversion of its bits is written out here).
class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  // The generator of one purpose of `seed`: SeededRandom(derive_seed(seed, purpose, index)).
  SeededRandom(uint64_t seed, const char* purpose, uint64_t index = 0)
      : engine_(derive_seed(seed, purpose, index)) {}

  uint64_t bits() { return engine_(); }      // the next 64 bits
  double uniform();                          // in [0, 1): 53 bits
  double uniform_open();                     // in (0, 1): 53 bits, centred in their step
  uint64_t index(uint64_t n, IndexMap map);  // in [0, n), n ≥ 1

  // A permutation of 0..n−1: Fisher–Yates from the last entry down.
  std::vector<int64_t> permutation(int64_t n, IndexMap map);

  // Partial Fisher–Yates from the front: items[0, count) become a uniform sample of `items`
  // in draw order (the rest holds what was not drawn).
  template <typename T>
  void sample_front(std::vector<T>& items, size_t count, IndexMap map) {
    for (size_t i = 0; i < count; ++i) std::swap(items[i], items[i + index(items.size() - i, map)]);
  }

  // A CPU float32 tensor of `shape` from N(0, std²) truncated to ±2·std (redrawn outside):
  // Box–Muller on uniform_open(), one value per pair.
  torch::Tensor truncated_normal(const std::vector<int64_t>& shape, double std);

 private:
  std::mt19937_64 engine_;
};

// The permutation of heads' shuffles, hold-out splits and concept samples:
// SeededRandom(seed).permutation(n, IndexMap::MultiplyShift).
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

// SeededRandom(seed).truncated_normal(shape, std): the heads' initial weights.
torch::Tensor truncated_normal(const std::vector<int64_t>& shape, double std, uint64_t seed);

// Runs `build` with LibTorch's global CPU generator seeded with `seed`, then gives the caller's
// generator state back (also when `build` throws). LibTorch's modules draw their initial weights
// from that generator, LibTorch's own algorithm: a SeededRandom cannot be handed to them.
void with_torch_seed(uint64_t seed, const std::function<void()>& build);

// Counter-based stream: the index-th output of the splitmix64 sequence started at `seed`,
// computed without the ones before it. Noise drawn in parallel (a Gumbel draw of M×K values per
// training batch) needs this: a sequential generator would make the numbers depend on how the
// work is split, or serialise it.
uint64_t splitmix64_at(uint64_t seed, uint64_t index);

// The top 23 bits of `bits` as a float32 strictly inside (0, 1): (j + 0.5)·2⁻²³ is exact in
// float32, in [2⁻²⁴, 1 − 2⁻²⁴], so −log(−log u) is always finite. (24 bits would round the
// largest draw up to 1.0.)
float uniform_open01(uint64_t bits);

// A CPU float32 tensor of `shape` whose entry i (flat) is uniform_open01(splitmix64_at(seed, i)),
// filled in parallel: the same numbers for any thread count.
torch::Tensor counter_uniform(const std::vector<int64_t>& shape, uint64_t seed);

}  // namespace iis::core
