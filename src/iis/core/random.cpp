// The project's seeded generator and counter-based stream (random.hpp).
#include "iis/core/random.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "iis/core/parallel.hpp"

namespace iis::core {

uint64_t derive_seed(uint64_t seed, const char* purpose, uint64_t index) {
  uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](uint64_t v) {
    for (int b = 0; b < 8; ++b) {
      h ^= (v >> (8 * b)) & 0xff;
      h *= 1099511628211ULL;
    }
  };
  mix(seed);
  for (const char* c = purpose; *c; ++c) mix(static_cast<unsigned char>(*c));
  mix(index);
  return h;
}

double SeededRandom::uniform() { return static_cast<double>(bits() >> 11) * 0x1.0p-53; }

double SeededRandom::uniform_open() {
  return (static_cast<double>(bits() >> 11) + 0.5) * 0x1.0p-53;
}

uint64_t SeededRandom::index(uint64_t n, IndexMap map) {
  switch (map) {
    case IndexMap::Exact: {
      const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
      uint64_t v;
      do v = bits();
      while (v >= limit);
      return v % n;
    }
    case IndexMap::MultiplyShift:
      return static_cast<uint64_t>((static_cast<unsigned __int128>(bits()) * n) >> 64);
    case IndexMap::Modulo:
      return bits() % n;
    case IndexMap::Scaled:
      return std::min<uint64_t>(n - 1, static_cast<uint64_t>(uniform() * static_cast<double>(n)));
  }
  return 0;
}

std::vector<int64_t> SeededRandom::permutation(int64_t n, IndexMap map) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(p[i], p[index(static_cast<uint64_t>(i) + 1, map)]);
  }
  return p;
}

torch::Tensor SeededRandom::truncated_normal(const std::vector<int64_t>& shape, double std) {
  auto out = torch::empty(shape, torch::kFloat32);
  float* p = out.data_ptr<float>();
  for (int64_t i = 0; i < out.numel(); ++i) {
    double z;
    do {  // Box–Muller, one value per pair; redraw outside ±2.
      z = std::sqrt(-2.0 * std::log(uniform_open())) * std::cos(2.0 * M_PI * uniform_open());
    } while (std::fabs(z) > 2.0);
    p[i] = static_cast<float>(z * std);
  }
  return out;
}

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  return SeededRandom(seed).permutation(n, IndexMap::MultiplyShift);
}

torch::Tensor truncated_normal(const std::vector<int64_t>& shape, double std, uint64_t seed) {
  return SeededRandom(seed).truncated_normal(shape, std);
}

void with_torch_seed(uint64_t seed, const std::function<void()>& build) {
  auto generator = at::detail::getDefaultCPUGenerator();
  const torch::Tensor saved_state = generator.get_state();
  torch::manual_seed(seed);
  try {
    build();
  } catch (...) {
    generator.set_state(saved_state);
    throw;
  }
  generator.set_state(saved_state);
}

uint64_t splitmix64_at(uint64_t seed, uint64_t index) {
  uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

float uniform_open01(uint64_t bits) { return (static_cast<float>(bits >> 41) + 0.5f) * 0x1.0p-23f; }

torch::Tensor counter_uniform(const std::vector<int64_t>& shape, uint64_t seed) {
  auto u = torch::empty(shape, torch::kFloat32);
  float* p = u.data_ptr<float>();
  parallel_for(0, u.numel(), /*grain=*/32768, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      p[i] = uniform_open01(splitmix64_at(seed, static_cast<uint64_t>(i)));
    }
  });
  return u;
}

}  // namespace iis::core
