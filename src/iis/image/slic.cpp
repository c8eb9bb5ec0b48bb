// SLIC superpixels following scikit-image 0.19's skimage.segmentation.slic step by step
// (rescale, CIELAB, Gaussian, grid seeds, windowed k-means, connectivity). Pixel data is
// float32 and every loop that touches it runs on 8 lanes; positions, centre sums and the
// seeding use double, as scikit-image does, so the label maps agree with its own.
#include "iis/image/slic.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "iis/core/error.hpp"

// The per-pixel loops are written with GCC/Clang vector extensions; on x86-64 GCC also builds
// an AVX2 clone of each, chosen at run time (no FMA, which would change the rounding).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define IIS_SLIC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define IIS_SLIC_CLONES
#endif
// The 8-lane values below only pass between inlined functions of this file, so the ABI note
// about returning them without AVX does not apply.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace iis::image {
namespace {

// Eight floats or int32s: one AVX register in the AVX2 clones, two SSE registers otherwise.
typedef float Floats8 __attribute__((vector_size(32)));
typedef int32_t Ints8 __attribute__((vector_size(32)));
constexpr int kLanes = 8;

// Unaligned loads and stores of 8 lanes.
template <typename V, typename T>
__attribute__((always_inline)) inline V load8(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V, typename T>
__attribute__((always_inline)) inline void store8(T* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

// ---------------------------------------------------------------------------------------
// Seeds

// Seeds spaced as skimage.util.regular_grid((1, H, W), n_points): the start and step of the
// grid along y and x (the depth axis of size 1 always gets start 0, step 1).
struct SeedGrid {
  int start_y = 0, start_x = 0;
  int step_y = 1, step_x = 1;
};

SeedGrid regular_grid(int height, int width, int64_t n_points) {
  const double shape[3] = {1.0, double(height), double(width)};
  // The dimensions sorted by size; ties keep their order (NumPy sorts 3 items stably).
  int order[3] = {0, 1, 2};
  std::stable_sort(order, order + 3, [&](int a, int b) { return shape[a] < shape[b]; });
  double sorted[3];
  for (int i = 0; i < 3; ++i) sorted[i] = shape[order[i]];

  const double space = shape[1] * shape[2];
  SeedGrid grid;
  if (space <= double(n_points)) return grid;  // every pixel is a seed

  double steps[3];
  std::fill(steps, steps + 3, std::pow(space / double(n_points), 1.0 / 3.0));
  auto fits = [&] {
    for (int i = 0; i < 3; ++i)
      if (sorted[i] < steps[i]) return false;
    return true;
  };
  if (!fits()) {
    // A dimension shorter than the step holds one seed; spread the rest over the others.
    for (int dim = 0; dim < 2; ++dim) {
      steps[dim] = sorted[dim];
      double rest = 1.0;
      for (int j = dim + 1; j < 3; ++j) rest *= sorted[j];
      for (int j = dim + 1; j < 3; ++j)
        steps[j] = std::pow(rest / double(n_points), 1.0 / double(3 - dim - 1));
      if (fits()) break;
    }
  }
  int start[3], step[3];
  for (int i = 0; i < 3; ++i) {
    start[order[i]] = int(std::floor(steps[i] / 2.0));
    step[order[i]] = int(std::nearbyint(steps[i]));  // NumPy rounds half to even
  }
  grid.start_y = start[1];
  grid.start_x = start[2];
  grid.step_y = std::max(step[1], 1);
  grid.step_x = std::max(step[2], 1);
  return grid;
}

// ---------------------------------------------------------------------------------------
// Colour and smoothing

// An image as three planes of floats, row-major, each padded by kLanes elements so that
// 8-lane loads and stores past a row's end stay inside the allocation.
struct Planes {
  int height = 0, width = 0;
  std::vector<float> c[3];
  void resize(int h, int w) {
    height = h;
    width = w;
    for (auto& plane : c) plane.resize(size_t(h) * w + kLanes, 0.0f);
  }
};

// sRGB → CIELAB (D65, 2° observer, scikit-image's constants) of n pixels given as linear
// r, g, b (each array padded to a multiple of 8); writes L, a, b.
IIS_SLIC_CLONES
void linear_rgb_to_lab(const float* r, const float* g, const float* b, int n, float* l_out,
                       float* a_out, float* b_out) {
  // XYZ = M · rgb, divided by the white point (0.95047, 1, 1.08883).
  static constexpr double kM[3][3] = {{0.412453, 0.357580, 0.180423},
                                      {0.212671, 0.715160, 0.072169},
                                      {0.019334, 0.119193, 0.950227}};
  static constexpr double kWhite[3] = {0.95047, 1.0, 1.08883};
  Floats8 m[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m[i][j] = Floats8{} + float(kM[i][j] / kWhite[i]);
  const Ints8 magic = Ints8{} + 709921077;
  for (int x = 0; x < n; x += kLanes) {
    const auto vr = load8<Floats8>(r + x), vg = load8<Floats8>(g + x), vb = load8<Floats8>(b + x);
    Floats8 f[3];
    for (int i = 0; i < 3; ++i) {
      const Floats8 t = vr * m[i][0] + vg * m[i][1] + vb * m[i][2];
      // cbrt: exponent / 3 on the bits (Kahan's trick), then two Halley steps.
      Ints8 bits;
      std::memcpy(&bits, &t, sizeof bits);
      bits = bits / 3 + magic;
      Floats8 y;
      std::memcpy(&y, &bits, sizeof y);
      for (int step = 0; step < 2; ++step) {
        const Floats8 y3 = y * y * y;
        y *= (y3 + 2.0f * t) / (2.0f * y3 + t);
      }
      const Floats8 linear = 7.787f * t + 16.0f / 116.0f;
      f[i] = t > 0.008856f ? y : linear;
    }
    store8(l_out + x, 116.0f * f[1] - 16.0f);
    store8(a_out + x, 500.0f * (f[0] - f[1]));
    store8(b_out + x, 200.0f * (f[1] - f[2]));
  }
}

// img_as_float, the rescale to [0, 1] by the global min and max, and rgb2lab, into `lab`.
void rgb_to_lab(const cv::Mat& rgb, Planes& lab) {
  const int height = rgb.rows, width = rgb.cols;
  uint8_t lo = 255, hi = 0;
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = rgb.ptr<uint8_t>(y);
    for (int i = 0; i < 3 * width; ++i) {
      lo = std::min(lo, row[i]);
      hi = std::max(hi, row[i]);
    }
  }
  // Only 256 input values exist: tabulate the rescaled, linearised (sRGB → linear) value.
  const double offset = double(lo) / 255.0;
  const double range = double(hi) / 255.0 - offset;
  float linear[256];
  for (int v = 0; v < 256; ++v) {
    double f = double(v) / 255.0 - offset;
    if (range != 0.0) f /= range;
    linear[v] = float(f > 0.04045 ? std::pow((f + 0.055) / 1.055, 2.4) : f / 12.92);
  }
  lab.resize(height, width);
  const int padded = (width + kLanes - 1) / kLanes * kLanes;
  std::vector<float> r(padded), g(padded), b(padded), out(3 * size_t(padded));
  for (int y = 0; y < height; ++y) {
    const uint8_t* in = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < width; ++x) {
      r[x] = linear[in[3 * x]];
      g[x] = linear[in[3 * x + 1]];
      b[x] = linear[in[3 * x + 2]];
    }
    linear_rgb_to_lab(r.data(), g.data(), b.data(), width, out.data(), out.data() + padded,
                      out.data() + 2 * padded);
    for (int i = 0; i < 3; ++i)
      std::copy_n(out.data() + i * padded, width, lab.c[i].data() + size_t(y) * width);
  }
}

// scipy.ndimage's Gaussian kernel for truncate=4: weights for offsets 0..radius.
std::vector<double> gaussian_kernel(double sigma) {
  const int radius = int(4.0 * sigma + 0.5);
  std::vector<double> full(2 * radius + 1);
  double total = 0.0;
  for (int i = -radius; i <= radius; ++i) {
    full[i + radius] = std::exp(-0.5 / (sigma * sigma) * double(i * i));
    total += full[i + radius];
  }
  std::vector<double> half(radius + 1);
  for (int j = 0; j <= radius; ++j) half[j] = full[radius + j] / total;
  return half;
}

// Index of position i of a line of length n extended in scipy's 'reflect' mode
// (d c b a | a b c d | d c b a), for any i.
inline int reflect_index(int i, int n) {
  int k = i % (2 * n);
  if (k < 0) k += 2 * n;
  return k < n ? k : 2 * n - 1 - k;
}

// out[i] = Σ_j in[i + j]·w[|j|], for i in 0..n-1 (in indexable from -r to n-1+r).
IIS_SLIC_CLONES
void correlate_line(const float* in, float* out, int n, const float* w, int r) {
  for (int i = 0; i < n; ++i) out[i] = in[i] * w[0];
  for (int j = 1; j <= r; ++j) {
    const float wj = w[j];
    for (int i = 0; i < n; ++i) out[i] += (in[i - j] + in[i + j]) * wj;
  }
}

// out = Σ_j rows[j]·w[|j - r|] over 2r+1 rows of n values.
IIS_SLIC_CLONES
void correlate_rows(const float* const* rows, float* out, int n, const float* w, int r) {
  const float* centre = rows[r];
  for (int i = 0; i < n; ++i) out[i] = centre[i] * w[0];
  for (int j = 1; j <= r; ++j) {
    const float* up = rows[r - j];
    const float* down = rows[r + j];
    const float wj = w[j];
    for (int i = 0; i < n; ++i) out[i] += (up[i] + down[i]) * wj;
  }
}

// scikit-image's gaussian(lab, sigma, mode='reflect') on each plane (the depth axis of length
// 1 is a no-op), followed by the multiplication by 1 / compactness: from `lab` into `out`.
void smooth_and_scale(const Planes& lab, double sigma, double ratio, Planes& out) {
  const int height = lab.height, width = lab.width;
  out.resize(height, width);
  if (sigma <= 0) {
    for (int i = 0; i < 3; ++i)
      for (size_t p = 0; p < lab.c[i].size(); ++p) out.c[i][p] = float(lab.c[i][p] * ratio);
    return;
  }
  const std::vector<double> kernel = gaussian_kernel(sigma);
  const int r = int(kernel.size()) - 1;
  std::vector<float> w(r + 1), w_scaled(r + 1);
  for (int j = 0; j <= r; ++j) {
    w[j] = float(kernel[j]);
    w_scaled[j] = float(kernel[j] * ratio);
  }
  std::vector<float> column(width), line(size_t(width) + 2 * r);
  std::vector<const float*> rows(2 * r + 1);
  for (int i = 0; i < 3; ++i) {
    for (int y = 0; y < height; ++y) {
      for (int j = -r; j <= r; ++j)
        rows[j + r] = lab.c[i].data() + size_t(reflect_index(y + j, height)) * width;
      correlate_rows(rows.data(), column.data(), width, w.data(), r);
      std::copy_n(column.data(), width, line.data() + r);
      for (int x = 1; x <= r; ++x) {
        line[r - x] = column[reflect_index(-x, width)];
        line[r + width - 1 + x] = column[reflect_index(width - 1 + x, width)];
      }
      correlate_line(line.data() + r, out.c[i].data() + size_t(y) * width, width, w_scaled.data(),
                     r);
    }
  }
}

// ---------------------------------------------------------------------------------------
// k-means

// A cluster centre: position, colour (CIELAB / compactness), and whether it still owns
// pixels (a centre that lost all its pixels becomes NaN in scikit-image and never wins a
// pixel again).
struct Centre {
  double y, x, c[3];
  bool alive;
};

// What one image row needs to know of a centre whose window covers it.
struct RowCandidate {
  int32_t k;
  int x0, x1;        // the window's columns
  float dy2;         // (centre y - row)² · spatial weight
  float c[3];        // colour
  const float* dx2;  // (centre x - x)² · spatial weight for x = x0..x1-1, padded by 8
};

// Offers the pixels x0..x1-1 of a row to one centre: a pixel moves to it when its distance
// dy²·w + dx²·w + |colour - c|² is strictly smaller than the best so far (as in scikit-image,
// where ties stay with the earlier centre). Lanes past x1 are masked.
__attribute__((always_inline)) inline void offer_row(const float* const p[3],
                                                     const RowCandidate& cand, const Ints8& lane,
                                                     float* __restrict best,
                                                     int32_t* __restrict label) {
  // Everything in locals: the stores below could otherwise alias them and force reloads.
  const float* __restrict p0 = p[0];
  const float* __restrict p1 = p[1];
  const float* __restrict p2 = p[2];
  const float* __restrict dx2 = cand.dx2 - cand.x0;
  const int x0 = cand.x0, x1 = cand.x1;
  const Floats8 dy2 = Floats8{} + cand.dy2;
  const Floats8 c0 = Floats8{} + cand.c[0], c1 = Floats8{} + cand.c[1], c2 = Floats8{} + cand.c[2];
  const Ints8 k = Ints8{} + cand.k;
  auto step = [&](int x, const Ints8& mask) {
    const Floats8 t0 = load8<Floats8>(p0 + x) - c0;
    const Floats8 t1 = load8<Floats8>(p1 + x) - c1;
    const Floats8 t2 = load8<Floats8>(p2 + x) - c2;
    const Floats8 d = (dy2 + load8<Floats8>(dx2 + x)) + ((t0 * t0 + t1 * t1) + t2 * t2);
    const auto b = load8<Floats8>(best + x);
    const auto l = load8<Ints8>(label + x);
    const Ints8 closer = (b > d) & mask;
    store8(best + x, closer ? d : b);
    store8(label + x, closer ? k : l);
  };
  int x = x0;
  for (; x + kLanes <= x1; x += kLanes) step(x, Ints8{} - 1);
  if (x < x1) step(x, lane < (x1 - x));
}

// One assignment step for one row: the centres whose window covers the row are offered it
// in index order. best and label hold width + 8 values; pixels no window covers keep their
// label.
IIS_SLIC_CLONES
void assign_row(const float* const p[3], const RowCandidate* cands, int n_cands, float* best,
                int32_t* label, int width) {
  std::fill_n(best, width + kLanes, std::numeric_limits<float>::max());
  Ints8 lane;
  for (int j = 0; j < kLanes; ++j) lane[j] = j;
  for (int c = 0; c < n_cands; ++c) offer_row(p, cands[c], lane, best, label);
}

// Per-row prefix sums of the three planes (H rows of W + 1 doubles each), so that the colour
// sum of any run of pixels in a row costs one subtraction.
struct RowPrefixSums {
  int width = 0;
  std::vector<double> c[3];
  void compute(const Planes& image) {
    width = image.width;
    for (int i = 0; i < 3; ++i) {
      c[i].resize(size_t(image.height) * (width + 1));
      for (int y = 0; y < image.height; ++y) {
        const float* in = image.c[i].data() + size_t(y) * width;
        double* out = c[i].data() + size_t(y) * (width + 1);
        double sum = 0.0;
        out[0] = 0.0;
        for (int x = 0; x < width; ++x) out[x + 1] = sum += double(in[x]);
      }
    }
  }
  double run(int i, int y, int x0, int x1) const {
    const double* row = c[i].data() + size_t(y) * (width + 1);
    return row[x1] - row[x0];
  }
};

// Running sums of the pixels of each centre, for the centre update.
struct CentreSums {
  std::vector<int64_t> count, y, x;
  std::vector<double> colour;  // 3 per centre
  void reset(size_t n) {
    count.assign(n, 0);
    y.assign(n, 0);
    x.assign(n, 0);
    colour.assign(3 * n, 0.0);
  }
  void add_run(const RowPrefixSums& prefix, int32_t k, int row, int x0, int x1) {
    if (k < 0) return;
    const int n = x1 - x0;
    count[k] += n;
    y[k] += int64_t(row) * n;
    x[k] += int64_t(x0 + x1 - 1) * n / 2;
    for (int i = 0; i < 3; ++i) colour[3 * size_t(k) + i] += prefix.run(i, row, x0, x1);
  }
};

// Adds row y's pixels to the sums of their centres, run by run (runs of equal labels, found
// 8 labels at a time).
IIS_SLIC_CLONES
void accumulate_row(const RowPrefixSums& prefix, const int32_t* label, int width, int y,
                    CentreSums& sums) {
  int start = 0;
  for (int x = 1; x < width; x += kLanes) {
    const int end = std::min(x + kLanes, width);
    if (end - x == kLanes) {
      const Ints8 changed = load8<Ints8>(label + x) != load8<Ints8>(label + x - 1);
      uint64_t any[4];
      std::memcpy(any, &changed, sizeof any);
      if ((any[0] | any[1] | any[2] | any[3]) == 0) continue;
    }
    for (int i = x; i < end; ++i) {
      if (label[i] != label[i - 1]) {
        sums.add_run(prefix, label[start], y, start, i);
        start = i;
      }
    }
  }
  sums.add_run(prefix, label[start], y, start, width);
}

// Labels of an H×W image with a one-pixel border all round (row stride W + 2, plus kLanes
// spare elements at the end): the border holds kBorder, which matches no label.
constexpr int32_t kBorder = std::numeric_limits<int32_t>::min();
struct LabelGrid {
  int height = 0, width = 0, stride = 0;
  std::vector<int32_t> cells;
  void reset(int h, int w, int32_t interior) {
    height = h;
    width = w;
    stride = w + 2;
    cells.assign(size_t(h + 2) * stride + kLanes, kBorder);
    for (int y = 0; y < h; ++y) std::fill_n(row(y), w, interior);
  }
  int32_t* row(int y) { return cells.data() + size_t(y + 1) * stride + 1; }
  const int32_t* row(int y) const { return cells.data() + size_t(y + 1) * stride + 1; }
};

// The windowed k-means of scikit-image's _slic_cython: max_iter assignment steps, each
// followed by moving the centres to the mean position and colour of their pixels. Leaves
// the labels in `labels` (-1 for a pixel no window ever covered, which does not happen with
// scikit-image's seeding).
void cluster(const Planes& image, std::vector<Centre> centres, int window_step_y, int window_step_x,
             double spatial_weight, int max_iter, LabelGrid& labels, RowPrefixSums& prefix) {
  const int height = image.height, width = image.width;
  const auto n_centres = int32_t(centres.size());
  labels.reset(height, width, -1);
  CentreSums sums;
  if (max_iter > 1) prefix.compute(image);
  struct Window {
    int y0, y1, x0, x1;
  };
  std::vector<Window> window(n_centres);
  std::vector<size_t> dx2_offset(n_centres);
  std::vector<float> dx2;
  std::vector<RowCandidate> cands;
  std::vector<float> best(size_t(width) + kLanes);

  for (int iter = 0; iter < max_iter; ++iter) {
    dx2.clear();
    for (int32_t k = 0; k < n_centres; ++k) {
      const Centre& c = centres[k];
      Window& win = window[k];
      win = {0, 0, 0, 0};
      if (!c.alive) continue;
      // Truncation of non-negative doubles, as the Cython casts do.
      win.y0 = int(std::max(c.y - 2.0 * window_step_y, 0.0));
      win.y1 = int(std::min(c.y + 2.0 * window_step_y + 1.0, double(height)));
      win.x0 = int(std::max(c.x - 2.0 * window_step_x, 0.0));
      win.x1 = int(std::min(c.x + 2.0 * window_step_x + 1.0, double(width)));
      dx2_offset[k] = dx2.size();
      for (int x = win.x0; x < win.x1; ++x) {
        const double d = c.x - double(x);
        dx2.push_back(float(d * d * spatial_weight));
      }
      dx2.resize(dx2.size() + kLanes, 0.0f);
    }
    const bool update = iter + 1 < max_iter;  // the last update cannot change the labels
    if (update) sums.reset(n_centres);
    for (int y = 0; y < height; ++y) {
      cands.clear();
      for (int32_t k = 0; k < n_centres; ++k) {
        const Window& win = window[k];
        if (y < win.y0 || y >= win.y1 || win.x0 >= win.x1) continue;
        const Centre& c = centres[k];
        const double dy = c.y - double(y);
        cands.push_back({k,
                         win.x0,
                         win.x1,
                         float(dy * dy * spatial_weight),
                         {float(c.c[0]), float(c.c[1]), float(c.c[2])},
                         dx2.data() + dx2_offset[k]});
      }
      const size_t row = size_t(y) * width;
      const float* p[3] = {image.c[0].data() + row, image.c[1].data() + row,
                           image.c[2].data() + row};
      int32_t* label = labels.row(y);
      assign_row(p, cands.data(), int(cands.size()), best.data(), label, width);
      if (update) accumulate_row(prefix, label, width, y, sums);
    }
    if (!update) break;
    for (int32_t k = 0; k < n_centres; ++k) {
      Centre& c = centres[k];
      if (sums.count[k] == 0) {
        c.alive = false;
        continue;
      }
      const double n = double(sums.count[k]);
      c.y = double(sums.y[k]) / n;
      c.x = double(sums.x[k]) / n;
      for (int i = 0; i < 3; ++i) c.c[i] = sums.colour[3 * size_t(k) + i] / n;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Connectivity

// scikit-image's _enforce_label_connectivity_cython: relabels 4-connected components in
// raster order of their first pixel; a component smaller than min_size joins the last
// labelled neighbour its breadth-first search met (neighbours in the order x+1, x-1, y+1,
// y-1); a search stops growing at max_size pixels. Unlike scikit-image, pixels labelled -1
// form components too, so that every pixel ends up labelled.
void enforce_connectivity(const LabelGrid& labels, int64_t min_size, int64_t max_size,
                          LabelGrid& out, std::vector<size_t>& queue) {
  const int height = labels.height, width = labels.width, stride = labels.stride;
  out.reset(height, width, -1);
  std::fill(out.cells.begin(), out.cells.end(), -1);  // the border is never labelled
  const int32_t* in = labels.cells.data();
  int32_t* done = out.cells.data();
  const ptrdiff_t neighbour[4] = {1, -1, stride, -stride};
  queue.resize(size_t(std::max<int64_t>(max_size, 1)));
  int32_t next_label = 0;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const size_t start = size_t(y + 1) * stride + x + 1;
      if (done[start] >= 0) continue;
      const int32_t label = in[start];
      int32_t adjacent = next_label;
      done[start] = next_label;
      queue[0] = start;
      int64_t size = 1, visited = 0;
      while (visited < size && size < max_size) {
        const size_t p = queue[visited];
        for (ptrdiff_t offset : neighbour) {
          const size_t q = p + offset;
          if (in[q] == label && done[q] < 0) {
            done[q] = next_label;
            queue[size++] = q;
            if (size >= max_size) break;
          } else if (done[q] >= 0 && done[q] != next_label) {
            adjacent = done[q];
          }
        }
        ++visited;
      }
      if (size < min_size) {
        for (int64_t i = 0; i < size; ++i) done[queue[i]] = adjacent;
      } else {
        ++next_label;
      }
    }
  }
}

// Renumbers labels to 0..n-1 in increasing order of their value (when connectivity is not
// enforced: scikit-image leaves gaps for centres that lost all their pixels).
void compact_labels(LabelGrid& labels, int32_t n_centres) {
  std::vector<int32_t> map(size_t(n_centres) + 1, -1);
  for (int y = 0; y < labels.height; ++y)
    for (int x = 0; x < labels.width; ++x) {
      const int32_t v = labels.row(y)[x];
      map[v < 0 ? n_centres : v] = 0;
    }
  int32_t next = 0;
  for (auto& m : map)
    if (m == 0) m = next++;
  for (int y = 0; y < labels.height; ++y)
    for (int x = 0; x < labels.width; ++x) {
      int32_t& v = labels.row(y)[x];
      v = map[v < 0 ? n_centres : v];
    }
}

// Buffers reused by the calls to slic() on one thread: fresh memory costs page faults,
// which take a good part of a small image's time.
struct Workspace {
  Planes lab, image;
  RowPrefixSums prefix;
  LabelGrid labels, connected;
  std::vector<size_t> queue;
};

void validate(const cv::Mat& rgb, const SlicOptions& o) {
  IIS_CHECK_HINT(!rgb.empty(), "slic: the image is empty", "pass an image of at least 1×1 pixels");
  IIS_CHECK_HINT(rgb.type() == CV_8UC3,
                 "slic: expected an 8-bit 3-channel RGB image, got OpenCV type " << rgb.type(),
                 "read images with iis::image::read_rgb, which converts every format to RGB");
  IIS_CHECK_HINT(int64_t(rgb.rows) * rgb.cols < (int64_t(1) << 30),
                 "slic: the image is too large (" << rgb.rows << "×" << rgb.cols << ")",
                 "resize it below 2^30 pixels");
  IIS_CHECK_HINT(o.n_segments >= 1, "--n-segments must be >= 1, got " << o.n_segments,
                 "the paper uses 10, 20 and 30");
  IIS_CHECK_HINT(o.compactness > 0 && std::isfinite(o.compactness),
                 "--compactness must be a finite number > 0, got " << o.compactness,
                 "the paper uses 10; try values on a log scale, e.g. 1, 10, 100");
  IIS_CHECK_HINT(o.sigma >= 0 && std::isfinite(o.sigma),
                 "--sigma must be a finite number >= 0, got " << o.sigma,
                 "the paper uses 1; 0 turns the smoothing off");
  IIS_CHECK_HINT(o.max_iter >= 1, "slic: max_iter must be >= 1, got " << o.max_iter,
                 "scikit-image's default is 10");
  IIS_CHECK_HINT(o.min_size_factor >= 0 && o.max_size_factor > 0,
                 "slic: min_size_factor must be >= 0 and max_size_factor > 0, got "
                     << o.min_size_factor << " and " << o.max_size_factor,
                 "scikit-image's defaults are 0.5 and 3");
}

}  // namespace

cv::Mat slic(const cv::Mat& rgb, const SlicOptions& options) {
  validate(rgb, options);
  const int height = rgb.rows, width = rgb.cols;
  thread_local Workspace ws;

  rgb_to_lab(rgb, ws.lab);
  smooth_and_scale(ws.lab, options.sigma, 1.0 / options.compactness, ws.image);

  // Seeds on a regular grid with colour zero (so the first assignment is purely spatial).
  const SeedGrid seeds = regular_grid(height, width, options.n_segments);
  std::vector<Centre> centres;
  for (int y = seeds.start_y; y < height; y += seeds.step_y)
    for (int x = seeds.start_x; x < width; x += seeds.step_x)
      centres.push_back({double(y), double(x), {0.0, 0.0, 0.0}, true});
  const auto n_centres = int32_t(centres.size());
  const double step = std::max({1.0, double(seeds.step_y), double(seeds.step_x)});
  // The search windows use the grid recomputed for the number of seeds actually placed.
  const SeedGrid windows = regular_grid(height, width, n_centres);
  cluster(ws.image, std::move(centres), windows.step_y, windows.step_x, 1.0 / (step * step),
          options.max_iter, ws.labels, ws.prefix);

  const LabelGrid* result = &ws.labels;
  if (options.enforce_connectivity) {
    const double segment_size = double(height) * width / double(n_centres);
    const auto min_size = int64_t(options.min_size_factor * segment_size);
    const auto max_size = int64_t(options.max_size_factor * segment_size);
    enforce_connectivity(ws.labels, min_size, max_size, ws.connected, ws.queue);
    result = &ws.connected;
  } else {
    compact_labels(ws.labels, n_centres);
  }
  cv::Mat out(height, width, CV_32S);
  for (int y = 0; y < height; ++y) std::copy_n(result->row(y), width, out.ptr<int32_t>(y));
  return out;
}

}  // namespace iis::image
