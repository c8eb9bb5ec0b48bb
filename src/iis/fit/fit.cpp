// `iis fit`: validation of every input, concept choice, score precomputation, joint training
// over seeds, and the output folder (results.json, curves, concepts, heads).
#include "iis/fit/fit.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include "iis/concepts/end2end.hpp"
#include "iis/concepts/kmeans.hpp"
#include "iis/concepts/select.hpp"
#include "iis/core/device.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/threads.hpp"
#include "iis/heads/train.hpp"
#include "iis/io/npy.hpp"
#include "iis/score/score.hpp"

namespace iis::fit {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kOutHint = "choose another --out, or delete the folder to start over";

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// JSON number, or null for NaN.
json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

struct Inputs {
  torch::Tensor train_x, train_y, val_x, val_y, elements, element_labels;
  int64_t num_classes = 0;
  json description;  // paths, fingerprints and shapes
  std::string key;   // one fingerprint over every input file
};

// Labels in [0, C): names the first offending row.
void check_label_range(const torch::Tensor& labels, int64_t num_classes, const std::string& flag,
                       const std::string& path, const std::string& why) {
  auto bad = (labels >= num_classes).nonzero();
  if (bad.size(0) == 0) return;
  const int64_t row = bad[0][0].item<int64_t>();
  IIS_FAIL(flag << " " << path << ": label " << labels[row].item<int64_t>() << " at row " << row
                << " is out of range: " << why,
           "labels must be class indices 0.." << num_classes - 1
                                              << "; pass --num-classes if some classes never "
                                                 "occur in training");
}

// The class count the training labels imply, C = largest label + 1, checked before anything of
// size C exists: one stray label (5 000 000, 2^40) would otherwise size every head. Refused
// when C exceeds the training rows, twice the distinct labels, or kMaxClasses.
int64_t inferred_class_count(const torch::Tensor& labels, const std::string& path) {
  const int64_t rows = labels.size(0);
  const int64_t top = labels.max().item<int64_t>();
  const int64_t distinct =
      std::get<0>(torch::unique_consecutive(std::get<0>(labels.sort()))).size(0);
  std::ostringstream why;
  if (top >= kMaxClasses) {
    why << "more than the " << kMaxClasses << " classes `iis fit` takes";
  } else if (top >= rows) {
    why << "more than the " << rows << " training rows";
  } else if (top >= 2 * distinct) {
    why << "while only " << distinct << " distinct labels occur";
  } else {
    return top + 1;
  }
  const int64_t row = labels.argmax().item<int64_t>();  // the first row holding `top`
  IIS_FAIL("--train-labels " << path << ": label " << top << " at row " << row << " would make "
                             << static_cast<uint64_t>(top) + 1 << " classes, " << why.str(),
           "labels must be class indices 0..C-1"
               << (top >= kMaxClasses
                       ? ", with C at most " + std::to_string(kMaxClasses)
                       : "; if there really are " + std::to_string(top + 1) +
                             " classes, say so with --num-classes " + std::to_string(top + 1)));
}

Inputs load_inputs(const FitOptions& o) {
  Inputs in;
  in.train_x = io::load_features(o.train_features, "--train-features");
  in.train_y = io::load_labels(o.train_labels, "--train-labels");
  in.val_x = io::load_features(o.val_features, "--val-features");
  in.val_y = io::load_labels(o.val_labels, "--val-labels");
  in.elements = io::load_features(o.concepts, "--concepts");
  if (!o.concept_labels.empty()) {
    in.element_labels = io::load_labels(o.concept_labels, "--concept-labels");
  }
  const int64_t n = in.train_x.size(0), nv = in.val_x.size(0), d = in.train_x.size(1);
  IIS_CHECK_HINT(in.train_y.size(0) == n,
                 "--train-labels has " << in.train_y.size(0) << " labels but --train-features has "
                                       << n << " rows",
                 "give one label per feature row, in the same order");
  IIS_CHECK_HINT(
      in.val_y.size(0) == nv,
      "--val-labels has " << in.val_y.size(0) << " labels but --val-features has " << nv << " rows",
      "give one label per feature row, in the same order");
  IIS_CHECK_HINT(
      in.val_x.size(1) == d,
      "--val-features has dimension " << in.val_x.size(1) << " but --train-features has " << d,
      "both splits must come from the same backbone layer");
  IIS_CHECK_HINT(
      in.elements.size(1) == d,
      "--concepts has dimension " << in.elements.size(1) << " but the features have " << d,
      "concept vectors must come from the same backbone as the features");
  in.num_classes =
      o.num_classes > 0 ? o.num_classes : inferred_class_count(in.train_y, o.train_labels);
  check_label_range(in.train_y, in.num_classes, "--train-labels", o.train_labels,
                    "--num-classes is " + std::to_string(in.num_classes));
  check_label_range(in.val_y, in.num_classes, "--val-labels", o.val_labels,
                    "the training labels only reach " + std::to_string(in.num_classes - 1));
  IIS_CHECK_HINT(in.num_classes >= 2,
                 "--train-labels holds a single class (" << in.num_classes << ")",
                 "a classifier needs at least 2 classes");
  if (o.select_on == "holdout") heads::holdout_count(n, o.holdout_fraction);
  const int64_t m = in.elements.size(0);
  IIS_CHECK_HINT(o.num_concepts <= m,
                 "--num-concepts " << o.num_concepts << " is more than the " << m
                                   << " concepts in --concepts " << o.concepts,
                 "pass --num-concepts " << m << " or fewer, or a larger --concepts file");
  if (in.element_labels.defined()) {
    IIS_CHECK_HINT(in.element_labels.size(0) == m,
                   "--concept-labels has " << in.element_labels.size(0)
                                           << " labels but --concepts has " << m << " rows",
                   "give one label per concept row, in the same order");
    // A label outside the classes would silently become a stratum of its own.
    check_label_range(in.element_labels, in.num_classes, "--concept-labels", o.concept_labels,
                      "there are " + std::to_string(in.num_classes) + " classes");
  }
  auto describe = [](const std::string& path, const torch::Tensor& t) {
    json j{{"path", fs::absolute(path).string()}, {"fingerprint", core::fingerprint_file(path)}};
    j["shape"] = t.sizes().vec();
    return j;
  };
  in.description = json::object();
  in.description["train_features"] = describe(o.train_features, in.train_x);
  in.description["train_labels"] = describe(o.train_labels, in.train_y);
  in.description["val_features"] = describe(o.val_features, in.val_x);
  in.description["val_labels"] = describe(o.val_labels, in.val_y);
  in.description["concepts"] = describe(o.concepts, in.elements);
  if (!o.concept_labels.empty()) {
    in.description["concept_labels"] = describe(o.concept_labels, in.element_labels);
  }
  std::string all;
  for (const auto& [name, item] : in.description.items()) {
    all += name + "=" + item["fingerprint"].get<std::string>() + ";";
  }
  in.key = core::fingerprint_text(all);
  return in;
}

// What `iis fit` writes into OUT: all that --force removes, and nothing else.
const char* const kFitOutputs[] = {"fit_inputs.json", "results.json", "curve.csv",
                                   "epochs.csv",      "concepts.npy", "seeds"};

// The settings an earlier run recorded in OUT: fit_inputs.json's, or (folders written before it
// held them) results.json's; null when neither says.
json earlier_settings(const fs::path& out, const json& marker) {
  if (marker.contains("settings")) return marker["settings"];
  const auto results = (out / "results.json").string();
  if (!fs::exists(results)) return nullptr;
  json r = json::parse(core::read_text(results), nullptr, /*allow_exceptions=*/false);
  if (!r.is_object() || !r.contains("settings")) return nullptr;
  json settings = r["settings"];
  settings.erase("seeds");
  settings["concept_type"] = r.value("concept_type", "prototype");
  return settings;
}

// "key: a there, b here" for every setting that differs.
std::string setting_differences(const json& there, const json& here) {
  auto text = [](const json& v) {
    return v.is_null() ? std::string("unset") : v.is_string() ? v.get<std::string>() : v.dump();
  };
  std::set<std::string> keys;
  for (const auto& [key, value] : there.items()) keys.insert(key);
  for (const auto& [key, value] : here.items()) keys.insert(key);
  std::string out;
  for (const auto& key : keys) {
    const json a = there.value(key, json()), b = here.value(key, json());
    if (a == b) continue;
    out += (out.empty() ? "" : "; ") + key + ": " + text(a) + " there, " + text(b) + " here";
  }
  return out;
}

// OUT may be new, empty, or an earlier `iis fit` output of the same inputs and settings (which
// resumes). An earlier output of other inputs or settings is refused unless `force`; returns
// true when it is to be replaced. Writes nothing.
bool check_out_folder(const FitOptions& o, const std::string& key, const json& settings) {
  if (!fs::exists(o.out)) return false;
  IIS_CHECK_HINT(fs::is_directory(o.out), "--out " << o.out << " exists and is not a folder",
                 kOutHint);
  if (fs::is_empty(o.out)) return false;
  const auto marker_path = (fs::path(o.out) / "fit_inputs.json").string();
  IIS_CHECK_HINT(fs::exists(marker_path),
                 "--out " << o.out << " is not empty and holds no earlier `iis fit` output",
                 kOutHint);
  json marker;
  with_context("reading " + marker_path,
               [&] { marker = json::parse(core::read_text(marker_path)); });
  const std::string force_hint =
      "add --force to replace it, or choose another --out (or delete the folder)";
  if (marker.value("inputs_key", "") != key) {
    IIS_CHECK_HINT(o.force,
                   "--out " << o.out << " holds results of different inputs (fingerprint "
                            << marker.value("inputs_key", "?") << ", these inputs " << key << ")",
                   force_hint);
    return true;
  }
  const json there = earlier_settings(o.out, marker);
  if (there.is_null() || there == settings) return false;
  IIS_CHECK_HINT(o.force,
                 "--out " << o.out << " holds an `iis fit` run of other settings ("
                          << setting_differences(there, settings) << ")",
                 force_hint);
  return true;
}

// Removes what an earlier run wrote into OUT: everything when it is replaced, else (--force on
// the same settings) the seed folders this run does not list.
void clear_out_folder(const FitOptions& o, bool replace) {
  const fs::path out(o.out);
  if (replace) {
    for (const char* name : kFitOutputs) core::remove_tree((out / name).string());
    return;
  }
  if (!o.force || !fs::is_directory(out / "seeds")) return;
  std::set<std::string> listed;
  for (uint64_t seed : o.seeds) listed.insert(std::to_string(seed));
  for (const auto& entry : fs::directory_iterator(out / "seeds")) {
    if (!listed.count(entry.path().filename().string())) core::remove_tree(entry.path().string());
  }
}

// The settings that change the numbers of one seed; a finished seed is reused only when its
// settings match.
json seed_settings(const FitOptions& o, const std::string& select) {
  json j{{"num_concepts", o.num_concepts},
         {"concept_select", select},
         {"ratios", o.ratios},
         {"lrs", o.lrs},
         {"epochs", o.epochs},
         {"batch_size", o.batch_size},
         {"lr_decay", 0.99},
         {"threshold", o.threshold},
         {"select_on", o.select_on},
         {"holdout_fraction", o.holdout_fraction},
         {"num_classes", o.num_classes}};
  if (o.concept_type == "cluster") {  // k-means centres: no selection rule, k-means settings
    j.erase("concept_select");
    j["concept_type"] = o.concept_type;
    j["kmeans"] = {{"max_elements", o.kmeans_max_elements},
                   {"tol", o.kmeans_tol},
                   {"max_iter", o.kmeans_max_iter}};
  }
  if (o.concept_type == "end2end") {  // a learned assignment: no selection rule
    j.erase("concept_select");
    j["concept_type"] = o.concept_type;
    j["temperature"] = o.temperature;
  }
  return j;
}

json head_json(const heads::HeadOutcome& h) {
  json j{{"top1", h.top1},
         {"top5", h.top5},
         {"epoch", h.epoch},
         {"top5_epoch", h.top5_epoch},
         {"lr", h.lr}};
  j["select_top1"] = h.select_top1;
  if (!h.standard) {
    j["ratio"] = h.ratio;
    j["kept"] = h.kept;
  }
  return j;
}

json curve_json(const heads::HeadOutcome& h) {
  json j{{"lr", h.lr}};
  if (!h.standard) j["ratio"] = h.ratio;
  std::vector<double> loss, top1, top5, hold;
  for (const auto& e : h.epochs) {
    loss.push_back(e.train_loss);
    top1.push_back(e.val_top1);
    top5.push_back(e.val_top5);
    hold.push_back(e.holdout_top1);
  }
  j["train_loss"] = loss;
  j["val_top1"] = top1;
  j["val_top5"] = top5;
  if (!h.epochs.empty() && std::isfinite(h.epochs[0].holdout_top1)) j["holdout_top1"] = hold;
  return j;
}

// The k-means settings of --concept-type cluster for one seed.
concepts::KMeansOptions kmeans_options(const FitOptions& o, uint64_t seed) {
  concepts::KMeansOptions k;
  k.k = o.num_concepts;
  k.seed = seed;
  k.max_elements = o.kmeans_max_elements;
  k.tol = o.kmeans_tol;
  k.max_iter = o.kmeans_max_iter;
  return k;
}

// Trains one seed and writes OUT/seeds/<seed>/ (concepts, heads, seed.json); returns seed.json.
json run_seed(const FitOptions& o, const Inputs& in, uint64_t seed, torch::Device device,
              const json& settings) {
  const auto seed_dir = (fs::path(o.out) / "seeds" / std::to_string(seed)).string();
  // Whatever an interrupted or other run left there is not this seed's: start it afresh, so no
  // file of another concept type stays beside this one's.
  core::remove_tree(seed_dir);
  auto t0 = std::chrono::steady_clock::now();
  concepts::ConceptSet chosen;
  json kmeans_json;
  if (o.concept_type == "cluster") {
    concepts::KMeansResult km;
    chosen.vectors = concepts::cluster_concepts(in.elements, kmeans_options(o, seed), &km);
    chosen.type = concepts::ConceptType::Cluster;
    // Each element's concept (its nearest centre): the elements behind a cluster concept.
    chosen.element_index = km.labels;
    kmeans_json = json{{"inertia", km.inertia},
                       {"iterations", km.iterations},
                       {"converged", km.converged},
                       {"clustered_elements", km.sample.size(0)},
                       {"seconds", km.seconds}};
  } else if (o.concept_type == "end2end") {
    chosen.type = concepts::ConceptType::End2End;  // learned below, with the heads
  } else {
    concepts::ConceptOptions co;
    co.num_concepts = o.num_concepts;
    if (!o.concept_select.empty()) co.select = concepts::parse_concept_select(o.concept_select);
    co.seed = seed;
    chosen = concepts::choose_concepts(in.elements, in.element_labels, co);
  }
  const double concept_s = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  heads::TrainSplits splits;
  splits.train_features = in.train_x.to(device);
  splits.train_labels = in.train_y.to(device);
  splits.val_features = in.val_x.to(device);
  splits.val_labels = in.val_y.to(device);
  splits.num_classes = in.num_classes;
  std::unique_ptr<heads::ConceptScores> scores;
  concepts::End2EndScores* learned = nullptr;  // end2end: one assignment per head
  if (o.concept_type == "end2end") {
    concepts::End2EndOptions eo;
    eo.num_concepts = o.num_concepts;
    eo.temperature = o.temperature;
    eo.seed = seed;
    std::vector<double> head_lrs;  // in train_heads' head order: ratio-major
    for (size_t i = 0; i < o.ratios.size(); ++i)
      head_lrs.insert(head_lrs.end(), o.lrs.begin(), o.lrs.end());
    auto e2e = std::make_unique<concepts::End2EndScores>(in.elements, splits.train_features,
                                                         splits.val_features, head_lrs, eo);
    learned = e2e.get();
    scores = std::move(e2e);
  } else {
    auto p = chosen.vectors.to(device);
    scores = std::make_unique<heads::PrecomputedScores>(
        heads::normalized_concept_scores(splits.train_features, p),
        heads::normalized_concept_scores(splits.val_features, p));
  }
  const double scores_s = seconds_since(t0);

  heads::TrainOptions to;
  to.ratios = o.ratios;
  to.lrs = o.lrs;
  to.epochs = o.epochs;
  to.batch_size = o.batch_size;
  to.threshold = heads::parse_threshold_rule(o.threshold);
  to.select_on = heads::parse_select_on(o.select_on);
  to.holdout_fraction = o.holdout_fraction;
  to.seed = seed;
  to.progress_stage = "training heads (seed " + std::to_string(seed) + ")";
  auto outcome = heads::train_heads(splits, *scores, to);

  // Reported figures: per ratio, the best learning rate.
  const size_t num_lrs = o.lrs.size();
  const auto& standard = heads::best_over_lrs(outcome.standard);
  std::vector<const heads::HeadOutcome*> best;
  for (size_t i = 0; i < o.ratios.size(); ++i) {
    std::vector<heads::HeadOutcome> per_lr(outcome.interpretable.begin() + i * num_lrs,
                                           outcome.interpretable.begin() + (i + 1) * num_lrs);
    const auto& b = heads::best_over_lrs(per_lr);
    best.push_back(&outcome.interpretable[i * num_lrs + (&b - per_lr.data())]);
  }
  std::vector<double> acc;
  for (const auto* b : best) acc.push_back(b->top1);
  const double iis = score::iis(o.ratios, acc, standard.top1);
  double iis_cc = NAN;
  if (standard.top1 > 1.0 / static_cast<double>(in.num_classes)) {
    iis_cc = score::iis_chance_corrected(o.ratios, acc, standard.top1, in.num_classes);
  }

  // end2end: per ratio, the assignment and concepts of the picked head at its picked epoch.
  json end2end_json;
  if (learned != nullptr) {
    std::vector<torch::Tensor> per_ratio;
    for (const auto* b : best) {
      const int64_t head = b - outcome.interpretable.data();
      per_ratio.push_back(learned->assignment_at(b->epoch)[head]);
    }
    chosen.element_index = torch::stack(per_ratio);               // R×M
    chosen.vectors = learned->concepts_of(chosen.element_index);  // R×K×D
    std::vector<int64_t> used, largest;
    for (const auto& a : per_ratio) {
      auto sizes = torch::bincount(a, {}, o.num_concepts);
      used.push_back((sizes > 0).sum().item<int64_t>());
      largest.push_back(sizes.max().item<int64_t>());
    }
    end2end_json = json{{"temperature", o.temperature},
                        {"assignment", "seeds/" + std::to_string(seed) + "/element_concept.npy"},
                        {"assignment_layout", "R×M int64: each element's concept, per ratio"},
                        {"concepts_layout", "R×K×D: the learned concepts, per ratio"},
                        {"concepts_used", used},
                        {"largest_concept", largest}};
  }

  // Concepts and the picked heads, as .npy files a later command can load.
  const auto heads_dir = (fs::path(seed_dir) / "heads").string();
  core::make_dirs(heads_dir);
  io::save_npy((fs::path(seed_dir) / "concepts.npy").string(), chosen.vectors.to(torch::kCPU));
  io::save_npy((fs::path(seed_dir) /
                (o.concept_type == "prototype" ? "concept_index.npy" : "element_concept.npy"))
                   .string(),
               chosen.element_index);
  std::vector<torch::Tensor> gamma, beta, weight, bias;
  for (const auto* b : best) {
    gamma.push_back(b->params.gamma);
    beta.push_back(b->params.beta);
    weight.push_back(b->params.weight);
    bias.push_back(b->params.bias);
  }
  auto save = [&](const std::string& name, const torch::Tensor& t) {
    io::save_npy((fs::path(heads_dir) / name).string(), t);
  };
  save("gamma.npy", torch::stack(gamma));
  save("beta.npy", torch::stack(beta));
  save("weight.npy", torch::stack(weight));
  save("bias.npy", torch::stack(bias));
  save("standard_weight.npy", standard.params.weight);
  save("standard_bias.npy", standard.params.bias);

  json j;
  j["seed"] = seed;
  j["settings"] = settings;
  j["concept_type"] = concepts::to_string(chosen.type);
  if (o.concept_type == "cluster") {
    j["kmeans"] = kmeans_json;
  } else if (learned != nullptr) {
    j["end2end"] = end2end_json;
  } else {
    j["concept_select"] = concepts::to_string(chosen.select);
  }
  j["standard"] = head_json(standard);
  j["iis"] = iis;
  j["iis_chance_corrected"] = number_or_null(iis_cc);
  j["ratios"] = json::array();
  for (const auto* b : best) {
    auto r = head_json(*b);
    r["arr"] = b->top1 / standard.top1;
    r["arr_chance_corrected"] =
        std::isfinite(iis_cc)
            ? json(score::chance_corrected_retention(b->top1, standard.top1, in.num_classes))
            : json(nullptr);
    j["ratios"].push_back(r);
  }
  j["curves"] = json{{"standard", json::array()}, {"ratios", json::array()}};
  for (const auto& h : outcome.standard) j["curves"]["standard"].push_back(curve_json(h));
  for (const auto& h : outcome.interpretable) j["curves"]["ratios"].push_back(curve_json(h));
  j["heads"] = json{{"folder", "seeds/" + std::to_string(seed) + "/heads"},
                    {"files",
                     {"gamma.npy", "beta.npy", "weight.npy", "bias.npy", "standard_weight.npy",
                      "standard_bias.npy"}},
                    {"layout",
                     "gamma, beta: R×K; weight: R×C×K; bias: R×C (one row per ratio, "
                     "in the order of 'ratios'); standard_weight: C×D"},
                    {"concepts", "seeds/" + std::to_string(seed) + "/concepts.npy"}};
  j["rows"] = json{
      {"train", outcome.fit_rows}, {"holdout", outcome.holdout_rows}, {"val", in.val_x.size(0)}};
  j["timings"] =
      json{{"concepts_s", concept_s}, {"scores_s", scores_s}, {"train_s", outcome.seconds}};
  core::write_text_atomic((fs::path(seed_dir) / "seed.json").string(), j.dump(1));
  return j;
}

// Warnings about the settings, for stderr and results.json: ratios at which the rule keeps no
// concept (their heads see only their bias, a constant guess, so their retention says nothing
// about the representation).
std::vector<std::string> settings_warnings(const FitOptions& o) {
  const auto rule = heads::parse_threshold_rule(o.threshold);
  std::ostringstream ratios;
  int64_t empty = 0;
  for (double r : o.ratios) {
    if (heads::kept_concepts(o.num_concepts, r, rule) > 0) continue;
    ratios << (empty++ > 0 ? ", " : "") << r;
  }
  if (empty == 0) return {};
  std::ostringstream w;
  w << "--num-concepts " << o.num_concepts << " with --threshold " << o.threshold
    << " keeps no concept at ratio" << (empty > 1 ? "s " : " ") << ratios.str()
    << ": those heads output only their bias, a constant guess; --num-concepts "
    << heads::smallest_k_keeping_one(o.ratios, rule)
    << " or more keeps at least one concept at every ratio";
  return {w.str()};
}

std::string fmt(double v) {
  if (!std::isfinite(v)) return "";
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

}  // namespace

void validate_fit_options(const FitOptions& o) {
  auto need = [](const std::string& value, const char* flag) {
    IIS_CHECK_HINT(!value.empty(), flag << " is required", "see `iis fit --help`");
  };
  need(o.train_features, "--train-features");
  need(o.train_labels, "--train-labels");
  need(o.val_features, "--val-features");
  need(o.val_labels, "--val-labels");
  need(o.concepts, "--concepts");
  need(o.out, "--out");
  IIS_CHECK_HINT(o.num_concepts >= 1, "--num-concepts must be ≥ 1, got " << o.num_concepts,
                 "the reference uses 200");
  IIS_CHECK_HINT(!o.ratios.empty(), "--ratios is empty",
                 "e.g. --ratios 0,0.1,0.3,0.5,0.7,0.9,0.95,0.98");
  for (size_t i = 0; i < o.ratios.size(); ++i) {
    const double r = o.ratios[i];
    IIS_CHECK_HINT(r >= 0 && r < 1, "--ratios: " << r << " is outside [0, 1)",
                   "a sparsity ratio is the share of concepts dropped; 1 would drop them all");
    if (i > 0) {
      IIS_CHECK_HINT(r != o.ratios[i - 1], "--ratios: " << r << " appears twice",
                     "list each ratio once, rising");
      IIS_CHECK_HINT(r > o.ratios[i - 1],
                     "--ratios must rise: " << r << " comes after " << o.ratios[i - 1],
                     "list the ratios in increasing order");
    }
  }
  IIS_CHECK_HINT(!o.lrs.empty(), "--lrs is empty", "the reference uses --lrs 0.01");
  for (double lr : o.lrs) {
    IIS_CHECK_HINT(lr > 0 && std::isfinite(lr), "--lrs: " << lr << " is not a positive number",
                   "the reference uses --lrs 0.01");
  }
  IIS_CHECK_HINT(o.epochs >= 1, "--epochs must be ≥ 1, got " << o.epochs, "the reference uses 30");
  IIS_CHECK_HINT(o.batch_size >= 1, "--batch-size must be ≥ 1, got " << o.batch_size,
                 "the reference uses 1024");
  IIS_CHECK_HINT(!o.seeds.empty(), "--seeds is empty", "e.g. --seeds 0,1,2");
  std::set<uint64_t> distinct(o.seeds.begin(), o.seeds.end());
  IIS_CHECK_HINT(distinct.size() == o.seeds.size(), "--seeds lists a seed twice",
                 "list each seed once");
  core::check_device(o.device);
  heads::parse_threshold_rule(o.threshold);
  heads::parse_select_on(o.select_on);
  if (!o.concept_select.empty()) concepts::parse_concept_select(o.concept_select);
  concepts::parse_concept_type(o.concept_type);
  if (o.concept_type == "cluster") concepts::validate(kmeans_options(o, 0));
  if (o.concept_type == "end2end") {
    concepts::End2EndOptions eo;
    eo.num_concepts = o.num_concepts;
    eo.temperature = o.temperature;
    concepts::validate(eo);
  }
  IIS_CHECK_HINT(o.holdout_fraction > 0 && o.holdout_fraction < 1,
                 "--holdout-fraction must be in (0, 1), got " << o.holdout_fraction,
                 "e.g. --holdout-fraction 0.1");
  IIS_CHECK_HINT(o.num_classes >= 0 && o.num_classes != 1 && o.num_classes <= kMaxClasses,
                 "--num-classes must be in [2, " << kMaxClasses << "] (or 0 to infer it), got "
                                                 << o.num_classes,
                 "leave it out to use the largest training label + 1");
  if (o.concept_type == "prototype" && o.concept_select == "stratified") {
    IIS_CHECK_HINT(!o.concept_labels.empty(), "--concept-select stratified needs --concept-labels",
                   "pass --concept-labels, or use --concept-select random");
  }
}

FitSummary run_fit(const FitOptions& o) {
  auto start = std::chrono::steady_clock::now();
  validate_fit_options(o);
  const torch::Device device = core::check_device(o.device);
  core::log_info("reading inputs");
  Inputs in = load_inputs(o);
  const std::string select = o.concept_select.empty()
                                 ? (o.concept_labels.empty() ? "random" : "stratified")
                                 : o.concept_select;
  const json settings = seed_settings(o, select);
  json folder_settings = settings;  // what a later run must match to resume in this folder
  folder_settings["concept_type"] = o.concept_type;
  const bool replace = check_out_folder(o, in.key, folder_settings);
  const double load_s = seconds_since(start);

  // From here on, files are written (each atomically).
  clear_out_folder(o, replace);
  core::make_dirs(o.out);
  const auto out = fs::path(o.out);
  const json marker{
      {"inputs_key", in.key}, {"inputs", in.description}, {"settings", folder_settings}};
  core::write_text_atomic((out / "fit_inputs.json").string(), marker.dump(1));

  const std::vector<std::string> warnings = settings_warnings(o);
  for (const auto& w : warnings) core::log_info("warning: " + w);
  std::vector<json> per_seed;
  for (uint64_t seed : o.seeds) {
    const auto seed_file = (out / "seeds" / std::to_string(seed) / "seed.json").string();
    if (fs::exists(seed_file)) {
      json old;
      try {
        old = json::parse(core::read_text(seed_file));
      } catch (const std::exception&) {
        old = json();
      }
      if (old.is_object() && old.value("settings", json()) == settings) {
        core::log_info("seed " + std::to_string(seed) + ": reusing " + seed_file);
        per_seed.push_back(old);
        continue;
      }
    }
    per_seed.push_back(run_seed(o, in, seed, device, settings));
  }

  // Mean ± std over seeds of every figure.
  auto collect = [&](const std::function<double(const json&)>& get) {
    std::vector<double> v;
    for (const auto& s : per_seed) v.push_back(get(s));
    return score::mean_std(v);
  };
  auto num = [](const json& j) { return j.is_number() ? j.get<double>() : NAN; };
  json r;
  r["tool"] = "iis fit";
  r["version"] = IIS_VERSION;
  r["libtorch"] = TORCH_VERSION;
  r["device"] = o.device;
  r["threads"] = core::threads();
  r["concept_type"] = o.concept_type;
  r["settings"] = settings;
  r["settings"]["seeds"] = o.seeds;
  r["inputs"] = in.description;
  r["inputs_key"] = in.key;
  r["num_classes"] = in.num_classes;
  r["num_concepts"] = o.num_concepts;
  r["feature_dim"] = in.train_x.size(1);
  r["train_rows"] = in.train_x.size(0);
  r["val_rows"] = in.val_x.size(0);
  r["seeds"] = o.seeds;
  r["warnings"] = warnings;
  if (o.concept_type == "cluster") {
    r["kmeans"] = json::array();  // per seed: inertia, iterations, converged, ...
    for (const auto& s : per_seed) r["kmeans"].push_back(s.value("kmeans", json()));
  }
  auto std_acc = collect([](const json& s) { return s["standard"]["top1"].get<double>(); });
  auto std_top5 = collect([](const json& s) { return s["standard"]["top5"].get<double>(); });
  auto iis = collect([](const json& s) { return s["iis"].get<double>(); });
  auto iis_cc = collect([&](const json& s) { return num(s["iis_chance_corrected"]); });
  r["standard_accuracy"] = std_acc.mean;
  r["standard_accuracy_std"] = std_acc.std;
  r["standard_top5"] = std_top5.mean;
  r["standard_top5_std"] = std_top5.std;
  r["standard_epoch"] = per_seed[0]["standard"]["epoch"];
  r["iis"] = iis.mean;
  r["iis_std"] = iis.std;
  r["iis_chance_corrected"] = number_or_null(iis_cc.mean);
  r["iis_chance_corrected_std"] = number_or_null(iis_cc.std);
  r["ratios"] = json::array();
  std::ostringstream curve;
  curve << "ratio,kept,top1,top1_std,top5,top5_std,arr,arr_std,arr_chance_corrected,"
           "arr_chance_corrected_std\n";
  for (size_t i = 0; i < o.ratios.size(); ++i) {
    auto field = [&](const char* key) {
      return collect([&](const json& s) { return num(s["ratios"][i][key]); });
    };
    auto top1 = field("top1"), top5 = field("top5"), arr = field("arr"),
         arr_cc = field("arr_chance_corrected");
    const json& first = per_seed[0]["ratios"][i];
    json e{{"ratio", o.ratios[i]},    {"kept", first["kept"]},
           {"top1", top1.mean},       {"top1_std", top1.std},
           {"top5", top5.mean},       {"top5_std", top5.std},
           {"epoch", first["epoch"]}, {"top5_epoch", first["top5_epoch"]},
           {"lr", first["lr"]},       {"arr", arr.mean},
           {"arr_std", arr.std}};
    e["arr_chance_corrected"] = number_or_null(arr_cc.mean);
    e["arr_chance_corrected_std"] = number_or_null(arr_cc.std);
    r["ratios"].push_back(e);
    curve << fmt(o.ratios[i]) << "," << first["kept"].get<int64_t>() << "," << fmt(top1.mean) << ","
          << fmt(top1.std) << "," << fmt(top5.mean) << "," << fmt(top5.std) << "," << fmt(arr.mean)
          << "," << fmt(arr.std) << "," << fmt(arr_cc.mean) << "," << fmt(arr_cc.std) << "\n";
  }
  std::ostringstream epochs;
  epochs << "seed,head,ratio,lr,epoch,train_loss,val_top1,val_top5,holdout_top1\n";
  for (const auto& s : per_seed) {
    for (const char* group : {"standard", "ratios"}) {
      for (const auto& c : s["curves"][group]) {
        const auto& loss = c["train_loss"];
        for (size_t e = 0; e < loss.size(); ++e) {
          epochs << s["seed"].get<uint64_t>() << ","
                 << (std::string(group) == "standard" ? "standard" : "interpretable") << ","
                 << (c.contains("ratio") ? fmt(c["ratio"].get<double>()) : "") << ","
                 << fmt(c["lr"].get<double>()) << "," << e + 1 << "," << fmt(num(loss[e])) << ","
                 << fmt(num(c["val_top1"][e])) << "," << fmt(num(c["val_top5"][e])) << ","
                 << (c.contains("holdout_top1") ? fmt(num(c["holdout_top1"][e])) : "") << "\n";
        }
      }
    }
  }
  r["per_seed"] = json::array();
  json timings{{"load_s", load_s}, {"seeds", json::array()}};
  for (const auto& s : per_seed) {
    json copy = s;
    timings["seeds"].push_back(json{{"seed", s["seed"]}, {"timings", s["timings"]}});
    r["per_seed"].push_back(copy);
  }
  // The first seed's concepts at the top level, as the layout promises.
  const auto first_concepts =
      (out / "seeds" / std::to_string(o.seeds[0]) / "concepts.npy").string();
  io::save_npy((out / "concepts.npy").string(), io::load_npy(first_concepts));
  core::write_text_atomic((out / "curve.csv").string(), curve.str());
  core::write_text_atomic((out / "epochs.csv").string(), epochs.str());
  timings["total_s"] = seconds_since(start);
  r["timings"] = timings;
  r["files"] = json{
      {"curve", "curve.csv"},
      {"epochs", "epochs.csv"},
      {"concepts", "concepts.npy"},
      {"seeds", std::string("seeds/<seed>/ (concepts.npy, ") +
                    (o.concept_type == "cluster"   ? "element_concept.npy: each element's cluster"
                     : o.concept_type == "end2end" ? "element_concept.npy: each element's concept "
                                                     "per ratio, R×M; concepts.npy is R×K×D"
                                                   : "concept_index.npy") +
                    ", heads/*.npy, seed.json)"}};
  FitSummary summary;
  summary.results_path = (out / "results.json").string();
  core::write_text_atomic(summary.results_path, r.dump(1));
  summary.results = std::move(r);
  return summary;
}

}  // namespace iis::fit
