// k-means of element vectors (greedy k-means++ seeding, Lloyd iterations): cluster concepts.
#include "iis/concepts/kmeans.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "iis/core/error.hpp"
#include "iis/core/parallel.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/random.hpp"
#include "iis/io/npy.hpp"

namespace iis::concepts {

namespace {

using torch::Tensor;

// Row indices are drawn by scaling a uniform double (the mapping this k-means has always used).
int64_t uniform_index(core::SeededRandom& rng, int64_t n) {
  return static_cast<int64_t>(rng.index(static_cast<uint64_t>(n), core::IndexMap::Scaled));
}

// Rows per distance block: one block of scores (rows×K float32) stays within ~32 MiB.
int64_t rows_per_block(int64_t k, int64_t requested) {
  if (requested > 0) return requested;
  return std::max<int64_t>(256, (int64_t{8} << 20) / std::max<int64_t>(k, 1));
}

// Rows per task of the element-wise loops. Sums are formed per fixed chunk and then added in
// chunk order, so results do not depend on the thread count.
constexpr int64_t kChunkRows = 2048;

// Runs body(chunk, begin, end) over fixed row chunks of [0, n), in parallel when there is
// enough work (`row_cost` ~ operations per row) to pay for waking a second thread. Few,
// large parallel regions: on a busy machine every region waits for its slowest thread.
template <typename Body>
void for_chunks(int64_t n, int64_t row_cost, const Body& body) {
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 18) / (kChunkRows * row_cost));
  core::parallel_for(0, chunks, grain, [&](int64_t first, int64_t last) {
    for (int64_t c = first; c < last; ++c) {
      body(c, c * kChunkRows, std::min(n, (c + 1) * kChunkRows));
    }
  });
}

// `count` distinct rows of [0, m), ascending, drawn uniformly (partial Fisher-Yates).
std::vector<int64_t> sample_rows(int64_t m, int64_t count, core::SeededRandom& rng) {
  std::vector<int64_t> rows(m);
  for (int64_t i = 0; i < m; ++i) rows[i] = i;
  rng.sample_front(rows, static_cast<size_t>(count), core::IndexMap::Scaled);
  rows.resize(count);
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Squared row norms of a contiguous M×D float32 matrix: M float32.
Tensor squared_norms(const Tensor& X) {
  const int64_t m = X.size(0), d = X.size(1);
  Tensor out = torch::empty({m}, torch::kFloat);
  const float* x = X.data_ptr<float>();
  float* o = out.data_ptr<float>();
  for_chunks(m, d, [&](int64_t, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float sum = 0;
      for (int64_t j = 0; j < d; ++j) sum += x[i * d + j] * x[i * d + j];
      o[i] = sum;
    }
  });
  return out;
}

// The distance kernels are compiled twice, for AVX2+FMA and for baseline x86-64, and the CPU
// picks one at load time: the same binary runs everywhere and vectorises 8 floats wide where
// it can.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IIS_VECTOR_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define IIS_VECTOR_CLONES
#endif

// ‖a − b‖² of two float rows of length d, from the differences (no cancellation), with 8
// independent partial sums so that the compiler can vectorise it.
__attribute__((always_inline)) inline float squared_distance(const float* a, const float* b,
                                                             int64_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    for (int u = 0; u < 8; ++u) {
      const float diff = a[j + u] - b[j + u];
      acc[u] += diff * diff;
    }
  }
  float total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < d; ++j) total += (a[j] - b[j]) * (a[j] - b[j]);
  return total;
}

// Rows [begin, end) of X (row length d) against `trials` candidate rows: out[i][t] =
// min(closest[i], ‖x_i − candidate_t‖²), and sums[t] += out[i][t].
IIS_VECTOR_CLONES
void reduce_to_candidates(const float* x, int64_t d, const float* candidates, int64_t trials,
                          const float* closest, int64_t begin, int64_t end, float* out,
                          double* sums) {
  for (int64_t i = begin; i < end; ++i) {
    for (int64_t t = 0; t < trials; ++t) {
      const float v = std::min(closest[i], squared_distance(x + i * d, candidates + t * d, d));
      out[i * trials + t] = v;
      sums[t] += v;
    }
  }
}

// Greedy k-means++: the first centre is a uniform row; each next one is the best of `trials`
// rows drawn with probability proportional to their squared distance to the nearest centre so
// far, "best" meaning the lowest resulting potential (sum of those distances). X: M×D float32
// contiguous. Returns K×D float32 (rows of X). Each step is one fused pass over X: a matrix
// product with a handful of columns runs far below the memory bandwidth.
Tensor kmeans_plusplus(const Tensor& X, int64_t k, int64_t trials, core::SeededRandom& rng) {
  const int64_t m = X.size(0), d = X.size(1);
  const int64_t chunks = (m + kChunkRows - 1) / kChunkRows;
  const float* x = X.data_ptr<float>();
  std::vector<int64_t> chosen{uniform_index(rng, m)};
  chosen.reserve(k);
  std::vector<float> closest(m, std::numeric_limits<float>::infinity());
  std::vector<float> reduced(m * trials), rows(trials * d);
  std::vector<double> cumulative(m), partial(chunks * trials);
  std::vector<int64_t> candidates(trials);

  // Evaluates `count` candidates (their rows in `rows`); returns the best one's index.
  auto best_of = [&](int64_t count) {
    for_chunks(m, 3 * d * count, [&](int64_t chunk, int64_t begin, int64_t end) {
      double* sums = partial.data() + chunk * trials;
      std::fill(sums, sums + trials, 0.0);
      reduce_to_candidates(x, d, rows.data(), count, closest.data(), begin, end, reduced.data(),
                           sums);
    });
    int64_t best = 0;
    double best_potential = 0;
    for (int64_t t = 0; t < count; ++t) {
      double potential = 0;
      for (int64_t chunk = 0; chunk < chunks; ++chunk) potential += partial[chunk * trials + t];
      if (t == 0 || potential < best_potential) best = t, best_potential = potential;
    }
    for (int64_t i = 0; i < m; ++i) closest[i] = reduced[i * count + best];
    return best;
  };

  std::copy(x + chosen[0] * d, x + (chosen[0] + 1) * d, rows.begin());
  best_of(1);
  for (int64_t c = 1; c < k; ++c) {
    double running = 0;
    for (int64_t i = 0; i < m; ++i) cumulative[i] = running += closest[i];
    for (int64_t t = 0; t < trials; ++t) {
      const double draw = rng.uniform() * running;
      // First row whose cumulative sum reaches the draw; rounding past the end: the last row.
      const auto it = std::lower_bound(cumulative.begin(), cumulative.end(), draw);
      candidates[t] = std::min<int64_t>(m - 1, it - cumulative.begin());
      std::copy(x + candidates[t] * d, x + (candidates[t] + 1) * d, rows.begin() + t * d);
    }
    chosen.push_back(candidates[best_of(trials)]);
  }
  return X.index_select(0, torch::tensor(chosen, torch::kLong));
}

// Assignment step: labels (M int64) and squared distances (M float32) of each row of X (M×D
// float32 contiguous, squared norms x_sq) to its nearest centre of C (K×D): one matrix
// product per block of rows, then one pass for the nearest centre.
void assign(const Tensor& X, const Tensor& x_sq, const Tensor& C, int64_t block, Tensor& labels,
            Tensor& sq_dist) {
  const int64_t m = X.size(0), k = C.size(0);
  Tensor c_sq = squared_norms(C);
  Tensor ct = C.t();
  Tensor dots = torch::empty({std::min(m, block), k}, torch::kFloat);
  const float* cs = c_sq.data_ptr<float>();
  const float* xs = x_sq.data_ptr<float>();
  int64_t* label = labels.data_ptr<int64_t>();
  float* dist = sq_dist.data_ptr<float>();
  for (int64_t start = 0; start < m; start += block) {
    const int64_t n = std::min(block, m - start);
    Tensor part = dots.narrow(0, 0, n);
    torch::mm_out(part, X.narrow(0, start, n), ct);
    const float* dp = part.data_ptr<float>();
    for_chunks(n, 2 * k, [&](int64_t, int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        // ‖c‖² − 2x·c; the row's own ‖x‖² does not change which centre is nearest.
        const float* row = dp + i * k;
        int64_t nearest = 0;
        float lowest = cs[0] - 2 * row[0];
        for (int64_t j = 1; j < k; ++j) {
          const float score = cs[j] - 2 * row[j];
          if (score < lowest) lowest = score, nearest = j;
        }
        label[start + i] = nearest;
        dist[start + i] = std::max(0.f, xs[start + i] + lowest);
      }
    });
  }
}

// Sum of a float vector in double.
double sum_of(const Tensor& v) {
  const float* p = v.data_ptr<float>();
  double total = 0;
  for (int64_t i = 0; i < v.numel(); ++i) total += p[i];
  return total;
}

// Update step: each centre becomes the mean of its rows (sums in double). A cluster left
// empty takes the row farthest from its centre, which leaves its own cluster (scikit-learn's
// relocation); a cluster that would be left with no rows keeps its old centre. `shift`
// receives the summed squared movement of the centres.
Tensor update_centres(const Tensor& X, const Tensor& labels, const Tensor& sq_dist,
                      const Tensor& old_centres, double& shift) {
  const int64_t m = X.size(0), d = X.size(1), k = old_centres.size(0);
  const float* x = X.data_ptr<float>();
  const int64_t* label = labels.data_ptr<int64_t>();
  std::vector<double> sums(k * d, 0.0);
  std::vector<int64_t> counts(k, 0);
  for (int64_t i = 0; i < m; ++i) ++counts[label[i]];
  // Threads own disjoint column ranges, so the sums need no locks and do not depend on the
  // thread count; a second thread only joins for enough rows.
  const int64_t column_grain = m * d < (int64_t{1} << 18) ? d : 16;
  core::parallel_for(0, d, column_grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = 0; i < m; ++i) {
      double* sum = sums.data() + label[i] * d;
      const float* row = x + i * d;
      for (int64_t j = begin; j < end; ++j) sum[j] += row[j];
    }
  });
  std::vector<int64_t> empty;
  for (int64_t c = 0; c < k; ++c) {
    if (counts[c] == 0) empty.push_back(c);
  }
  if (!empty.empty()) {
    Tensor farthest = std::get<1>(sq_dist.topk(static_cast<int64_t>(empty.size())));
    // (ties: topk's order; scikit-learn's argpartition leaves it unspecified too)
    for (size_t e = 0; e < empty.size(); ++e) {
      const int64_t row = farthest[static_cast<int64_t>(e)].item<int64_t>();
      const int64_t from = label[row], to = empty[e];
      for (int64_t j = 0; j < d; ++j) {
        sums[from * d + j] -= x[row * d + j];
        sums[to * d + j] = x[row * d + j];
      }
      --counts[from];
      counts[to] = 1;
    }
  }

  Tensor centres = torch::empty({k, d}, torch::kFloat);
  float* out = centres.data_ptr<float>();
  const float* old = old_centres.data_ptr<float>();
  shift = 0;
  for (int64_t c = 0; c < k; ++c) {
    for (int64_t j = 0; j < d; ++j) {
      out[c * d + j] =
          counts[c] > 0 ? static_cast<float>(sums[c * d + j] / counts[c]) : old[c * d + j];
      const double move = static_cast<double>(out[c * d + j]) - old[c * d + j];
      shift += move * move;
    }
  }
  return centres;
}

// Sum over rows of ‖x − C[label]‖², computed from the differences (not the expansion), in
// double. X: M×D, C: K×D float32 contiguous; labels: M int64.
double inertia_of(const Tensor& X, const Tensor& C, const Tensor& labels) {
  const int64_t m = X.size(0), d = X.size(1);
  const float* x = X.data_ptr<float>();
  const float* c = C.data_ptr<float>();
  const int64_t* label = labels.data_ptr<int64_t>();
  std::vector<double> partial((m + kChunkRows - 1) / kChunkRows, 0.0);
  for_chunks(m, d, [&](int64_t chunk, int64_t begin, int64_t end) {
    double total = 0;
    for (int64_t i = begin; i < end; ++i) {
      const float* centre = c + label[i] * d;
      for (int64_t j = 0; j < d; ++j) {
        const double diff = static_cast<double>(x[i * d + j]) - centre[j];
        total += diff * diff;
      }
    }
    partial[chunk] = total;
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

// Throws for an empty or non-finite X (naming the first bad row) or a wrong shape.
void check_rows(const Tensor& X) {
  IIS_CHECK_HINT(X.defined() && X.dim() == 2,
                 "k-means: expected an M×D matrix of element vectors, got "
                     << (X.defined() ? std::to_string(X.dim()) + " dimensions" : "nothing"),
                 "pass the element vectors as one row per element");
  IIS_CHECK_HINT(X.size(0) > 0 && X.size(1) > 0,
                 "k-means: the element set is empty (" << X.size(0) << "×" << X.size(1) << ")",
                 "extract elements first (iis elements) and embed them");
  IIS_CHECK_HINT(X.is_floating_point(),
                 "k-means: expected float element vectors, got " << X.scalar_type(),
                 "save the element vectors as float32");
  Tensor bad_rows = torch::isfinite(X).all(/*dim=*/1).logical_not();
  if (bad_rows.any().item<bool>()) {
    const int64_t row = bad_rows.nonzero()[0][0].item<int64_t>();
    IIS_FAIL("k-means: element row " << row << " holds NaN or Inf",
             "recompute the element vectors; a diverged backbone gives non-finite outputs");
  }
}

}  // namespace

void validate(const KMeansOptions& options) {
  IIS_CHECK_HINT(options.k >= 1, "number of clusters K must be >= 1, got " << options.k,
                 "set --num-concepts (iis fit) or --k (iis kmeans) to a positive count");
  IIS_CHECK_HINT(
      options.max_elements >= 0,
      "--kmeans-max-elements must be >= 0 (0 = all elements), got " << options.max_elements,
      "use e.g. --kmeans-max-elements 20000");
  IIS_CHECK_HINT(options.max_elements == 0 || options.k <= options.max_elements,
                 "number of clusters K = " << options.k << " exceeds --kmeans-max-elements "
                                           << options.max_elements,
                 "raise --kmeans-max-elements or lower the number of concepts");
  IIS_CHECK_HINT(std::isfinite(options.tol) && options.tol >= 0,
                 "--kmeans-tol must be a finite number >= 0, got " << options.tol,
                 "the default is 1e-4 (relative to the mean feature variance)");
  IIS_CHECK_HINT(options.max_iter >= 1, "--kmeans-max-iter must be >= 1, got " << options.max_iter,
                 "the default is 300");
  IIS_CHECK_HINT(options.local_trials >= 0,
                 "k-means++ local trials must be >= 0 (0 = 2 + ln K), got " << options.local_trials,
                 "leave it at 0");
  IIS_CHECK_HINT(options.block_rows >= 0,
                 "k-means block rows must be >= 0 (0 = automatic), got " << options.block_rows,
                 "leave it at 0");
}

KMeansResult kmeans(const torch::Tensor& elements, const KMeansOptions& options) {
  validate(options);
  check_rows(elements);
  // At most max_elements rows: the CPU is fast enough, and the update step runs on raw rows.
  const Tensor X = elements.cpu();
  const int64_t m = X.size(0), k = options.k;
  const int64_t used = options.max_elements > 0 ? std::min(m, options.max_elements) : m;
  IIS_CHECK_HINT(k <= m,
                 "k-means: " << k << " clusters requested but there are only " << m << " elements",
                 "lower the number of concepts or extract more elements");

  const auto start_time = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  core::SeededRandom rng(options.seed);
  KMeansResult result;
  result.sample = used < m ? torch::tensor(sample_rows(m, used, rng), torch::kLong)
                           : torch::arange(m, torch::kLong);
  Tensor rows = (used < m ? X.index_select(0, result.sample) : X).to(torch::kFloat).contiguous();

  // Centring changes no distance but keeps ‖x‖² − 2x·c + ‖c‖² accurate in float32.
  // Any shift would do (it is added back); the mean makes the norms smallest.
  Tensor mean = rows.mean(/*dim=*/{0}, /*keepdim=*/true);
  Tensor data = (rows - mean).contiguous();
  rows = Tensor();
  Tensor x_sq = squared_norms(data);
  // scikit-learn's tolerance: tol × the mean over features of their variance.
  const double tolerance = options.tol * sum_of(x_sq) / static_cast<double>(data.numel());
  const int64_t block = rows_per_block(k, options.block_rows);

  const int64_t trials = options.local_trials > 0
                             ? options.local_trials
                             : 2 + static_cast<int64_t>(std::log(static_cast<double>(k)));
  Tensor centres = kmeans_plusplus(data, k, trials, rng);

  Tensor labels = torch::full({used}, -1, torch::kLong);
  Tensor previous = labels.clone();
  Tensor sq_dist = torch::empty({used}, torch::kFloat);
  bool unchanged = false;
  for (int64_t iteration = 0; iteration < options.max_iter; ++iteration) {
    core::check_interrupt();  // no progress bar here: a long clustering stops on Ctrl-C too
    assign(data, x_sq, centres, block, labels, sq_dist);
    result.inertia_trace.push_back(sum_of(sq_dist));
    double shift = 0;
    centres = update_centres(data, labels, sq_dist, centres, shift);
    result.iterations = iteration + 1;
    if (std::equal(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + used,
                   previous.data_ptr<int64_t>())) {
      unchanged = true;
      result.converged = true;
      break;
    }
    if (shift <= tolerance) {
      result.converged = true;
      break;
    }
    previous.copy_(labels);
  }
  // Unless the labels were already stable, the last update moved the centres: re-assign so
  // that labels and centres agree (as scikit-learn does).
  if (!unchanged) assign(data, x_sq, centres, block, labels, sq_dist);
  result.inertia = inertia_of(data, centres, labels);

  result.centres = (centres + mean).contiguous();
  if (used == m) {
    result.labels = labels;
  } else {
    // Every input row gets the label of its nearest centre, a block at a time.
    result.labels = torch::empty({m}, torch::kLong);
    Tensor block_dist = torch::empty({m}, torch::kFloat);
    for (int64_t start = 0; start < m; start += block) {
      const int64_t n = std::min(block, m - start);
      Tensor part = (X.narrow(0, start, n).to(torch::kFloat) - mean).contiguous();
      Tensor part_labels = result.labels.narrow(0, start, n);
      Tensor part_dist = block_dist.narrow(0, start, n);
      assign(part, squared_norms(part), centres, block, part_labels, part_dist);
    }
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  return result;
}

torch::Tensor cluster_concepts(const torch::Tensor& elements, const KMeansOptions& options,
                               KMeansResult* details) {
  KMeansResult result = kmeans(elements, options);
  Tensor norms = result.centres.to(torch::kDouble).norm(2, /*dim=*/{1}, /*keepdim=*/true);
  // A centre at the origin has no direction: it can only come from elements that cancel out.
  IIS_CHECK_HINT((norms > 1e-12).all().item<bool>(),
                 "k-means: a cluster centre has zero length and cannot be normalised",
                 "use fewer concepts or check the element vectors");
  Tensor concepts = (result.centres.to(torch::kDouble) / norms).to(torch::kFloat).contiguous();
  concepts = concepts.to(elements.device());
  if (details) *details = std::move(result);
  return concepts;
}

KMeansResult run_kmeans(const KMeansCommandOptions& options) {
  IIS_CHECK_HINT(!options.elements.empty(), "--elements is required",
                 "pass an M×D float .npy file");
  IIS_CHECK_HINT(!options.out.empty(), "--out is required", "name the centres' .npy file");
  validate(options.kmeans);
  Tensor elements = io::load_features(options.elements, "elements");
  KMeansResult result;
  Tensor centres;
  with_context("clustering " + options.elements, [&] {
    if (options.normalise) {
      centres = cluster_concepts(elements, options.kmeans, &result);
    } else {
      result = kmeans(elements, options.kmeans);
      centres = result.centres;
    }
  });
  io::save_npy(options.out, centres);
  if (!options.labels_out.empty()) io::save_npy(options.labels_out, result.labels);
  return result;
}

}  // namespace iis::concepts
