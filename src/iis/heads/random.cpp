// Seeded permutations and truncated-normal draws.
#include "iis/heads/random.hpp"

#include <torch/torch.h>

#include <cmath>
#include <random>

namespace iis::heads {

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    // Multiply-shift maps a 64-bit draw onto [0, i] with negligible bias for i ≪ 2^64.
    auto j = static_cast<int64_t>((static_cast<unsigned __int128>(rng()) * (i + 1)) >> 64);
    std::swap(p[i], p[j]);
  }
  return p;
}

uint64_t derive_seed(uint64_t seed, const char* stream, uint64_t index) {
  uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](uint64_t v) {
    for (int b = 0; b < 8; ++b) {
      h ^= (v >> (8 * b)) & 0xff;
      h *= 1099511628211ULL;
    }
  };
  mix(seed);
  for (const char* c = stream; *c; ++c) mix(static_cast<unsigned char>(*c));
  mix(index);
  return h;
}

torch::Tensor truncated_normal(const std::vector<int64_t>& shape, double std, uint64_t seed) {
  auto out = torch::empty(shape, torch::kFloat32);
  float* p = out.data_ptr<float>();
  std::mt19937_64 rng(seed);
  auto uniform = [&rng] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };
  for (int64_t i = 0; i < out.numel(); ++i) {
    double z;
    do {  // Box–Muller, one value per pair; redraw outside ±2.
      z = std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * M_PI * uniform());
    } while (std::fabs(z) > 2.0);
    p[i] = static_cast<float>(z * std);
  }
  return out;
}

}  // namespace iis::heads
