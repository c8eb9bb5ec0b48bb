// Text concepts: named concepts scored by CLIP, filtered twice and projected onto the
// representation (text.hpp); the heads train on their standardised activations.
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include <nlohmann/json.hpp>

#include "iis/concepts/concept_type.hpp"
#include "iis/concepts/text.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/heads/saga.hpp"
#include "iis/io/npy.hpp"
#include "iis/text/lines.hpp"

namespace iis::concepts {

namespace {

constexpr int64_t kTopConcepts = 5;  // per ratio and class in the record

// CLIP's features of the fit's rows and of the concepts, checked against each other.
struct ClipInputs {
  torch::Tensor train, val, text;
  std::vector<std::string> names;
};

// The shapes of CLIP's files agree with each other and with the fit's rows.
void check_clip_shapes(const TextOptions& o, int64_t train_rows, int64_t val_rows,
                       const std::vector<int64_t>& train, const std::vector<int64_t>& val,
                       const std::vector<int64_t>& text, int64_t names) {
  auto rank2 = [](const std::vector<int64_t>& shape, const char* flag, const std::string& path) {
    IIS_CHECK_HINT(shape.size() == 2, flag << " " << path << " must be a 2-D array",
                   "rows × CLIP's embedding width");
  };
  rank2(train, "--clip-train-features", o.clip_train_features);
  rank2(val, "--clip-val-features", o.clip_val_features);
  rank2(text, "--text-features", o.text_features);
  IIS_CHECK_HINT(
      train[0] == train_rows,
      "--clip-train-features has " << train[0] << " rows but --train-features has " << train_rows,
      "CLIP's features must be of the same images, in the same order");
  IIS_CHECK_HINT(
      val[0] == val_rows,
      "--clip-val-features has " << val[0] << " rows but --val-features has " << val_rows,
      "CLIP's features must be of the same images, in the same order");
  IIS_CHECK_HINT(text[1] == train[1] && val[1] == train[1],
                 "--text-features has width "
                     << text[1] << " but the CLIP image features have " << train[1]
                     << (val[1] != train[1] ? " and " + std::to_string(val[1]) : std::string()),
                 "the image and text features must come from the same CLIP model");
  IIS_CHECK_HINT(names > 0, "--concept-names " << o.concept_names << " is empty",
                 "give at least one concept");
  IIS_CHECK_HINT(names == text[0],
                 "--concept-names " << o.concept_names << " has " << names
                                    << " lines but --text-features has " << text[0] << " rows",
                 "give one name per text feature row, in the same order (iis embed-text writes "
                 "both)");
}

// The CLIP archive's fingerprint that `iis embed`/`iis embed-text` recorded beside a features
// file (PREFIX.features.npy → PREFIX.embed.json), or "" when there is no such record.
std::string recorded_fingerprint(const std::string& features) {
  const std::string suffix = ".features.npy";
  if (features.size() <= suffix.size() ||
      features.compare(features.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  const auto record = features.substr(0, features.size() - suffix.size()) + ".embed.json";
  if (!std::filesystem::exists(record)) return "";
  const auto j = nlohmann::json::parse(core::read_text(record), nullptr, false);
  if (!j.is_object() || !j.contains("backbone_fingerprint")) return "";
  return j["backbone_fingerprint"].is_string() ? j["backbone_fingerprint"].get<std::string>() : "";
}

// Where the embed records of the CLIP files name their archives, they must name the same one:
// image and text features of different CLIP models are not comparable.
void check_same_clip(const TextOptions& o) {
  const std::pair<const char*, std::string> files[] = {
      {"--clip-train-features", o.clip_train_features},
      {"--clip-val-features", o.clip_val_features},
      {"--text-features", o.text_features}};
  std::string first_flag, first;
  for (const auto& [flag, path] : files) {
    const std::string fp = recorded_fingerprint(path);
    if (fp.empty()) continue;
    if (first.empty()) {
      first_flag = flag;
      first = fp;
      continue;
    }
    IIS_CHECK_HINT(fp == first,
                   flag << " " << path << " was embedded with another CLIP archive than "
                        << first_flag << " (fingerprints " << fp.substr(0, 12) << "… and "
                        << first.substr(0, 12) << "…, from their .embed.json)",
                   "embed the images (iis embed --backbone clip:M.pt) and the concepts (iis "
                   "embed-text --clip M.pt) with the same archive");
  }
}

ClipInputs load_clip_inputs(const TextOptions& o, const SeedInputs& in) {
  ClipInputs c;
  c.train = io::load_features(o.clip_train_features, "--clip-train-features");
  c.val = io::load_features(o.clip_val_features, "--clip-val-features");
  c.text = io::load_features(o.text_features, "--text-features");
  c.names = text::read_lines(o.concept_names);
  check_clip_shapes(o, in.train_features.size(0), in.val_features.size(0), c.train.sizes().vec(),
                    c.val.sizes().vec(), c.text.sizes().vec(),
                    static_cast<int64_t>(c.names.size()));
  return c;
}

class TextSeedConcepts : public SeedConcepts {
 public:
  TextSeedConcepts(const SeedInputs& in, const ConceptTypeOptions& o) : in_(in), options_(o) {}

  void choose() override {
    const ClipInputs c = load_clip_inputs(options_.text, in_);
    concepts_ = text_concepts(in_.train_features, in_.val_features, c.train, c.val, c.text, c.names,
                              options_.text, in_.seed);
  }

  heads::ConceptScores& scores() override {
    scores_ =
        std::make_unique<heads::PrecomputedScores>(concepts_.train_scores, concepts_.val_scores);
    return *scores_;
  }

  void keep(const std::vector<PickedHead>& picked) override {
    weights_.clear();
    for (const auto& p : picked)
      if (p.weight.defined()) weights_.push_back(p.weight.to(torch::kCPU));
  }

  bool has_final_layer() const override { return options_.text.final_layer == "saga"; }

  std::vector<heads::HeadOutcome> train_final_layer(const heads::TrainSplits& splits,
                                                    heads::ThresholdRule rule) override {
    auto saga = options_.text.saga;
    saga.seed = in_.seed;
    solves_.clear();
    return heads::saga_heads(splits, *scores_, in_.ratios, rule, saga,
                             "SAGA final layer (seed " + std::to_string(in_.seed) + ")", &solves_);
  }

  void save(const std::string& seed_dir, results::SeedResults& record) const override {
    save_tensor(seed_dir, "concepts.npy", concepts_.projection);
    // The standardisation of the scores, which `iis predict` needs to apply the heads.
    save_tensor(seed_dir, "score_mean.npy", concepts_.mean);
    save_tensor(seed_dir, "score_std.npy", concepts_.std);
    std::string names;
    for (const auto& n : concepts_.kept) names += n + "\n";
    core::write_text_atomic((std::filesystem::path(seed_dir) / "concept_names.txt").string(),
                            names);
    record.concept_type = "text";
    record.text = details();
  }

 private:
  results::TextDetails details() const {
    results::TextDetails d;
    d.kept = concepts_.kept;
    for (const auto& x : concepts_.dropped_by_clip_cutoff)
      d.dropped_by_clip_cutoff.push_back({x.name, x.value});
    for (const auto& x : concepts_.dropped_by_interpretability_cutoff)
      d.dropped_by_interpretability_cutoff.push_back({x.name, x.value});
    d.projection_steps = concepts_.projection_steps;
    d.best_val_similarity = concepts_.best_val_similarity;
    for (const auto& w : weights_) d.top_concepts.push_back(top_per_class(w));
    if (has_final_layer()) {
      d.saga.emplace();
      for (size_t i = 0; i < solves_.size(); ++i) {
        const auto& f = solves_[i];
        d.saga->push_back({in_.ratios[i], f.epochs, f.converged, f.objective, f.nonzero_share});
      }
    }
    return d;
  }

  // Per class, the concepts of the largest weights (C×K), largest first.
  std::vector<std::vector<results::NamedValue>> top_per_class(const torch::Tensor& weight) const {
    std::vector<std::vector<results::NamedValue>> classes;
    const int64_t k = std::min<int64_t>(kTopConcepts, weight.size(1));
    const auto [values, index] = weight.to(torch::kFloat64).topk(k, 1);
    for (int64_t c = 0; c < weight.size(0); ++c) {
      std::vector<results::NamedValue> top;
      for (int64_t j = 0; j < k; ++j)
        top.push_back({concepts_.kept[static_cast<size_t>(index[c][j].item<int64_t>())],
                       values[c][j].item<double>()});
      classes.push_back(top);
    }
    return classes;
  }

  const SeedInputs& in_;
  ConceptTypeOptions options_;
  TextConcepts concepts_;
  std::vector<torch::Tensor> weights_;  // per ratio: the reported head's C×K weights
  std::unique_ptr<heads::PrecomputedScores> scores_;
  std::vector<heads::SagaFit> solves_;  // --final-layer saga: per ratio
};

class Text : public ConceptType {
 public:
  std::string name() const override { return "text"; }
  std::string help() const override {
    return "named concepts scored by CLIP, projected onto the representation";
  }
  bool uses_elements() const override { return false; }

  core::Options options(ConceptTypeOptions& o) const override {
    auto& t = o.text;
    return {
        {"clip_train_features", "text: N×E CLIP image features of the training rows",
         &t.clip_train_features, false, false},
        {"clip_val_features", "text: Nv×E CLIP image features of the validation rows",
         &t.clip_val_features, false, false},
        {"text_features", "text: T×E CLIP text features of the concepts", &t.text_features, false,
         false},
        {"concept_names", "text: T lines, the concepts' names", &t.concept_names, false, false},
        {"clip_cutoff", "text: drop concepts whose mean top-5 CLIP activation is at most this",
         &t.clip_cutoff},
        {"interpretability_cutoff",
         "text: drop concepts whose validation cos^3 similarity is at most this",
         &t.interpretability_cutoff},
        {"proj_steps", "text: at most this many steps of the projection", &t.proj_steps},
        {"proj_batch_size", "text: rows per projection step", &t.proj_batch_size},
        {"final_layer",
         "text: adam (the joint heads, as for every type) | saga (an elastic net solved by "
         "proximal SAGA per ratio, the label-free bottleneck's)",
         &t.final_layer},
        {"saga_alpha", "text, saga: the L1 share of the elastic net", &t.saga.alpha},
        {"saga_lambda", "text, saga: the weight of the elastic-net penalty", &t.saga.lambda},
        {"saga_step", "text, saga: the step size", &t.saga.step},
        {"saga_epochs", "text, saga: at most this many passes over the rows", &t.saga.max_epochs},
        {"saga_tol", "text, saga: stop when an epoch changes the weights by less (relative)",
         &t.saga.tol},
        {"saga_batch_size", "text, saga: rows per step", &t.saga.batch_size}};
  }

  void validate(const ConceptTypeOptions& o, int64_t, bool) const override {
    const auto& t = o.text;
    for (const auto& [flag, path] : {std::pair<const char*, const std::string&>{
                                         "--clip-train-features", t.clip_train_features},
                                     {"--clip-val-features", t.clip_val_features},
                                     {"--text-features", t.text_features},
                                     {"--concept-names", t.concept_names}}) {
      IIS_CHECK_HINT(!path.empty(), flag << " is required with --concept-type text",
                     "iis embed (clip: backbone) and iis embed-text write these files");
    }
  }

  void check_inputs(const ConceptTypeOptions& o, int64_t train_rows,
                    int64_t val_rows) const override {
    const auto& t = o.text;
    check_clip_shapes(t, train_rows, val_rows, io::read_npy_header(t.clip_train_features).shape,
                      io::read_npy_header(t.clip_val_features).shape,
                      io::read_npy_header(t.text_features).shape,
                      static_cast<int64_t>(text::read_lines(t.concept_names).size()));
    check_same_clip(t);
  }

  bool own_final_layer(const ConceptTypeOptions& o) const override {
    return o.text.final_layer == "saga";
  }

  std::vector<TypeInput> input_files(const ConceptTypeOptions& o) const override {
    return {{"clip_train_features", o.text.clip_train_features},
            {"clip_val_features", o.text.clip_val_features},
            {"text_features", o.text.text_features},
            {"concept_names", o.text.concept_names}};
  }

  void add_settings(results::FitSettings& settings, const ConceptTypeOptions& o,
                    bool) const override {
    const auto& t = o.text;
    settings.concept_type = "text";
    settings.num_concepts.reset();  // K is what the filters keep
    settings.text = results::TextSettings{t.clip_cutoff, t.interpretability_cutoff,
                                          t.proj_steps,  t.proj_batch_size,
                                          t.final_layer, std::nullopt};
    if (t.final_layer == "saga") {
      const auto& g = t.saga;
      settings.text->saga =
          results::SagaSettings{g.alpha, g.lambda, g.step, g.tol, g.max_epochs, g.batch_size};
    }
  }

  std::string files() const override {
    return "concept_names.txt: the kept concepts, one per line, in the order of concepts.npy "
           "(K×D: their projection rows); score_mean.npy, score_std.npy: the training scores' "
           "per-concept mean and deviation, which standardise every later score";
  }

  void summarize(const std::vector<results::SeedResults>& seeds,
                 results::FitResults& results) const override {
    if (seeds.empty() || !seeds[0].text) return;
    results.text_concepts = seeds[0].text;
    results.num_concepts = static_cast<int64_t>(seeds[0].text->kept.size());
  }

  std::unique_ptr<SeedConcepts> start(const SeedInputs& in,
                                      const ConceptTypeOptions& o) const override {
    return std::make_unique<TextSeedConcepts>(in, o);
  }
};

}  // namespace

const ConceptType& text_type() {
  static const Text type;
  return type;
}

}  // namespace iis::concepts
