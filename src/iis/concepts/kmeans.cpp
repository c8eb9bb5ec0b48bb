// k-means of element vectors (greedy k-means++ seeding, Lloyd iterations): cluster concepts.
#include "iis/concepts/kmeans.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "iis/core/error.hpp"
#include "iis/io/npy.hpp"

namespace iis::concepts {

namespace {

using torch::Tensor;

// A double in [0, 1) from 53 random bits: the same sequence on every platform and standard
// library (std::uniform_real_distribution is not specified that exactly).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

int64_t uniform_index(std::mt19937_64& rng, int64_t n) {
  return std::min<int64_t>(n - 1, static_cast<int64_t>(uniform01(rng) * static_cast<double>(n)));
}

// Rows per distance block: one block of scores (rows×K float32) stays within ~32 MiB.
int64_t rows_per_block(int64_t k, int64_t requested) {
  if (requested > 0) return requested;
  return std::max<int64_t>(256, (int64_t{8} << 20) / std::max<int64_t>(k, 1));
}

// `count` distinct rows of [0, m), ascending, drawn uniformly (partial Fisher-Yates).
std::vector<int64_t> sample_rows(int64_t m, int64_t count, std::mt19937_64& rng) {
  std::vector<int64_t> rows(m);
  for (int64_t i = 0; i < m; ++i) rows[i] = i;
  for (int64_t i = 0; i < count; ++i) std::swap(rows[i], rows[i + uniform_index(rng, m - i)]);
  rows.resize(count);
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Squared distances (M×T float32, clamped at 0) from the rows of X (M×D, squared norms x_sq: M)
// to the rows of Y (T×D).
Tensor squared_distances(const Tensor& X, const Tensor& x_sq, const Tensor& Y) {
  Tensor d = torch::addmm(x_sq.unsqueeze(1), X, Y.t(), /*beta=*/1, /*alpha=*/-2);
  return d.add_((Y * Y).sum(1).unsqueeze(0)).clamp_min_(0);
}

// Greedy k-means++: the first centre is a uniform row; each next one is the best of `trials`
// rows drawn with probability proportional to their squared distance to the nearest centre so
// far, "best" meaning the lowest resulting potential (sum of those distances). X: M×D float32,
// x_sq: M. Returns K×D float32 (rows of X).
Tensor kmeans_plusplus(const Tensor& X, const Tensor& x_sq, int64_t k, int64_t trials,
                       std::mt19937_64& rng) {
  const int64_t m = X.size(0);
  std::vector<int64_t> chosen{uniform_index(rng, m)};
  chosen.reserve(k);
  Tensor closest = squared_distances(X, x_sq, X.narrow(0, chosen[0], 1)).squeeze(1).contiguous();
  double potential = closest.sum(torch::kDouble).item<double>();
  Tensor draws = torch::empty({trials}, torch::kDouble);
  for (int64_t c = 1; c < k; ++c) {
    Tensor cumulative = closest.cumsum(0, torch::kDouble);
    double* draw = draws.data_ptr<double>();
    for (int64_t t = 0; t < trials; ++t) draw[t] = uniform01(rng) * potential;
    // Rounding can put a draw past the last cumulative sum: clamp to the last row.
    Tensor candidates = torch::searchsorted(cumulative, draws).clamp_max_(m - 1);
    Tensor reduced = torch::minimum(squared_distances(X, x_sq, X.index_select(0, candidates)),
                                    closest.unsqueeze(1));  // M×trials
    Tensor potentials = reduced.sum(/*dim=*/{0}, /*keepdim=*/false, torch::kDouble);
    const int64_t best = potentials.argmin().item<int64_t>();
    potential = potentials[best].item<double>();
    closest = reduced.select(1, best).contiguous();
    chosen.push_back(candidates[best].item<int64_t>());
  }
  return X.index_select(0, torch::tensor(chosen, torch::kLong));
}

// Assignment step: labels (M int64) and squared distances (M float32) of each row of X to its
// nearest centre of C (K×D), one matrix product per block of rows.
void assign(const Tensor& X, const Tensor& x_sq, const Tensor& C, int64_t block, Tensor& labels,
            Tensor& sq_dist) {
  const int64_t m = X.size(0);
  Tensor c_sq = (C * C).sum(1).unsqueeze(0);  // 1×K
  Tensor ct = C.t();
  Tensor scores = torch::empty({std::min(m, block), C.size(0)}, X.options());
  for (int64_t start = 0; start < m; start += block) {
    const int64_t n = std::min(block, m - start);
    Tensor s = scores.narrow(0, 0, n);
    // ‖c‖² − 2x·c: the row's own ‖x‖² does not change which centre is nearest.
    torch::addmm_out(s, c_sq, X.narrow(0, start, n), ct, /*beta=*/1, /*alpha=*/-2);
    Tensor values = sq_dist.narrow(0, start, n), indices = labels.narrow(0, start, n);
    torch::min_out(values, indices, s, /*dim=*/1);
  }
  sq_dist.add_(x_sq).clamp_min_(0);
}

// Update step: each centre becomes the mean of its rows (sums in double). A cluster left
// empty takes the row farthest from its centre, which leaves its own cluster (scikit-learn's
// relocation); a cluster that would be left with no rows keeps its old centre.
Tensor update_centres(const Tensor& X, const Tensor& labels, const Tensor& sq_dist,
                      const Tensor& old_centres) {
  const int64_t m = X.size(0), d = X.size(1), k = old_centres.size(0);
  const float* x = X.data_ptr<float>();
  const int64_t* label = labels.data_ptr<int64_t>();
  std::vector<double> sums(k * d, 0.0);
  std::vector<int64_t> counts(k, 0);
  for (int64_t i = 0; i < m; ++i) ++counts[label[i]];
  // Threads own disjoint column ranges, so the sums need no locks and do not depend on the
  // thread count.
  at::parallel_for(0, d, /*grain_size=*/32, [&](int64_t begin, int64_t end) {
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
  for (int64_t c = 0; c < k; ++c) {
    for (int64_t j = 0; j < d; ++j) {
      out[c * d + j] =
          counts[c] > 0 ? static_cast<float>(sums[c * d + j] / counts[c]) : old[c * d + j];
    }
  }
  return centres;
}

// Sum over rows of ‖x − C[label]‖², computed from the differences (not the expansion), in
// double, a block of rows at a time.
double inertia_of(const Tensor& X, const Tensor& C, const Tensor& labels, int64_t block) {
  double total = 0;
  for (int64_t start = 0; start < X.size(0); start += block) {
    const int64_t n = std::min(block, X.size(0) - start);
    Tensor diff = X.narrow(0, start, n) - C.index_select(0, labels.narrow(0, start, n));
    total += diff.pow(2).sum(torch::kDouble).item<double>();
  }
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
  std::mt19937_64 rng(options.seed);
  KMeansResult result;
  result.sample = used < m ? torch::tensor(sample_rows(m, used, rng), torch::kLong)
                           : torch::arange(m, torch::kLong);
  Tensor rows = (used < m ? X.index_select(0, result.sample) : X).to(torch::kFloat).contiguous();

  // Centring changes no distance but keeps ‖x‖² − 2x·c + ‖c‖² accurate in float32.
  Tensor mean = rows.mean(/*dim=*/{0}, /*keepdim=*/true, torch::kDouble);
  Tensor data = (rows.to(torch::kDouble) - mean).to(torch::kFloat).contiguous();
  rows = Tensor();
  const double tolerance =
      options.tol * data.to(torch::kDouble).pow(2).mean(/*dim=*/{0}).mean().item<double>();
  Tensor x_sq = data.pow(2).sum(1);
  const int64_t block = rows_per_block(k, options.block_rows);

  const int64_t trials = options.local_trials > 0
                             ? options.local_trials
                             : 2 + static_cast<int64_t>(std::log(static_cast<double>(k)));
  Tensor centres = kmeans_plusplus(data, x_sq, k, trials, rng);

  Tensor labels = torch::full({used}, -1, torch::kLong);
  Tensor previous = labels.clone();
  Tensor sq_dist = torch::empty({used}, torch::kFloat);
  bool unchanged = false;
  for (int64_t iteration = 0; iteration < options.max_iter; ++iteration) {
    assign(data, x_sq, centres, block, labels, sq_dist);
    result.inertia_trace.push_back(sq_dist.sum(torch::kDouble).item<double>());
    Tensor updated = update_centres(data, labels, sq_dist, centres);
    const double shift = (updated - centres).pow(2).sum(torch::kDouble).item<double>();
    centres = updated;
    result.iterations = iteration + 1;
    if (labels.equal(previous)) {
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
  result.inertia = inertia_of(data, centres, labels, block);

  result.centres = (centres.to(torch::kDouble) + mean).to(torch::kFloat).contiguous();
  if (used == m) {
    result.labels = labels;
  } else {
    // Every input row gets the label of its nearest centre, a block at a time.
    result.labels = torch::empty({m}, torch::kLong);
    Tensor block_dist = torch::empty({m}, torch::kFloat);
    for (int64_t start = 0; start < m; start += block) {
      const int64_t n = std::min(block, m - start);
      Tensor part =
          (X.narrow(0, start, n).to(torch::kDouble) - mean).to(torch::kFloat).contiguous();
      Tensor part_labels = result.labels.narrow(0, start, n);
      Tensor part_dist = block_dist.narrow(0, start, n);
      assign(part, part.pow(2).sum(1), centres, block, part_labels, part_dist);
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
