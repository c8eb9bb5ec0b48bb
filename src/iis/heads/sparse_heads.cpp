// Fused CPU kernel of H interpretable heads: one parallel pass per batch over row chunks.
#include "iis/heads/sparse_heads.hpp"

#include <ATen/Parallel.h>
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

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// The per-row work is compiled twice, for AVX2+FMA and for the baseline, and picked at run
// time: the project builds without -march flags, and this loop is most of `iis fit`'s time.
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
  const float* weight_t;  // H×K×Cp (zero padding)
  const float* weight;    // H×C×K
  const float* weight_p;  // H×C×Kp (zero padding)
  const uint8_t* dense;   // H: 1 where the head keeps most entries (dense path)
  const float* bias;
  const int64_t* labels;
  const int64_t* positions;
  const int64_t* keep;
  ThresholdRule rule;
  const float* guess;  // H×B or null
  const float* width;  // H or null
  float* threshold;    // H×B
};

// Rows of a chunk go through the dense heads' backward this many at a time, so that each pass
// over dW and W (C×K per head) serves a block of rows instead of one.
constexpr int64_t kBlock = 8;

// Per-thread scratch of a block of rows and one head. `magnitude` is padded to a multiple of 8
// with NaN, which compares false with everything (so the padding is never counted nor kept).
// Dense path, per row of the block (kBlock × Kp, zero padding): `dense_values` ŷ, `kept_mask`
// 1 on kept entries, `grad_y` dL/dy; `grad`, `block_logits` (kBlock × Cp): dL/dlogits, logits.
struct RowScratch {
  std::vector<float> y, magnitude, buf, values, logits, dense_values, kept_mask, grad_y, grad,
      block_logits;
  std::vector<int32_t> index;
  explicit RowScratch(int64_t k, int64_t c)
      : y(k),
        magnitude(padded(k), NAN),
        buf(k),
        values(k),
        logits(padded(c)),
        dense_values(kBlock * padded(k)),
        kept_mask(kBlock * padded(k)),
        grad_y(kBlock * padded(k)),
        grad(kBlock * padded(c)),
        block_logits(kBlock * padded(c)),
        index(k) {}
};

// A head takes the dense path (dot products over all K concepts, W as C×K) when it keeps more
// than a third of them (measured crossover at K=200, C=10); otherwise the sparse one (only
// kept concepts, W as K×Cp).
bool is_dense(int64_t keep, int64_t k) { return 3 * keep > k; }

// Σ_j a[j]·b[j] in kLanes independent sums (vectorisable without reassociation).
IIS_INLINE float dot(const float* a, const float* b, int64_t n) {
  float lanes[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) lanes[l] += a[j + l] * b[j + l];
  }
  float sum = 0;
  for (; j < n; ++j) sum += a[j] * b[j];
  for (int64_t l = 0; l < kLanes; ++l) sum += lanes[l];
  return sum;
}

// Bit l (0..7) set where a[l] > t, where a[l] < t, where lo <= a[l] < hi.
#if defined(__SSE2__)
IIS_INLINE unsigned mask_above(const float* a, float t) {
  const __m128 tv = _mm_set1_ps(t);
  return static_cast<unsigned>(_mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(a), tv)) |
                               _mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(a + 4), tv)) << 4);
}
IIS_INLINE unsigned mask_below(const float* a, float t) {
  const __m128 tv = _mm_set1_ps(t);
  return static_cast<unsigned>(_mm_movemask_ps(_mm_cmplt_ps(_mm_loadu_ps(a), tv)) |
                               _mm_movemask_ps(_mm_cmplt_ps(_mm_loadu_ps(a + 4), tv)) << 4);
}
IIS_INLINE unsigned mask_inside(const float* a, float lo, float hi) {
  const __m128 lv = _mm_set1_ps(lo), hv = _mm_set1_ps(hi);
  const __m128 a0 = _mm_loadu_ps(a), a1 = _mm_loadu_ps(a + 4);
  return static_cast<unsigned>(
      _mm_movemask_ps(_mm_and_ps(_mm_cmpge_ps(a0, lv), _mm_cmplt_ps(a0, hv))) |
      _mm_movemask_ps(_mm_and_ps(_mm_cmpge_ps(a1, lv), _mm_cmplt_ps(a1, hv))) << 4);
}
#else
IIS_INLINE unsigned mask_above(const float* a, float t) {
  unsigned m = 0;
  for (unsigned l = 0; l < 8; ++l) m |= static_cast<unsigned>(a[l] > t) << l;
  return m;
}
IIS_INLINE unsigned mask_below(const float* a, float t) {
  unsigned m = 0;
  for (unsigned l = 0; l < 8; ++l) m |= static_cast<unsigned>(a[l] < t) << l;
  return m;
}
IIS_INLINE unsigned mask_inside(const float* a, float lo, float hi) {
  unsigned m = 0;
  for (unsigned l = 0; l < 8; ++l) m |= static_cast<unsigned>(a[l] >= lo && a[l] < hi) << l;
  return m;
}
#endif

IIS_INLINE int bit_count(unsigned m) { return __builtin_popcount(m); }
IIS_INLINE int lowest_bit(unsigned m) { return __builtin_ctz(m); }

// select_position (threshold.cpp) with the bracket pass done 8 entries at a time: only entries
// inside the bracket are gathered. a: k entries padded with NaN to a multiple of 8. Same result.
IIS_INLINE float select_in_bracket(const float* a, int64_t k, int64_t m, float guess, float width,
                                   float* buf) {
  const int64_t kp = padded(k);
  auto pass = [&](float lo, float hi, float* out, int64_t& below, int64_t& inside) {
    for (int64_t j0 = 0; j0 < kp; j0 += 8) {
      below += bit_count(mask_below(a + j0, lo));
      for (unsigned in = mask_inside(a + j0, lo, hi); in != 0; in &= in - 1) {
        out[inside++] = a[j0 + lowest_bit(in)];
      }
    }
  };
  float t;
  if (select_bracketed(pass, m, guess, width, buf, t)) return t;
  return select_position(a, k, m, NAN, 0.f, buf);
}

// Eight floats (unaligned); GCC lowers them to AVX2 registers in the AVX2 build (fusing a + b·c
// into FMA like the scalar loops) and to pairs of SSE registers in the baseline one.
// Vectors are passed by reference only: by value GCC warns of an ABI that differs with AVX.
typedef float Vec8 __attribute__((vector_size(32), aligned(4), may_alias));
IIS_INLINE void load8(Vec8& v, const float* p) { v = *reinterpret_cast<const Vec8*>(p); }
IIS_INLINE void store8(float* p, const Vec8& v) { *reinterpret_cast<Vec8*>(p) = v; }

// dW[c0..c0+CR) [j..j+8·JV) += Σ_r g_r[c] ŷ_r[j] over `rows` rows in order, held in registers:
// every element gets the same sequence of fused multiply-adds as one row at a time would give.
template <int CR, int JV>
IIS_INLINE void grad_weight_tile(const float* g, int64_t cp, const float* yd, int64_t kp,
                                 int64_t rows, float* dw, int64_t c0, int64_t j) {
  Vec8 sum[CR][JV];
  for (int a = 0; a < CR; ++a) {
    for (int v = 0; v < JV; ++v) load8(sum[a][v], dw + (c0 + a) * kp + j + 8 * v);
  }
  for (int64_t r = 0; r < rows; ++r) {
    Vec8 y[JV];
    for (int v = 0; v < JV; ++v) load8(y[v], yd + r * kp + j + 8 * v);
    for (int a = 0; a < CR; ++a) {
      const float ga = g[r * cp + c0 + a];
      for (int v = 0; v < JV; ++v) sum[a][v] += ga * y[v];
    }
  }
  for (int a = 0; a < CR; ++a) {
    for (int v = 0; v < JV; ++v) store8(dw + (c0 + a) * kp + j + 8 * v, sum[a][v]);
  }
}

// dy_r[j..j+8·JV) = Σ_c g_r[c] W[c][j] for rows r0..r0+RR, the classes in order.
template <int RR, int JV>
IIS_INLINE void grad_y_tile(const float* g, int64_t cp, const float* w, int64_t c, int64_t kp,
                            int64_t r0, int64_t j, float* dy) {
  Vec8 sum[RR][JV];
  for (int a = 0; a < RR; ++a) {
    for (int v = 0; v < JV; ++v) sum[a][v] = Vec8{};
  }
  for (int64_t cc = 0; cc < c; ++cc) {
    Vec8 wv[JV];
    for (int v = 0; v < JV; ++v) load8(wv[v], w + cc * kp + j + 8 * v);
    for (int a = 0; a < RR; ++a) {
      const float ga = g[(r0 + a) * cp + cc];
      for (int v = 0; v < JV; ++v) sum[a][v] += ga * wv[v];
    }
  }
  for (int a = 0; a < RR; ++a) {
    for (int v = 0; v < JV; ++v) store8(dy + (r0 + a) * kp + j + 8 * v, sum[a][v]);
  }
}

// The dense head's backward for a block of rows: dW (C×Kp) += Σ_r g_r ŷ_rᵀ and dy_r = Wᵀ g_r
// (W: C×Kp, zero padding). g: rows×Cp, ŷ and dy: rows×Kp.
IIS_INLINE void dense_backward_block(const float* g, int64_t cp, const float* yd, int64_t rows,
                                     const float* w, int64_t c, int64_t kp, float* dw, float* dy) {
  constexpr int kWide = 4;  // vectors of 8 per tile
  int64_t c0 = 0;
  for (; c0 + 2 <= c; c0 += 2) {
    int64_t j = 0;
    for (; j + 8 * kWide <= kp; j += 8 * kWide) {
      grad_weight_tile<2, kWide>(g, cp, yd, kp, rows, dw, c0, j);
    }
    for (; j < kp; j += 8) grad_weight_tile<2, 1>(g, cp, yd, kp, rows, dw, c0, j);
  }
  if (c0 < c) {
    int64_t j = 0;
    for (; j + 8 * kWide <= kp; j += 8 * kWide) {
      grad_weight_tile<1, kWide>(g, cp, yd, kp, rows, dw, c0, j);
    }
    for (; j < kp; j += 8) grad_weight_tile<1, 1>(g, cp, yd, kp, rows, dw, c0, j);
  }
  int64_t r0 = 0;
  for (; r0 + 2 <= rows; r0 += 2) {
    int64_t j = 0;
    for (; j + 8 * kWide <= kp; j += 8 * kWide) grad_y_tile<2, kWide>(g, cp, w, c, kp, r0, j, dy);
    for (; j < kp; j += 8) grad_y_tile<2, 1>(g, cp, w, c, kp, r0, j, dy);
  }
  if (r0 < rows) {
    int64_t j = 0;
    for (; j + 8 * kWide <= kp; j += 8 * kWide) grad_y_tile<1, kWide>(g, cp, w, c, kp, r0, j, dy);
    for (; j < kp; j += 8) grad_y_tile<1, 1>(g, cp, w, c, kp, r0, j, dy);
  }
}

// Logits of a block of rows on a dense head: out_r[c] = bias[c] + dot(W[c], ŷ_r) over K (W: C×K,
// ŷ: rows×Kp, out: rows×Cp, padding zeroed), with dot()'s order of additions (kLanes lane sums,
// the tail, then the lanes in order), so each equals the row-at-a-time value. Tiles of RR rows
// and CC classes keep RR·CC independent sums in flight instead of one chain per dot product.
template <int RR, int CC>
IIS_INLINE void logits_tile(const float* w, int64_t k, const float* yd, int64_t kp,
                            const float* bias, int64_t r0, int64_t c0, float* out, int64_t cp) {
  static_assert(kLanes == 8, "one Vec8 per lane group");
  Vec8 sum[RR][CC];
  for (int a = 0; a < RR; ++a) {
    for (int q = 0; q < CC; ++q) sum[a][q] = Vec8{};
  }
  const int64_t k8 = k / kLanes * kLanes;
  for (int64_t j = 0; j < k8; j += kLanes) {
    Vec8 y[RR], wv[CC];
    for (int a = 0; a < RR; ++a) load8(y[a], yd + (r0 + a) * kp + j);
    for (int q = 0; q < CC; ++q) load8(wv[q], w + (c0 + q) * k + j);
    for (int a = 0; a < RR; ++a) {
      for (int q = 0; q < CC; ++q) sum[a][q] += y[a] * wv[q];
    }
  }
  for (int a = 0; a < RR; ++a) {
    const float* yr = yd + (r0 + a) * kp;
    for (int q = 0; q < CC; ++q) {
      const float* wr = w + (c0 + q) * k;
      float total = 0;
      for (int64_t j = k8; j < k; ++j) total += wr[j] * yr[j];
      for (int l = 0; l < kLanes; ++l) total += sum[a][q][l];
      out[(r0 + a) * cp + c0 + q] = bias[c0 + q] + total;
    }
  }
}

IIS_INLINE void dense_logits_block(const float* w, int64_t c, int64_t k, const float* yd,
                                   int64_t kp, int64_t rows, const float* bias, float* out,
                                   int64_t cp) {
  constexpr int kClasses = 4;
  for (int64_t r = 0; r < rows; ++r) std::fill(out + r * cp + c, out + (r + 1) * cp, 0.f);
  int64_t r0 = 0;
  for (; r0 + 2 <= rows; r0 += 2) {
    int64_t c0 = 0;
    for (; c0 + kClasses <= c; c0 += kClasses) {
      logits_tile<2, kClasses>(w, k, yd, kp, bias, r0, c0, out, cp);
    }
    for (; c0 < c; ++c0) logits_tile<2, 1>(w, k, yd, kp, bias, r0, c0, out, cp);
  }
  if (r0 < rows) {
    int64_t c0 = 0;
    for (; c0 + kClasses <= c; c0 += kClasses) {
      logits_tile<1, kClasses>(w, k, yd, kp, bias, r0, c0, out, cp);
    }
    for (; c0 < c; ++c0) logits_tile<1, 1>(w, k, yd, kp, bias, r0, c0, out, cp);
  }
}

// Head h on row i: the threshold into b.threshold, and ŷ: for sparse heads its kept entries
// (index, value) in s, returning their count, and the logits into s.logits; for dense heads row
// `slot` of s.dense_values and s.kept_mask (the return value is then not a count), and the
// logits only with `dense_logits` (otherwise dense_logits_block computes them for a block).
IIS_INLINE int64_t row_forward(const Batch& b, int64_t h, int64_t i, RowScratch& s,
                               int64_t slot = 0, bool dense_logits = true) {
  const int64_t k = b.k, c = b.c, cp = b.cp;
  const float* zr = b.z + h * b.head_stride + i * k;
  const float* gh = b.gamma + h * k;
  const float* bh = b.beta + h * k;
  float* y = s.y.data();
  float* a = s.magnitude.data();
  for (int64_t j = 0; j < k; ++j) {
    y[j] = gh[j] * zr[j] + bh[j];
    a[j] = std::fabs(y[j]);
  }
  int32_t* index = s.index.data();
  float* values = s.values.data();
  int64_t kept = 0;
  const int64_t m = b.positions[h];
  const int64_t row = h * b.b_count + i;
  const int64_t kp = padded(k);
  float t = -1;  // every entry kept when m < 0
  if (m >= 0) {
    const float guess = b.guess != nullptr ? b.guess[row] : NAN;
    const float width = b.width != nullptr ? b.width[h] : 0.f;
    t = select_in_bracket(a, k, m, guess, width, s.buf.data());
  }
  b.threshold[row] = t;
  bool ties = false;
  if (m >= 0 && b.rule == ThresholdRule::Exact) {
    int64_t above = 0;
    for (int64_t j0 = 0; j0 < kp; j0 += 8) above += bit_count(mask_above(a + j0, t));
    ties = above < b.keep[h];
  }
  const bool soft = m >= 0 && b.rule == ThresholdRule::Soft;
  if (ties) {
    // Ties at t: the lowest-index tied entries until exactly keep[h] survive.
    int64_t missing = b.keep[h];
    for (int64_t j0 = 0; j0 < kp; j0 += 8) missing -= bit_count(mask_above(a + j0, t));
    for (int64_t j = 0; j < k; ++j) {
      const bool tie = missing > 0 && a[j] == t;
      missing -= tie;
      index[kept] = static_cast<int32_t>(j);
      values[kept] = y[j];
      kept += (a[j] > t) | tie;
    }
  } else if (m < 0) {
    for (int64_t j = 0; j < k; ++j) {
      index[j] = static_cast<int32_t>(j);
      values[j] = y[j];
    }
    kept = k;
  } else if (!b.dense[h]) {
    // The kept entries in index order, 8 at a time: cost grows with what is kept.
    for (int64_t j0 = 0; j0 < kp; j0 += 8) {
      for (unsigned up = mask_above(a + j0, t); up != 0; up &= up - 1) {
        const int64_t j = j0 + lowest_bit(up);
        index[kept] = static_cast<int32_t>(j);
        values[kept] = soft ? std::copysign(a[j] - t, y[j]) : y[j];
        ++kept;
      }
    }
  }
  float* logits = s.logits.data();
  std::fill(logits + c, logits + cp, 0.f);
  std::copy(b.bias + h * c, b.bias + (h + 1) * c, logits);
  if (b.dense[h]) {
    float* yd = s.dense_values.data() + slot * kp;
    float* md = s.kept_mask.data() + slot * kp;
    if (ties || m < 0) {
      std::fill(yd, yd + k, 0.f);
      std::fill(md, md + k, 0.f);
      for (int64_t q = 0; q < kept; ++q) {
        yd[index[q]] = values[q];
        md[index[q]] = 1.f;
      }
    } else if (!soft) {
      // Branch-free (vectorised): about half the comparisons go each way near r = 0.5, and a
      // branch per entry mispredicted often enough to be a quarter of the kernel's time.
      for (int64_t j = 0; j < k; ++j) {
        const float on = static_cast<float>(a[j] > t);
        md[j] = on;
        yd[j] = on * y[j];
      }
    } else {
      for (int64_t j = 0; j < k; ++j) {
        const float on = static_cast<float>(a[j] > t);
        md[j] = on;
        yd[j] = on * std::copysign(a[j] - t, y[j]);
      }
    }
    if (dense_logits) {
      const float* wh = b.weight + h * c * k;
      for (int64_t cc = 0; cc < c; ++cc) logits[cc] += dot(wh + cc * k, yd, k);
    }
    return kept;
  }
  const float* wh = b.weight_t + h * k * cp;
  // One block of kLanes classes at a time, its sums held in registers over the kept entries.
  // Two partial sums (even and odd entries) break the chain of dependent additions.
  for (int64_t c0 = 0; c0 < cp; c0 += kLanes) {
    float even[kLanes], odd[kLanes];
    for (int64_t l = 0; l < kLanes; ++l) {
      even[l] = logits[c0 + l];
      odd[l] = 0.f;
    }
    int64_t q = 0;
    for (; q + 1 < kept; q += 2) {
      const float v0 = values[q], v1 = values[q + 1];
      const float* w0 = wh + static_cast<int64_t>(index[q]) * cp + c0;
      const float* w1 = wh + static_cast<int64_t>(index[q + 1]) * cp + c0;
      for (int64_t l = 0; l < kLanes; ++l) {
        even[l] += v0 * w0[l];
        odd[l] += v1 * w1[l];
      }
    }
    if (q < kept) {
      const float v0 = values[q];
      const float* w0 = wh + static_cast<int64_t>(index[q]) * cp + c0;
      for (int64_t l = 0; l < kLanes; ++l) even[l] += v0 * w0[l];
    }
    for (int64_t l = 0; l < kLanes; ++l) logits[c0 + l] = even[l] + odd[l];
  }
  return kept;
}

// Runs work(chunk) for every chunk in [0, chunks) on at::get_num_threads() threads: the
// caller and a pool of workers that sleep on a condition variable between calls. Each thread
// takes the next unclaimed chunk, so a thread the OS does not schedule (other processes on the
// cores) holds up only the chunk it is on, and an idle worker uses no CPU (OpenMP's workers
// spin between regions, which on a busy two-core machine made two threads 3x slower than one).
class ChunkPool {
 public:
  static ChunkPool& instance() {
    static ChunkPool pool;
    return pool;
  }

  void run(int64_t chunks, int threads, const std::function<void(int64_t)>& work) {
    std::lock_guard<std::mutex> one_call(call_mutex_);
    resize(static_cast<int>(std::min<int64_t>(chunks, threads)) - 1);
    if (workers_.empty()) {
      for (int64_t chunk = 0; chunk < chunks; ++chunk) work(chunk);
      return;
    }
    auto job = std::make_shared<Job>();
    job->work = &work;
    job->chunks = chunks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = job;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    drain(*job);
    // The other threads' last chunks usually end within microseconds: look before sleeping.
    spin_until([&] { return job->done.load() == chunks; });
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return job->done.load() == chunks; });
    job_.reset();
    if (job->error) std::rethrow_exception(job->error);
  }

  ~ChunkPool() { resize(0); }

 private:
  struct Job {
    const std::function<void(int64_t)>* work = nullptr;
    int64_t chunks = 0;
    std::atomic<int64_t> next{0}, done{0};
    std::exception_ptr error;  // the first exception thrown by work (under the pool's mutex)
  };

  // Claims chunks until none is left; a late worker finds none and never touches `work`.
  void drain(Job& job) {
    for (int64_t chunk = job.next++; chunk < job.chunks; chunk = job.next++) {
      try {
        (*job.work)(chunk);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!job.error) job.error = std::current_exception();
      }
      if (++job.done == job.chunks) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_all();
      }
    }
  }

  // Polls `ready` for up to kSpin before the caller sleeps: training calls the pool once per
  // batch, a millisecond or so apart, and waking a sleeping thread costs far more in a VM.
  template <typename Ready>
  static bool spin_until(const Ready& ready) {
    constexpr auto kSpin = std::chrono::microseconds(200);
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0;; ++i) {
      if (ready()) return true;
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return false;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }

  void worker() {
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      spin_until([&] { return stop_.load() || generation_.load() != seen; });
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
        if (stop_) return;
        seen = generation_.load();
        job = job_;
      }
      if (job) drain(*job);
    }
  }

  void resize(int count) {
    count = std::max(count, 0);
    if (static_cast<int>(workers_.size()) == count) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
    for (int i = 0; i < count; ++i) workers_.emplace_back([this] { worker(); });
  }

  std::mutex call_mutex_, mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  std::shared_ptr<Job> job_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

template <typename Work>
void for_each_chunk(int64_t chunks, int threads, const Work& work) {
  if (threads <= 0) threads = at::get_num_threads();
  ChunkPool::instance().run(chunks, threads, std::function<void(int64_t)>(work));
}

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
  TORCH_CHECK(z.size(-1) == b.k && (shared || z.size(0) == b.h_count),
              "sparse heads: scores must be B×K or H×B×K");
  TORCH_CHECK(labels.numel() == b.b_count, "sparse heads: one label per row");
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
  // W transposed to H×K×Cp, so a kept concept's weights for every class are contiguous.
  ws.weight_t.assign(static_cast<size_t>(b.h_count * b.k * b.cp), 0.f);
  const float* w = heads.weight.data_ptr<float>();
  float* wt = ws.weight_t.data();
  for (int64_t h = 0; h < b.h_count; ++h) {
    for (int64_t cc = 0; cc < b.c; ++cc) {
      const float* src = w + (h * b.c + cc) * b.k;
      float* dst = wt + h * b.k * b.cp + cc;
      for (int64_t j = 0; j < b.k; ++j) dst[j * b.cp] = src[j];
    }
  }
  b.weight_t = wt;
  b.weight = w;
  // And to H×C×Kp for the dense heads' blocked backward.
  ws.weight_p.assign(static_cast<size_t>(b.h_count * b.c * b.kp), 0.f);
  for (int64_t hc = 0; hc < b.h_count * b.c; ++hc) {
    std::copy(w + hc * b.k, w + (hc + 1) * b.k, ws.weight_p.data() + hc * b.kp);
  }
  b.weight_p = ws.weight_p.data();
  ws.dense.resize(static_cast<size_t>(b.h_count));
  for (int64_t h = 0; h < b.h_count; ++h) ws.dense[h] = is_dense(heads.keep[h], b.k);
  b.dense = ws.dense.data();
  return b;
}

torch::Tensor contiguous_guess(const ThresholdHint* hint) {
  if (hint == nullptr || !hint->guess.defined()) return {};
  return hint->guess.to(torch::kFloat32).contiguous();
}

void check_inputs(const SparseHeads& heads, const torch::Tensor& scores) {
  TORCH_CHECK(scores.device().is_cpu() && scores.scalar_type() == torch::kFloat32,
              "sparse heads: CPU float32 scores only");
  const auto h = heads.gamma.size(0);
  TORCH_CHECK(static_cast<int64_t>(heads.positions.size()) == h &&
                  static_cast<int64_t>(heads.keep.size()) == h,
              "sparse heads: one position and keep count per head");
}

// Gradient sums of one chunk, per head: dW (K×Cp on the sparse path, C×Kp on the dense one),
// then dγ K, dβ K, db Cp.
int64_t weight_block(const Batch& b) { return std::max(b.k * b.cp, b.c * b.kp); }
int64_t head_stride(const Batch& b) { return weight_block(b) + 2 * b.k + b.cp; }

// Softmax cross-entropy of one row: dL/dlogits = (softmax − onehot) / B into g[0, C) (the
// padding is left as it is, zero); returns the row's loss.
IIS_INLINE double softmax_grad(const float* logits, int64_t c, int64_t label, float inv_b,
                               float* g) {
  float top = logits[0];
  for (int64_t cc = 1; cc < c; ++cc) top = std::max(top, logits[cc]);
  float sum = 0;
  for (int64_t cc = 0; cc < c; ++cc) {
    g[cc] = std::exp(logits[cc] - top);
    sum += g[cc];
  }
  const float scale = inv_b / sum;
  for (int64_t cc = 0; cc < c; ++cc) g[cc] *= scale;
  g[label] -= inv_b;
  return static_cast<double>(top) + std::log(static_cast<double>(sum)) - logits[label];
}

// Forward and backward of rows [r0, r1) for every head, summed into `acc` (zeroed here) and
// `loss` (H); dL/dscores of those rows into `gz` when given. Rows go kBlock at a time, head by
// head; every sum still takes its terms row by row in order, so the blocking changes no result.
IIS_INLINE void step_rows_body(const Batch& b, int64_t r0, int64_t r1, float* acc, double* loss,
                               float* gz) {
  const int64_t h_count = b.h_count, k = b.k, c = b.c, cp = b.cp, kp = b.kp;
  const int64_t stride = head_stride(b);
  const bool shared = b.head_stride == 0;
  const float inv_b = 1.f / static_cast<float>(b.b_count);
  std::fill(acc, acc + h_count * stride, 0.f);
  RowScratch s(k, c);
  for (int64_t i0 = r0; i0 < r1; i0 += kBlock) {
    const int64_t rows = std::min(kBlock, r1 - i0);
    if (gz != nullptr && shared) std::fill(gz + i0 * k, gz + (i0 + rows) * k, 0.f);
    for (int64_t h = 0; h < h_count; ++h) {
      float* acc_h = acc + h * stride;
      float* dwt = acc_h;  // K×Cp (sparse path) or C×Kp (dense path)
      float* dgamma = acc_h + weight_block(b);
      float* dbeta = dgamma + k;
      float* dbias = dbeta + k;
      const float* gh = b.gamma + h * k;
      const float* wh = b.weight_t + h * k * cp;
      const bool dense = b.dense[h] != 0;
      if (dense) {
        for (int64_t r = 0; r < rows; ++r) row_forward(b, h, i0 + r, s, r, false);
        dense_logits_block(b.weight + h * c * k, c, k, s.dense_values.data(), kp, rows,
                           b.bias + h * c, s.block_logits.data(), cp);
      }
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r;
        const int64_t label = b.labels[i];
        const int64_t kept = dense ? 0 : row_forward(b, h, i, s, r);
        const float* logits = dense ? s.block_logits.data() + r * cp : s.logits.data();
        float* g = s.grad.data() + r * cp;
        loss[h] += softmax_grad(logits, c, label, inv_b, g);
        for (int64_t cc = 0; cc < cp; ++cc) dbias[cc] += g[cc];
        if (dense) continue;  // after the block
        const float* zr = b.z + h * b.head_stride + i * k;
        float* gz_row = nullptr;
        if (gz != nullptr) {
          gz_row = gz + h * b.head_stride + i * k;
          if (!shared) std::fill(gz_row, gz_row + k, 0.f);
        }
        for (int64_t q = 0; q < kept; ++q) {
          const int64_t j = s.index[q];
          const float v = s.values[q];
          const float* w = wh + j * cp;
          float* dw = dwt + j * cp;
          float lanes[kLanes] = {};
          for (int64_t c0 = 0; c0 < cp; c0 += kLanes) {
            for (int64_t l = 0; l < kLanes; ++l) {
              lanes[l] += g[c0 + l] * w[c0 + l];
              dw[c0 + l] += v * g[c0 + l];
            }
          }
          float dv = 0;
          for (int64_t l = 0; l < kLanes; ++l) dv += lanes[l];
          // ŷ = y (or y shrunk by t, which carries no gradient) on kept entries: dL/dy = dv.
          dgamma[j] += dv * zr[j];
          dbeta[j] += dv;
          if (gz_row != nullptr) gz_row[j] += gh[j] * dv;
        }
      }
      if (!dense) continue;
      // Dense head: dW (C×Kp) += g ŷᵀ and dL/dy = (Wᵀ g) on kept entries, for the whole block.
      dense_backward_block(s.grad.data(), cp, s.dense_values.data(), rows,
                           b.weight_p + h * c * kp, c, kp, dwt, s.grad_y.data());
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r;
        const float* zr = b.z + h * b.head_stride + i * k;
        const float* dy = s.grad_y.data() + r * kp;
        const float* md = s.kept_mask.data() + r * kp;
        for (int64_t j = 0; j < k; ++j) {
          const float d = dy[j] * md[j];
          dgamma[j] += d * zr[j];
          dbeta[j] += d;
        }
        if (gz != nullptr) {
          float* gz_row = gz + h * b.head_stride + i * k;
          if (!shared) std::fill(gz_row, gz_row + k, 0.f);
          for (int64_t j = 0; j < k; ++j) gz_row[j] += gh[j] * dy[j] * md[j];
        }
      }
    }
  }
}

// Top-1 / top-5 hits of rows [r0, r1) for every head into counts (H×2, zeroed here).
IIS_INLINE void hit_rows_body(const Batch& b, int64_t r0, int64_t r1, int64_t* counts) {
  std::fill(counts, counts + 2 * b.h_count, 0);
  RowScratch s(b.k, b.c);
  for (int64_t i0 = r0; i0 < r1; i0 += kBlock) {
    const int64_t rows = std::min(kBlock, r1 - i0);
    for (int64_t h = 0; h < b.h_count; ++h) {
      const bool dense = b.dense[h] != 0;
      if (dense) {
        for (int64_t r = 0; r < rows; ++r) row_forward(b, h, i0 + r, s, r, false);
        dense_logits_block(b.weight + h * b.c * b.k, b.c, b.k, s.dense_values.data(), b.kp, rows,
                           b.bias + h * b.c, s.block_logits.data(), b.cp);
      }
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t label = b.labels[i0 + r];
        if (!dense) row_forward(b, h, i0 + r, s, r);
        const float* logits = dense ? s.block_logits.data() + r * b.cp : s.logits.data();
        const float target = logits[label];
        int64_t above = 0;
        for (int64_t cc = 0; cc < b.c; ++cc) above += logits[cc] > target;
        counts[2 * h] += above == 0;
        counts[2 * h + 1] += above < 5;
      }
    }
  }
}

#if IIS_X86_DISPATCH
__attribute__((target("avx2,fma,popcnt"))) void step_rows_avx2(const Batch& b, int64_t r0,
                                                               int64_t r1, float* acc, double* loss,
                                                               float* gz) {
  step_rows_body(b, r0, r1, acc, loss, gz);
}
__attribute__((target("avx2,fma,popcnt"))) void hit_rows_avx2(const Batch& b, int64_t r0,
                                                              int64_t r1, int64_t* counts) {
  hit_rows_body(b, r0, r1, counts);
}
bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("popcnt");
  return yes;
}
#endif

void step_rows(const Batch& b, int64_t r0, int64_t r1, float* acc, double* loss, float* gz) {
#if IIS_X86_DISPATCH
  if (has_avx2()) return step_rows_avx2(b, r0, r1, acc, loss, gz);
#endif
  step_rows_body(b, r0, r1, acc, loss, gz);
}

void hit_rows(const Batch& b, int64_t r0, int64_t r1, int64_t* counts) {
#if IIS_X86_DISPATCH
  if (has_avx2()) return hit_rows_avx2(b, r0, r1, counts);
#endif
  hit_rows_body(b, r0, r1, counts);
}

void check_labels(const torch::Tensor& labels, int64_t c) {
  if (labels.numel() == 0) return;
  TORCH_CHECK(labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < c,
              "sparse heads: labels must lie in [0, ", c, ")");
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
  for_each_chunk(chunks, ws.threads, [&](int64_t chunk) {
    step_rows(b, chunk_begin(chunk, chunks, b_count), chunk_begin(chunk + 1, chunks, b_count),
              ws.partial.data() + chunk * h_count * stride, ws.loss.data() + chunk * h_count, gz);
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
                             torch::Tensor& threshold, SparseHeadsWorkspace& ws) {
  check_inputs(heads, scores);
  auto z = scores.contiguous();
  auto y_true = labels.to(torch::kInt64).contiguous();
  auto guess = contiguous_guess(hint);
  const Batch b = make_batch(heads, z, y_true, hint, guess, threshold, ws);
  check_labels(y_true, b.c);
  const int64_t h_count = b.h_count;
  const int64_t chunks = chunk_count(b.b_count);
  std::vector<int64_t> hits(static_cast<size_t>(chunks * h_count * 2), 0);
  for_each_chunk(chunks, ws.threads, [&](int64_t chunk) {
    hit_rows(b, chunk_begin(chunk, chunks, b.b_count), chunk_begin(chunk + 1, chunks, b.b_count),
             hits.data() + chunk * h_count * 2);
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
