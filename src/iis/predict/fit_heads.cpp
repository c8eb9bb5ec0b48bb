// Loading a fit folder's saved heads and applying them to features as `iis fit` scored them.
#include "iis/predict/fit_heads.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/heads/head_stack.hpp"
#include "iis/heads/train.hpp"
#include "iis/io/npy.hpp"

namespace iis::predict {

namespace fs = std::filesystem;

namespace {

// Rows per call of the heads: count_hits' chunk in heads/train.cpp, so that every row goes
// through the same kernels with the same batch shapes as when the fit measured it.
constexpr int64_t kChunk = 2048;

std::string ratio_list(const results::FitResults& r) {
  std::ostringstream s;
  for (size_t i = 0; i < r.ratios.size(); ++i) s << (i ? ", " : "") << r.ratios[i].ratio;
  return s.str();
}

size_t find_ratio(const results::FitResults& r, double ratio) {
  for (size_t i = 0; i < r.ratios.size(); ++i)
    if (std::abs(r.ratios[i].ratio - ratio) < 1e-9) return i;
  IIS_FAIL("--ratio " << ratio << " was not trained by this fit",
           "its ratios are " << ratio_list(r) << "; leave --ratio out for the default");
}

size_t find_seed(const results::FitResults& r, int64_t seed) {
  IIS_CHECK_HINT(!r.per_seed.empty(), "results.json holds no per-seed records",
                 "re-run `iis fit` with this version of iis");
  if (seed < 0) return 0;
  std::ostringstream seeds;
  for (size_t i = 0; i < r.per_seed.size(); ++i) {
    if (r.per_seed[i].seed == static_cast<uint64_t>(seed)) return i;
    seeds << (i ? ", " : "") << r.per_seed[i].seed;
  }
  IIS_FAIL("--seed " << seed << " was not trained by this fit", "its seeds are " << seeds.str());
}

torch::Tensor load(const fs::path& file, const std::string& what) {
  IIS_CHECK_HINT(fs::is_regular_file(file),
                 "the fit folder lacks " << file.string() << " (" << what << ")",
                 "re-run `iis fit` into it (with --force) with this version of iis");
  return io::load_npy(file.string()).to(torch::kFloat32).contiguous();
}

// The concept vectors of the head at ratio i (end2end keeps one set per ratio).
void load_concepts(const fs::path& seed_dir, FitHeads& h) {
  auto c = load(seed_dir / "concepts.npy", "the seed's concepts");
  h.concepts = c.dim() == 3 ? c[static_cast<int64_t>(h.ratio_index)].contiguous() : c;
  if (h.concept_type != "text") return;
  h.score_mean = load(seed_dir / "score_mean.npy", "the text concepts' training means");
  h.score_std = load(seed_dir / "score_std.npy", "the text concepts' training deviations");
}

void load_heads(const fs::path& heads_dir, FitHeads& h) {
  const auto i = static_cast<int64_t>(h.ratio_index);
  h.gamma = load(heads_dir / "gamma.npy", "γ per ratio")[i].contiguous();
  h.beta = load(heads_dir / "beta.npy", "β per ratio")[i].contiguous();
  h.weight = load(heads_dir / "weight.npy", "W per ratio")[i].contiguous();
  h.bias = load(heads_dir / "bias.npy", "b per ratio")[i].contiguous();
  h.standard_weight = load(heads_dir / "standard_weight.npy", "the standard head's W");
  h.standard_bias = load(heads_dir / "standard_bias.npy", "the standard head's b");
  IIS_CHECK_HINT(h.weight.size(1) == h.num_concepts() && h.gamma.size(0) == h.num_concepts(),
                 "the heads in " << heads_dir.string() << " have " << h.weight.size(1)
                                 << " concepts but concepts.npy has " << h.num_concepts(),
                 "the folder mixes files of two fits; re-run `iis fit --force` into it");
}

// Labels for the heads' hit counting, which predict does not use: any class will do.
torch::Tensor no_labels(int64_t rows) { return torch::zeros({rows}, torch::kInt64); }

// Logits of a one-head stack over every row, chunk by chunk as count_hits evaluates.
torch::Tensor stack_logits(const heads::HeadStack& stack, const torch::Tensor& input) {
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < input.size(0); start += kChunk) {
    const auto rows = input.narrow(0, start, std::min(kChunk, input.size(0) - start)).contiguous();
    torch::Tensor logits;
    stack.hits(rows, no_labels(rows.size(0)), nullptr, nullptr, &logits);
    parts.push_back(logits[0]);
  }
  return parts.empty() ? torch::empty({0, 0}) : torch::cat(parts);
}

heads::HeadStack interpretable_stack(const FitHeads& h) {
  heads::HeadStackConfig c;
  c.num_classes = h.num_classes;
  c.in_features = h.num_concepts();
  c.interpretable = true;
  c.rule = h.rule;
  c.positions = {heads::threshold_position(h.num_concepts(), h.ratio, h.rule)};
  c.keep = {heads::kept_concepts(h.num_concepts(), h.ratio, h.rule)};
  c.lrs = {0.01};  // unused: nothing is trained
  heads::HeadStack stack(c, torch::kCPU, /*init_seed=*/0);
  stack.set_head(0, {h.gamma, h.beta, h.weight, h.bias});
  return stack;
}

heads::HeadStack standard_stack(const FitHeads& h) {
  heads::HeadStackConfig c;
  c.num_classes = h.num_classes;
  c.in_features = h.feature_dim();
  c.lrs = {0.01};
  heads::HeadStack stack(c, torch::kCPU, /*init_seed=*/0);
  stack.set_head(0, {{}, {}, h.standard_weight, h.standard_bias});
  return stack;
}

// The predicted class (argmax: ties and NaN as the fit's top-1 ranks them) and its softmax.
void decide(const torch::Tensor& logits, torch::Tensor& predicted, torch::Tensor& probability) {
  predicted = logits.argmax(1);
  probability =
      torch::softmax(logits.to(torch::kFloat64), 1).gather(1, predicted.unsqueeze(1)).squeeze(1);
}

}  // namespace

size_t default_ratio(const results::FitResults& r, double min_retention, std::string& reason) {
  std::ostringstream why;
  for (size_t i = r.ratios.size(); i-- > 0;) {
    if (r.ratios[i].arr >= min_retention) {
      why << "ratio " << r.ratios[i].ratio << ": the largest whose mean retention ("
          << r.ratios[i].arr << ") is at least " << min_retention;
      reason = why.str();
      return i;
    }
  }
  why << "ratio " << r.ratios[0].ratio << ": no ratio keeps a mean retention of " << min_retention
      << ", so the smallest";
  reason = why.str();
  return 0;
}

FitHeads load_fit_heads(const std::string& fit_dir, const HeadChoice& choice) {
  const fs::path dir(fit_dir);
  const auto results_file = dir / "results.json";
  IIS_CHECK_HINT(fs::is_regular_file(results_file), "--fit " << fit_dir << " holds no results.json",
                 "give the --out folder of a finished `iis fit`");
  FitHeads h;
  h.fit_dir = fit_dir;
  h.results = results::read_results(results_file.string());
  h.concept_type = h.results.concept_type.value_or("prototype");
  h.seed_index = find_seed(h.results, choice.seed);
  const auto& seed = h.results.per_seed[h.seed_index];
  h.seed = seed.seed;
  if (choice.ratio >= 0) {
    h.ratio_index = find_ratio(h.results, choice.ratio);
    std::ostringstream why;
    why << "ratio " << h.results.ratios[h.ratio_index].ratio << ": given by --ratio";
    h.ratio_reason = why.str();
  } else {
    h.ratio_index = default_ratio(h.results, kDefaultMinRetention, h.ratio_reason);
  }
  h.ratio = h.results.ratios[h.ratio_index].ratio;
  h.rule = heads::parse_threshold_rule(h.results.settings.threshold.value_or("strict"));
  IIS_CHECK_HINT(h.results.num_classes.has_value(), results_file.string() << " lacks num_classes",
                 "re-run `iis fit` with this version of iis");
  h.num_classes = *h.results.num_classes;
  const fs::path seed_dir = dir / "seeds" / std::to_string(h.seed);
  load_concepts(seed_dir, h);
  load_heads(dir / (seed.heads.folder.empty() ? "seeds/" + std::to_string(h.seed) + "/heads"
                                              : seed.heads.folder),
             h);
  return h;
}

torch::Tensor concept_scores(const FitHeads& h, const torch::Tensor& features) {
  torch::NoGradGuard no_grad;
  if (h.concept_type == "text")  // as concepts/text.cpp standardises the validation rows
    return (torch::matmul(features, h.concepts.t()) - h.score_mean) / h.score_std;
  return heads::normalized_concept_scores(features, h.concepts);
}

HeadOutputs apply_heads(const FitHeads& h, const torch::Tensor& features) {
  torch::NoGradGuard no_grad;
  IIS_CHECK_HINT(features.dim() == 2 && features.size(1) == h.feature_dim(),
                 "the features have " << (features.dim() == 2 ? features.size(1) : -1)
                                      << " dimensions but the fit's heads take " << h.feature_dim(),
                 "embed the images with the backbone the fit was trained on");
  HeadOutputs out;
  const auto x = features.to(torch::kFloat32).contiguous();
  out.scores = concept_scores(h, x);
  out.logits = stack_logits(interpretable_stack(h), out.scores);
  out.standard_logits = stack_logits(standard_stack(h), x);
  const int64_t k = h.num_concepts();
  auto sparse = heads::sparsify(out.scores, h.gamma.unsqueeze(0), h.beta.unsqueeze(0),
                                {heads::threshold_position(k, h.ratio, h.rule)},
                                {heads::kept_concepts(k, h.ratio, h.rule)}, h.rule);
  out.activations = sparse.values[0];
  out.mask = sparse.mask[0];
  out.kept = out.mask.sum(1);
  decide(out.logits, out.predicted, out.probability);
  decide(out.standard_logits, out.standard_predicted, out.standard_probability);
  return out;
}

}  // namespace iis::predict
