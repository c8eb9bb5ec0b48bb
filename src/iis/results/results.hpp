// results.json and seed.json of `iis fit` as one typed schema: the structs, their JSON (what
// `iis fit` writes, number types included) and a reader that checks every key it knows.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace iis::results {

// The schema version written as results.json "schema_version". A file without one is
// version 0: every results.json written before the schema had a number. Version 0 is read
// with the gaps older or hand-made files have (only standard_accuracy, iis and ratios with
// ratio and top1 are required); from version 1 on, every key `iis fit` always writes is
// required. A higher version than this is refused.
constexpr int64_t kSchemaVersion = 1;

// How values are stored:
// - double: NaN is written as null, and null is read as NaN (a figure that is undefined,
//   e.g. chance-corrected at or below chance, or not recorded in a version-0 file). Only
//   standard_accuracy, iis, and a ratio's ratio and top1 must be numbers.
// - std::optional: a key written only where it applies (a concept type, hold-out selection),
//   or one a version-0 file may lack and whose absence a reader shows (settings, sizes).
// - anything else a version-0 file lacks reads as its default (0, "", empty).
// Keys the schema does not know are ignored.

// One input file of the fit (results.json "inputs").
struct InputFile {
  std::string path;         // absolute
  std::string fingerprint;  // core::fingerprint_file
  std::vector<int64_t> shape;
};

// --concept-type cluster: the k-means settings.
struct KMeansSettings {
  int64_t max_elements = 0;  // 0 = all elements
  double tol = 0;
  int64_t max_iter = 0;
};

// --concept-type text: the cut-offs and the projection's settings.
// --final-layer saga: the elastic net and its solver (heads::SagaOptions).
struct SagaSettings {
  double alpha = 0, lambda = 0, step = 0, tol = 0;
  int64_t max_epochs = 0, batch_size = 0;
};

struct TextSettings {
  double clip_cutoff = 0;
  double interpretability_cutoff = 0;
  int64_t proj_steps = 0;
  int64_t proj_batch_size = 0;
  std::string final_layer;
  std::optional<SagaSettings> saga;  // final_layer saga only
};

// "settings": what changes the numbers of a seed. seed.json's lack `seeds`; results.json's
// have them. concept_select is written for prototype concepts only; concept_type, kmeans and
// temperature for cluster (concept_type, kmeans) and end2end (concept_type, temperature);
// num_concepts for every type but text (whose K is what its filters keep).
struct FitSettings {
  std::optional<int64_t> num_concepts;
  std::optional<std::string> concept_select;  // prototype: first | stratified | random
  std::optional<std::string> concept_type;    // cluster | end2end
  std::optional<std::vector<double>> ratios;
  std::optional<std::vector<double>> lrs;
  std::optional<int64_t> epochs;
  std::optional<int64_t> batch_size;
  std::optional<double> lr_decay;
  std::optional<std::string> threshold;  // strict | exact | soft
  std::optional<std::string> select_on;  // val | holdout
  std::optional<double> holdout_fraction;
  std::optional<int64_t> num_classes;  // --num-classes: 0 = inferred from the labels
  std::optional<KMeansSettings> kmeans;
  std::optional<double> temperature;
  std::optional<TextSettings> text;
  std::optional<std::vector<uint64_t>> seeds;  // results.json only
  std::optional<std::string> backbone;         // not written by `iis fit`; a name some files carry
};

// A cluster seed's k-means run (seed.json "kmeans", results.json "kmeans" per seed).
struct KMeansDetails {
  double inertia = 0;
  int64_t iterations = 0;
  bool converged = false;
  int64_t clustered_elements = 0;
  double seconds = 0;
};

// An end2end seed's learned assignment (seed.json "end2end").
struct End2EndDetails {
  double temperature = 0;
  std::string assignment;         // the element_concept.npy file, relative to OUT
  std::string assignment_layout;  // what its axes are
  std::string concepts_layout;
  std::vector<int64_t> concepts_used;    // per ratio: concepts holding an element
  std::vector<int64_t> largest_concept;  // per ratio: elements of the largest concept
};

// A concept's name and a value: what a cut-off compared, or a head's weight.
struct NamedValue {
  std::string name;
  double value = 0;
};

// A text seed's concepts (seed.json "text"; results.json "text_concepts": the first seed's).
// One ratio's SAGA solve: epochs run, whether it met the tolerance, the objective at the
// result and the share of the weights that are not zero.
struct SagaSolve {
  double ratio = 0;
  int64_t epochs = 0;
  bool converged = false;
  double objective = 0;
  double nonzero_share = 0;
};

struct TextDetails {
  std::vector<std::string> kept;  // names, in the order of concepts.npy and the heads' K axis
  std::vector<NamedValue> dropped_by_clip_cutoff;              // value: the top-5 mean
  std::vector<NamedValue> dropped_by_interpretability_cutoff;  // value: validation cos³
  int64_t projection_steps = 0;
  double best_val_similarity = 0;  // mean validation cos³ of the kept projection
  // Per ratio and class: the concepts of the largest weights of the reported head (value: the
  // weight), largest first.
  std::vector<std::vector<std::vector<NamedValue>>> top_concepts;
  // --final-layer saga: per ratio, how its solve ended.
  std::optional<std::vector<SagaSolve>> saga;
};

// A head at its picked epoch and learning rate (seed.json "standard").
struct HeadPick {
  double top1 = 0, top5 = 0;
  int64_t epoch = 0, top5_epoch = 0;  // 1-based
  double lr = 0;
  double select_top1 = 0;  // the figure the pick maximised
};

// An interpretable head at one ratio (seed.json "ratios").
struct RatioPick : HeadPick {
  double ratio = 0;
  int64_t kept = 0;                 // concepts kept per row
  double arr = 0;                   // top1 / the standard head's top1
  double arr_chance_corrected = 0;  // NaN (null) at or below chance
};

// One head's per-epoch curve, one entry per epoch (seed.json "curves").
struct HeadCurve {
  double lr = 0;
  std::optional<double> ratio;  // interpretable heads only
  std::vector<double> train_loss, val_top1, val_top5;
  std::optional<std::vector<double>> holdout_top1;  // --select-on holdout only
};

struct SeedCurves {
  std::vector<HeadCurve> standard;  // one per lr
  std::vector<HeadCurve> ratios;    // ratio-major: [ratio i][lr j]
};

// Where a seed's heads are (seed.json "heads").
struct HeadFiles {
  std::string folder;
  std::vector<std::string> files;
  std::string layout;
  std::string concepts;
};

struct SeedRows {
  int64_t train = 0, holdout = 0, val = 0;
};

struct SeedTimings {
  double concepts_s = 0, scores_s = 0, train_s = 0;
};

// OUT/seeds/<seed>/seed.json, and each entry of results.json "per_seed". Exactly one of
// concept_select (prototype), kmeans (cluster), end2end (end2end) and text (text) is set. How
// run_seed fills it: settings = seed_settings (without seeds); concept_type = concepts::to_string;
// concept_select = the rule used; kmeans = {inertia, iterations, converged, sample rows,
// seconds} of concepts::KMeansResult; end2end = the learned assignment's figures; standard =
// the picked standard head; ratios[i] = the picked head at ratio i (HeadPick, ratio, kept) with
// arr = top1 / standard.top1 and arr_chance_corrected (NaN at or below chance); curves = one
// HeadCurve per trained head in train_heads' order (holdout_top1 only where the hold-out
// accuracies are finite); heads, rows and timings as the seed folder holds them.
struct SeedResults {
  uint64_t seed = 0;
  FitSettings settings;
  std::string concept_type;
  std::optional<std::string> concept_select;
  std::optional<KMeansDetails> kmeans;
  std::optional<End2EndDetails> end2end;
  std::optional<TextDetails> text;
  HeadPick standard;
  double iis = 0;
  double iis_chance_corrected = 0;  // NaN (null) at or below chance
  std::vector<RatioPick> ratios;
  SeedCurves curves;
  HeadFiles heads;
  SeedRows rows;
  SeedTimings timings;
};

// One sparsity ratio over the seeds (results.json "ratios"): mean ± std of the seeds'
// figures; kept, epoch, top5_epoch and lr are the first seed's.
struct RatioResults {
  double ratio = 0;
  int64_t kept = 0;
  double top1 = 0, top1_std = 0;
  double top5 = 0, top5_std = 0;
  int64_t epoch = 0, top5_epoch = 0;
  double lr = 0;
  double arr = 0, arr_std = 0;
  double arr_chance_corrected = 0, arr_chance_corrected_std = 0;  // NaN (null) at chance
};

struct SeedTiming {
  uint64_t seed = 0;
  SeedTimings timings;
};

struct FitTimings {
  double load_s = 0;
  std::vector<SeedTiming> seeds;
  double total_s = 0;
};

// The files of OUT, relative to it (results.json "files").
struct FitFiles {
  std::string curve, epochs, concepts, seeds;
};

// OUT/results.json. How run_fit fills it, key by key (to_json then writes what it wrote
// before, plus "schema_version"):
//   schema_version: leave the default, kSchemaVersion;
//   tool = "iis fit", version = IIS_VERSION, libtorch = TORCH_VERSION, device = --device,
//   threads = core::threads(), concept_type = --concept-type (backbone stays unset);
//   settings = the seeds' settings (seed_settings) with settings.seeds = --seeds;
//   inputs = per input name ("train_features", ...) its InputFile; inputs_key = their key;
//   num_classes = C, num_concepts = K, feature_dim = D, train_rows, val_rows; seeds = --seeds;
//   warnings = settings_warnings(); kmeans (cluster only) = each seed's SeedResults::kmeans;
//   standard_accuracy(_std), standard_top5(_std), iis(_std), iis_chance_corrected(_std) and
//   per ratio top1, top5, arr, arr_chance_corrected (each with _std) = score::mean_std over
//   per_seed (a NaN, e.g. a chance-corrected figure at chance, is written null); ratio = the
//   ratio; kept, epoch, top5_epoch, lr = per_seed[0]'s; standard_epoch =
//   per_seed[0].standard.epoch; per_seed = the SeedResults (run or reused);
//   timings = {load_s, per seed {seed, its timings}, total_s}; files = the file names.
struct FitResults {
  int64_t schema_version = kSchemaVersion;  // as read (0: a file without one)
  std::string tool, version, libtorch, device;
  int64_t threads = 0;
  std::optional<std::string> concept_type;
  std::optional<std::string> backbone;  // not written by `iis fit`; a name some files carry
  FitSettings settings;
  std::map<std::string, InputFile> inputs;  // train_features, train_labels, ... concepts
  std::string inputs_key;
  std::optional<int64_t> num_classes, num_concepts, feature_dim, train_rows, val_rows;
  std::vector<uint64_t> seeds;
  std::vector<std::string> warnings;
  std::optional<std::vector<KMeansDetails>> kmeans;  // cluster only: one per seed
  std::optional<TextDetails> text_concepts;          // text only: the first seed's
  double standard_accuracy = 0, standard_accuracy_std = 0;
  double standard_top5 = 0, standard_top5_std = 0;
  int64_t standard_epoch = 0;
  double iis = 0, iis_std = 0;
  double iis_chance_corrected = 0, iis_chance_corrected_std = 0;  // NaN (null) at chance
  std::vector<RatioResults> ratios;
  std::vector<SeedResults> per_seed;
  FitTimings timings;
  FitFiles files;
};

// The JSON `iis fit` writes: results.json (with "schema_version"), seed.json, "settings".
nlohmann::json to_json(const FitResults& results);
nlohmann::json to_json(const SeedResults& seed);
nlohmann::json to_json(const FitSettings& settings);
nlohmann::json to_json(const std::map<std::string, InputFile>& inputs);  // "inputs"

// Reads a results.json's JSON. Throws iis::Error naming `source` and the key (e.g.
// "per_seed[1].ratios[0].top1") for a value of the wrong type, a missing required key, a
// "ratios" list that is empty, or a schema_version above kSchemaVersion.
FitResults results_from_json(const nlohmann::json& j, const std::string& source);

// Reads one seed record (seed.json, or a "per_seed" entry) with the requirements of
// `schema_version` (seed.json holds no version: every seed.json `iis fit` has written has all
// keys, so the default, the strict one, reads them).
SeedResults seed_results_from_json(const nlohmann::json& j, const std::string& source,
                                   int64_t schema_version = kSchemaVersion);

// results_from_json of the text of a results.json; a text that is not JSON is an iis::Error.
FitResults parse_results(const std::string& text, const std::string& source);

// parse_results of the file at `path` (errors name it).
FitResults read_results(const std::string& path);

// seed_results_from_json of the seed.json at `path`.
SeedResults read_seed_results(const std::string& path);

// How many seeds the figures are over: settings.seeds, else seeds; 0 when neither is recorded.
size_t seed_count(const FitResults& results);

}  // namespace iis::results
