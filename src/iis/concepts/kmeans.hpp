// k-means of element vectors (greedy k-means++ seeding, Lloyd iterations): cluster concepts.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "iis/concepts/options.hpp"

namespace iis::concepts {

// What kmeans() found. All tensors are on the CPU.
struct KMeansResult {
  torch::Tensor centres;  // K×D float32: the mean of each cluster's rows (not normalised)
  torch::Tensor labels;   // M int64: the nearest centre of every input row
  torch::Tensor sample;   // S int64, ascending: the input rows clustered (S = min(M, max_elements))
  double inertia = 0;     // sum over the clustered rows of the squared distance to their centre
  int64_t iterations = 0;             // Lloyd iterations run
  bool converged = false;             // stopped by tol or unchanged labels, not by max_iter
  std::vector<double> inertia_trace;  // objective after each iteration's assignment step
  double seconds = 0;                 // wall time of the clustering (excluding input checks)
};

// k-means on the rows of X (M×D, any float dtype, any device; run on the CPU in float32): greedy
// k-means++ initialisation, then Lloyd iterations until `tol` or `max_iter`. Squared
// Euclidean distances are computed as ‖x‖² − 2x·c + ‖c‖² in blocks of rows with one matrix
// product each, on data centred by its mean (for float32 accuracy). An empty cluster takes the
// row farthest from its centre. Throws iis::Error for an empty X, a non-finite value (naming
// the row), or K larger than the number of rows clustered.
KMeansResult kmeans(const torch::Tensor& X, const KMeansOptions& options);

// Cluster concepts (docs/design.md §4): the K k-means centres of the element vectors E (M×D float),
// each re-normalised to unit length: K×D float32 on the elements' device. `details`, when given,
// receives the k-means result (centres before normalisation, inertia, iterations).
torch::Tensor cluster_concepts(const torch::Tensor& elements, const KMeansOptions& options,
                               KMeansResult* details = nullptr);

// Options of `iis kmeans`: cluster the rows of an .npy file.
struct KMeansCommandOptions {
  std::string elements;    // --elements: M×D float .npy (e.g. element vectors)
  std::string out;         // --out: K×D float32 .npy of the centres
  std::string labels_out;  // --labels: optional M int64 .npy of every row's cluster
  bool normalise = false;  // --normalise: save unit-length centres (as cluster concepts are)
  KMeansOptions kmeans;
};

// Runs `iis kmeans`: loads, clusters, writes the outputs atomically; returns the result for
// the tool to print.
KMeansResult run_kmeans(const KMeansCommandOptions& options);

}  // namespace iis::concepts
