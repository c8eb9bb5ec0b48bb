// Text concepts: CLIP activations, the two filters and the cos³ projection (text.hpp).
#include "iis/concepts/text.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "iis/core/error.hpp"
#include "iis/core/random.hpp"

namespace iis::concepts {

void validate(const TextOptions& o) {
  IIS_CHECK_HINT(std::isfinite(o.clip_cutoff) && o.clip_cutoff >= -1 && o.clip_cutoff < 1,
                 "--clip-cutoff must be in [-1, 1), got " << o.clip_cutoff,
                 "it is a cosine similarity; the reference uses 0.25");
  IIS_CHECK_HINT(std::isfinite(o.interpretability_cutoff) && o.interpretability_cutoff >= -1 &&
                     o.interpretability_cutoff < 1,
                 "--interpretability-cutoff must be in [-1, 1), got " << o.interpretability_cutoff,
                 "it is a cosine similarity; the reference uses 0.45");
  IIS_CHECK_HINT(o.proj_steps >= 1, "--proj-steps must be ≥ 1, got " << o.proj_steps,
                 "the reference uses 1000");
  IIS_CHECK_HINT(o.proj_batch_size >= 2, "--proj-batch-size must be ≥ 2, got " << o.proj_batch_size,
                 "the reference uses 50000 (the similarity centres each batch)");
  IIS_CHECK_HINT(o.proj_lr > 0 && std::isfinite(o.proj_lr),
                 "the projection's learning rate must be > 0", "");
  IIS_CHECK_HINT(o.check_every >= 1, "the projection's check interval must be ≥ 1", "");
  IIS_CHECK_HINT(o.final_layer == "adam" || o.final_layer == "saga",
                 "--final-layer '" << o.final_layer << "' is not a final layer",
                 "adam (the joint heads every concept type trains) or saga (the label-free "
                 "bottleneck's elastic net)");
  if (o.final_layer == "saga") heads::validate(o.saga);
}

torch::Tensor clip_activations(const torch::Tensor& images, const torch::Tensor& texts) {
  auto unit = [](const torch::Tensor& x) { return x / x.norm(2, 1, true).clamp_min(1e-12); };
  return torch::matmul(unit(images.to(torch::kFloat32)), unit(texts.to(torch::kFloat32)).t());
}

torch::Tensor top_k_mean(const torch::Tensor& a, int64_t k) {
  k = std::min<int64_t>(k, a.size(0));
  return std::get<0>(a.topk(k, 0)).mean(0);
}

torch::Tensor cos_cubed_similarity(const torch::Tensor& projected, const torch::Tensor& clip) {
  auto cubed_unit = [](const torch::Tensor& x) {
    auto c = (x - x.mean(0, true)).pow(3);
    return c / c.norm(2, 0, true).clamp_min(1e-12);
  };
  return (cubed_unit(projected) * cubed_unit(clip)).sum(0);
}

namespace {

// The initial W: LibTorch's Linear(D, T, bias=false) initialisation under `seed`.
torch::Tensor initial_weight(int64_t concepts, int64_t dim, uint64_t seed, torch::Device device) {
  torch::Tensor w;
  core::with_torch_seed(seed, [&] {
    torch::nn::Linear layer(torch::nn::LinearOptions(dim, concepts).bias(false));
    w = layer->weight.detach().clone();
  });
  return w.to(device);
}

// The rows of one step: a seeded uniform sample of `batch` of the N rows (all when batch ≥ N).
torch::Tensor batch_rows(core::SeededRandom& rng, std::vector<int64_t>& rows, int64_t batch,
                         torch::Device device) {
  if (batch >= static_cast<int64_t>(rows.size()))
    return torch::arange(static_cast<int64_t>(rows.size()), torch::kInt64).to(device);
  rng.sample_front(rows, static_cast<size_t>(batch), core::IndexMap::Exact);
  return torch::tensor(std::vector<int64_t>(rows.begin(), rows.begin() + batch), torch::kInt64)
      .to(device);
}

}  // namespace

ProjectionFit fit_projection(const torch::Tensor& features, const torch::Tensor& clip,
                             const torch::Tensor& val_features, const torch::Tensor& val_clip,
                             const TextOptions& o, uint64_t seed) {
  const auto device = features.device();
  auto w = initial_weight(clip.size(1), features.size(1),
                          core::derive_seed(seed, "text-projection"), device)
               .requires_grad_(true);
  torch::optim::Adam adam({w}, torch::optim::AdamOptions(o.proj_lr));
  core::SeededRandom rng(seed, "text-batches");
  std::vector<int64_t> rows(static_cast<size_t>(features.size(0)));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
  auto val_similarity = [&] {
    torch::NoGradGuard no_grad;
    return cos_cubed_similarity(torch::matmul(val_features, w.t()), val_clip);
  };
  ProjectionFit fit;
  fit.best_val_similarity = -std::numeric_limits<double>::infinity();
  for (int64_t step = 0; step < o.proj_steps; ++step) {
    const auto idx = batch_rows(rng, rows, o.proj_batch_size, device);
    adam.zero_grad();
    auto loss = -cos_cubed_similarity(torch::matmul(features.index_select(0, idx), w.t()),
                                      clip.index_select(0, idx))
                     .mean();
    loss.backward();
    adam.step();
    fit.steps = step + 1;
    if (step % o.check_every != 0) continue;
    const auto sim = val_similarity();
    const double mean = sim.mean().item<double>();
    if (mean <= fit.best_val_similarity) break;  // worse than the best: stop, keep the best
    fit.best_val_similarity = mean;
    fit.weight = w.detach().clone();
    fit.val_similarity = sim;
  }
  return fit;
}

namespace {

// Indices of the entries of `value` above `cutoff`; the others go to `dropped` with their value.
std::vector<int64_t> above(const torch::Tensor& value, double cutoff,
                           const std::vector<std::string>& names,
                           std::vector<DroppedConcept>& dropped) {
  const auto v = value.to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < v.size(0); ++i) {
    const double x = v[i].item<double>();
    if (x > cutoff) {
      keep.push_back(i);
    } else {
      dropped.push_back({names[static_cast<size_t>(i)], x});
    }
  }
  return keep;
}

torch::Tensor index_tensor(const std::vector<int64_t>& idx, torch::Device device) {
  return torch::tensor(idx, torch::kInt64).to(device);
}

std::vector<std::string> pick(const std::vector<std::string>& names,
                              const std::vector<int64_t>& idx) {
  std::vector<std::string> out;
  for (auto i : idx) out.push_back(names[static_cast<size_t>(i)]);
  return out;
}

}  // namespace

TextConcepts text_concepts(const torch::Tensor& train, const torch::Tensor& val,
                           const torch::Tensor& clip_train, const torch::Tensor& clip_val,
                           const torch::Tensor& text, const std::vector<std::string>& names,
                           const TextOptions& o, uint64_t seed) {
  const auto device = train.device();
  TextConcepts out;
  const auto a_train = clip_activations(clip_train.to(device), text.to(device));
  const auto a_val = clip_activations(clip_val.to(device), text.to(device));
  const auto by_clip = above(top_k_mean(a_train), o.clip_cutoff, names, out.dropped_by_clip_cutoff);
  IIS_CHECK_HINT(!by_clip.empty(),
                 "the CLIP cut-off dropped all " << names.size() << " concepts: none has a mean of "
                                                 << "its top-5 training activations above "
                                                 << o.clip_cutoff,
                 "lower --clip-cutoff, or check that --clip-train-features and --text-features "
                 "come from the same CLIP model");
  const auto clip_idx = index_tensor(by_clip, device);
  const auto clip_names = pick(names, by_clip);
  const auto fit = fit_projection(train, a_train.index_select(1, clip_idx), val,
                                  a_val.index_select(1, clip_idx), o, seed);
  const auto by_sim = above(fit.val_similarity, o.interpretability_cutoff, clip_names,
                            out.dropped_by_interpretability_cutoff);
  IIS_CHECK_HINT(!by_sim.empty(),
                 "the interpretability cut-off dropped all "
                     << clip_names.size()
                     << " concepts the CLIP cut-off kept: none has a validation cos³ similarity "
                        "above "
                     << o.interpretability_cutoff,
                 "lower --interpretability-cutoff, or raise --proj-steps");
  out.kept = pick(clip_names, by_sim);
  out.projection = fit.weight.index_select(0, index_tensor(by_sim, device));
  out.projection_steps = fit.steps;
  out.best_val_similarity = fit.best_val_similarity;
  torch::NoGradGuard no_grad;
  const auto p_train = torch::matmul(train, out.projection.t());
  out.mean = p_train.mean(0);
  out.std = p_train.std(0).clamp_min(1e-12);
  out.train_scores = (p_train - out.mean) / out.std;
  out.val_scores = (torch::matmul(val, out.projection.t()) - out.mean) / out.std;
  return out;
}

}  // namespace iis::concepts
