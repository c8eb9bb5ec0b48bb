// Fused CPU kernel of H interpretable heads: one parallel pass per batch over row chunks.
#include "iis/heads/sparse_heads.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "iis/core/error.hpp"
#include "iis/core/parallel.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#define IIS_X86_DISPATCH 1
#define IIS_INLINE inline __attribute__((always_inline))
#else
#define IIS_X86_DISPATCH 0
#define IIS_INLINE inline
#endif

namespace iis::heads {

namespace {

// Class vectors are padded to a multiple of kLanes (zeros), so their loops are fixed-width.
constexpr int64_t kLanes = 8;
int64_t padded(int64_t c) { return (c + kLanes - 1) / kLanes * kLanes; }

// Rows are cut into at most this many chunks, whatever the thread count, so that the
// gradient sums (added chunk by chunk in order) are the same on any number of threads.
constexpr int64_t kChunks = 8;

// Read-only views shared by every chunk of one call.
struct Batch {
  int64_t h_count, b_count, k, c;
  int64_t cp;           // C padded to a multiple of kLanes
  int64_t kp;           // K padded to a multiple of kLanes
  int64_t head_stride;  // 0 when the scores are shared by every head, B·K otherwise
  const float* z;
  const float* gamma;
  const float* beta;
  const float* weight_t;  // H×K×Cp (zero padding), filled for the sparse heads
  const float* weight_p;  // H×C×Kp (zero padding), filled for the dense heads
  const uint8_t* dense;   // H: 1 where the head keeps most entries (dense path)
  const float* bias;
  const int64_t* labels;
  const int64_t* positions;
  const int64_t* keep;
  ThresholdRule rule;
  const float* guess;       // H×B or null
  const float* width;       // H or null
  float* threshold;         // H×B
  float* logits = nullptr;  // H×B×C: the logits hit_rows ranks, when asked for (else null)
};

// Rows of a chunk go through the dense heads' backward this many at a time, so that each pass
// over dW and W (C×K per head) serves a block of rows instead of one.
constexpr int64_t kBlock = 8;

// Per-thread scratch of a block of rows and one head. `magnitude` is padded to a multiple of 8
// with NaN, which compares false with everything (so the padding is never counted nor kept).
// `y`, `buf`, `values` and `index` have room for the 8-lane stores of the AVX2 build.
// Dense path, per row of the block (kBlock × Kp, zero padding): `dense_values` ŷ, `kept_mask`
// 1 on kept entries, `grad_y` dL/dy; `grad`, `block_logits` (kBlock × Cp): dL/dlogits, logits.
struct RowScratch {
  std::vector<float> y, magnitude, buf, values, logits, dense_values, kept_mask, grad_y, grad,
      block_logits;
  std::vector<int32_t> index;
  explicit RowScratch(int64_t k, int64_t c)
      : y(padded(k)),
        magnitude(padded(k), NAN),
        buf(padded(k) + 8),
        values(padded(k) + 8),
        logits(padded(c)),
        dense_values(kBlock * padded(k)),
        kept_mask(kBlock * padded(k)),
        grad_y(kBlock * padded(k)),
        grad(kBlock * padded(c)),
        block_logits(kBlock * padded(c)),
        index(padded(k) + 8) {}
};

// A head takes the dense path (dot products over all K concepts, W as C×K) when it keeps more
// than a third of them (measured crossover at K=200, C=10); otherwise the sparse one (only
// kept concepts, W as K×Cp).
bool is_dense(int64_t keep, int64_t k) { return 3 * keep > k; }

// Gradient sums of one chunk, per head: dW (K×Cp on the sparse path, C×Kp on the dense one),
// then dγ K, dβ K, db Cp.
int64_t weight_block(const Batch& b) { return std::max(b.k * b.cp, b.c * b.kp); }
int64_t head_stride(const Batch& b) { return weight_block(b) + 2 * b.k + b.cp; }

// Left-packing of 8 lanes: for each 8-bit mask, the indices of its set bits in order (then
// zeros), so a permutation moves the selected lanes to the front of a vector.
struct PackTable {
  int32_t lanes[256][8];
};
constexpr PackTable make_pack_table() {
  PackTable t{};
  for (int m = 0; m < 256; ++m) {
    int n = 0;
    for (int l = 0; l < 8; ++l) {
      if ((m >> l) & 1) t.lanes[m][n++] = l;
    }
  }
  return t;
}
constexpr PackTable kPack = make_pack_table();

// The per-row work (sparse_heads_rows.inc), compiled for the baseline and, on x86-64, once more
// for AVX2+FMA (256-bit comparisons and left-packing, fused multiply-adds), picked at run time:
// the project builds without -march flags, and this is most of `iis fit`'s time.
namespace baseline {
#define IIS_ROWS_AVX2 0
#include "iis/heads/sparse_heads_rows.inc"
#undef IIS_ROWS_AVX2
}  // namespace baseline

#if IIS_X86_DISPATCH
#pragma GCC push_options
#pragma GCC target("avx2,fma,popcnt")
namespace avx2 {
#define IIS_ROWS_AVX2 1
#include "iis/heads/sparse_heads_rows.inc"
#undef IIS_ROWS_AVX2
}  // namespace avx2
#pragma GCC pop_options

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("popcnt");
  return yes;
}
#endif

// Chunk boundaries of B rows.
int64_t chunk_count(int64_t b_count) { return std::max<int64_t>(1, std::min(kChunks, b_count)); }
int64_t chunk_begin(int64_t chunk, int64_t chunks, int64_t b_count) {
  return chunk * b_count / chunks;
}

Batch make_batch(const SparseHeads& heads, const torch::Tensor& z, const torch::Tensor& labels,
                 const ThresholdHint* hint, const torch::Tensor& guess, torch::Tensor& threshold,
                 SparseHeadsWorkspace& ws) {
  Batch b;
  b.h_count = heads.gamma.size(0);
  b.k = heads.gamma.size(1);
  b.c = heads.bias.size(1);
  b.cp = padded(b.c);
  b.kp = padded(b.k);
  const bool shared = z.dim() == 2;
  b.b_count = shared ? z.size(0) : z.size(1);
  b.head_stride = shared ? 0 : b.b_count * b.k;
  IIS_ASSERT(z.size(-1) == b.k && (shared || z.size(0) == b.h_count),
             "sparse heads: scores must be B×K or H×B×K");
  IIS_ASSERT(labels.numel() == b.b_count, "sparse heads: one label per row");
  b.z = z.data_ptr<float>();
  b.gamma = heads.gamma.data_ptr<float>();
  b.beta = heads.beta.data_ptr<float>();
  b.bias = heads.bias.data_ptr<float>();
  b.labels = labels.data_ptr<int64_t>();
  b.positions = heads.positions.data();
  b.keep = heads.keep.data();
  b.rule = heads.rule;
  b.guess = guess.defined() ? guess.data_ptr<float>() : nullptr;
  b.width = hint != nullptr && guess.defined() ? hint->width.data() : nullptr;
  if (!threshold.defined() || threshold.sizes() != c10::IntArrayRef({b.h_count, b.b_count})) {
    threshold = torch::empty({b.h_count, b.b_count}, torch::kFloat32);
  }
  b.threshold = threshold.data_ptr<float>();
  ws.dense.resize(static_cast<size_t>(b.h_count));
  for (int64_t h = 0; h < b.h_count; ++h) ws.dense[h] = is_dense(heads.keep[h], b.k);
  b.dense = ws.dense.data();
  // Each head's W in the layout its path reads: transposed to K×Cp for a sparse head (a kept
  // concept's weights for every class contiguous), C×Kp for a dense one.
  ws.weight_t.assign(static_cast<size_t>(b.h_count * b.k * b.cp), 0.f);
  ws.weight_p.assign(static_cast<size_t>(b.h_count * b.c * b.kp), 0.f);
  const float* w = heads.weight.data_ptr<float>();
  for (int64_t h = 0; h < b.h_count; ++h) {
    for (int64_t cc = 0; cc < b.c; ++cc) {
      const float* src = w + (h * b.c + cc) * b.k;
      if (ws.dense[h]) {
        std::copy(src, src + b.k, ws.weight_p.data() + (h * b.c + cc) * b.kp);
      } else {
        float* dst = ws.weight_t.data() + h * b.k * b.cp + cc;
        for (int64_t j = 0; j < b.k; ++j) dst[j * b.cp] = src[j];
      }
    }
  }
  b.weight_t = ws.weight_t.data();
  b.weight_p = ws.weight_p.data();
  return b;
}

torch::Tensor contiguous_guess(const ThresholdHint* hint) {
  if (hint == nullptr || !hint->guess.defined()) return {};
  return hint->guess.to(torch::kFloat32).contiguous();
}

void check_inputs(const SparseHeads& heads, const torch::Tensor& scores) {
  IIS_ASSERT(scores.device().is_cpu() && scores.scalar_type() == torch::kFloat32,
             "sparse heads: CPU float32 scores only");
  const auto h = heads.gamma.size(0);
  IIS_ASSERT(static_cast<int64_t>(heads.positions.size()) == h &&
                 static_cast<int64_t>(heads.keep.size()) == h,
             "sparse heads: one position and keep count per head");
}

void step_rows(const Batch& b, int64_t r0, int64_t r1, float* acc, double* loss, float* gz,
               bool portable) {
#if IIS_X86_DISPATCH
  if (!portable && has_avx2()) return avx2::step_rows(b, r0, r1, acc, loss, gz);
#endif
  baseline::step_rows(b, r0, r1, acc, loss, gz);
}

void hit_rows(const Batch& b, int64_t r0, int64_t r1, int64_t* counts, bool portable) {
#if IIS_X86_DISPATCH
  if (!portable && has_avx2()) return avx2::hit_rows(b, r0, r1, counts);
#endif
  baseline::hit_rows(b, r0, r1, counts);
}

void check_labels(const torch::Tensor& labels, int64_t c) {
  if (labels.numel() == 0) return;
  IIS_ASSERT(labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < c,
             "sparse heads: labels must lie in [0, " << c << ")");
}

}  // namespace

bool sparse_heads_apply(const torch::Device& device, int64_t num_classes) {
  return device.is_cpu() && num_classes <= kSparseHeadsMaxClasses;
}

torch::Tensor sparse_heads_step(const SparseHeads& heads, const torch::Tensor& scores,
                                const torch::Tensor& labels, const ThresholdHint* hint,
                                SparseHeadsGrads& grads, torch::Tensor& threshold,
                                SparseHeadsWorkspace& ws) {
  check_inputs(heads, scores);
  auto z = scores.contiguous();
  auto y_true = labels.to(torch::kInt64).contiguous();
  auto guess = contiguous_guess(hint);
  const Batch b = make_batch(heads, z, y_true, hint, guess, threshold, ws);
  check_labels(y_true, b.c);
  const int64_t h_count = b.h_count, k = b.k, c = b.c, cp = b.cp, b_count = b.b_count;
  const int64_t stride = head_stride(b);
  const int64_t chunks = chunk_count(b_count);
  ws.partial.resize(static_cast<size_t>(chunks * h_count * stride));
  ws.loss.assign(static_cast<size_t>(chunks * h_count), 0.0);
  float* gz = nullptr;
  if (grads.scores != nullptr) {
    if (!grads.scores->defined() || grads.scores->sizes() != z.sizes()) {
      *grads.scores = torch::empty(z.sizes(), torch::kFloat32);
    }
    gz = grads.scores->data_ptr<float>();
  }
  core::run_chunks(chunks, ws.threads, [&](int64_t chunk) {
    step_rows(b, chunk_begin(chunk, chunks, b_count), chunk_begin(chunk + 1, chunks, b_count),
              ws.partial.data() + chunk * h_count * stride, ws.loss.data() + chunk * h_count, gz,
              ws.portable);
  });

  // Chunk sums in order; dWᵀ back to H×C×K. Serial: a few hundred thousand additions at the
  // class counts this kernel serves, less than waking the threads again.
  auto loss_out = torch::empty({h_count}, torch::kFloat32);
  float* lp = loss_out.data_ptr<float>();
  float* gw = grads.weight.data_ptr<float>();
  float* gg = grads.gamma.data_ptr<float>();
  float* gb = grads.beta.data_ptr<float>();
  float* gbias = grads.bias.data_ptr<float>();
  {
    std::vector<float> total(stride);
    for (int64_t h = 0; h < h_count; ++h) {
      std::fill(total.begin(), total.end(), 0.f);
      double loss = 0;
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        const float* p = ws.partial.data() + (chunk * h_count + h) * stride;
        for (int64_t e = 0; e < stride; ++e) total[e] += p[e];
        loss += ws.loss[chunk * h_count + h];
      }
      lp[h] = static_cast<float>(loss / static_cast<double>(b_count));
      if (b.dense[h]) {
        for (int64_t cc = 0; cc < c; ++cc) {
          std::copy(total.data() + cc * b.kp, total.data() + cc * b.kp + k, gw + (h * c + cc) * k);
        }
      } else {
        for (int64_t cc = 0; cc < c; ++cc) {
          for (int64_t j = 0; j < k; ++j) gw[(h * c + cc) * k + j] = total[j * cp + cc];
        }
      }
      const float* rest = total.data() + weight_block(b);
      std::copy(rest, rest + k, gg + h * k);
      std::copy(rest + k, rest + 2 * k, gb + h * k);
      std::copy(rest + 2 * k, rest + 2 * k + c, gbias + h * c);
    }
  }
  return loss_out;
}

SparseHits sparse_heads_hits(const SparseHeads& heads, const torch::Tensor& scores,
                             const torch::Tensor& labels, const ThresholdHint* hint,
                             torch::Tensor& threshold, SparseHeadsWorkspace& ws,
                             torch::Tensor* logits) {
  check_inputs(heads, scores);
  auto z = scores.contiguous();
  auto y_true = labels.to(torch::kInt64).contiguous();
  auto guess = contiguous_guess(hint);
  Batch b = make_batch(heads, z, y_true, hint, guess, threshold, ws);
  if (logits != nullptr) {
    *logits = torch::empty({b.h_count, b.b_count, b.c}, torch::kFloat32);
    b.logits = logits->data_ptr<float>();
  }
  check_labels(y_true, b.c);
  const int64_t h_count = b.h_count;
  const int64_t chunks = chunk_count(b.b_count);
  std::vector<int64_t> hits(static_cast<size_t>(chunks * h_count * 2), 0);
  core::run_chunks(chunks, ws.threads, [&](int64_t chunk) {
    hit_rows(b, chunk_begin(chunk, chunks, b.b_count), chunk_begin(chunk + 1, chunks, b.b_count),
             hits.data() + chunk * h_count * 2, ws.portable);
  });
  SparseHits out;
  out.top1.assign(h_count, 0);
  out.top5.assign(h_count, 0);
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    for (int64_t h = 0; h < h_count; ++h) {
      out.top1[h] += hits[(chunk * h_count + h) * 2];
      out.top5[h] += hits[(chunk * h_count + h) * 2 + 1];
    }
  }
  return out;
}

}  // namespace iis::heads
