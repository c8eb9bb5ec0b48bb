// `iis finetune`: the run — resume or start, epochs of combined-loss steps, per-epoch files.
#include "iis/finetune/finetune.hpp"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <tuple>

#include "iis/core/device.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/paths.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/random.hpp"
#include "iis/finetune/detail/session.hpp"
#include "iis/heads/threshold.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace iis::finetune {
namespace {

using detail::Inputs;
using detail::Session;

constexpr const char* kLog = "log.json";
constexpr const char* kState = "state.pt";

std::string in_out(const FinetuneOptions& o, const std::string& name) {
  return (fs::path(o.out) / name).string();
}

json nan_as_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
double null_as_nan(const json& v) { return v.is_number() ? v.get<double>() : std::nan(""); }

json epoch_json(const FinetuneEpoch& e) {
  return {{"epoch", e.epoch},
          {"standard_loss", nan_as_null(e.standard_loss)},
          {"interpretable_loss", nan_as_null(e.interpretable_loss)},
          {"standard_accuracy", e.standard_accuracy},
          {"interpretable_accuracy", e.interpretable_accuracy},
          {"seconds", e.seconds},
          {"cpu_seconds", e.cpu_seconds}};
}

FinetuneEpoch epoch_from_json(const json& j) {
  FinetuneEpoch e;
  e.epoch = j.at("epoch").get<int64_t>();
  e.standard_loss = null_as_nan(j.at("standard_loss"));
  e.interpretable_loss = null_as_nan(j.at("interpretable_loss"));
  e.standard_accuracy = j.at("standard_accuracy").get<double>();
  e.interpretable_accuracy = j.at("interpretable_accuracy").get<double>();
  e.seconds = j.at("seconds").get<double>();
  e.cpu_seconds = j.value("cpu_seconds", 0.0);
  return e;
}

// The keys whose values differ between two identities, e.g. "elements, lambda".
std::string differing_keys(const json& a, const json& b) {
  std::string keys;
  for (const auto& [key, value] : a.items()) {
    if (!b.contains(key) || b.at(key) != value) keys += (keys.empty() ? "" : ", ") + key;
  }
  return keys;
}

double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

// The epochs of an earlier run of the same settings in OUT (empty: start afresh). Refuses a run
// of other settings unless --force.
std::vector<FinetuneEpoch> earlier_epochs(const FinetuneOptions& o, const json& identity) {
  const std::string log_path = in_out(o, kLog);
  if (o.force || !fs::exists(log_path) || !fs::exists(in_out(o, kState))) return {};
  const json log = with_context_value("reading " + log_path,
                                      [&] { return json::parse(core::read_text(log_path)); });
  IIS_CHECK_HINT(log.at("settings") == identity,
                 o.out << " holds a finetune run with other settings ("
                       << differing_keys(log.at("settings"), identity) << ")",
                 "pass --force to start afresh there, or choose another --out");
  std::vector<FinetuneEpoch> epochs;
  for (const auto& e : log.at("epochs")) epochs.push_back(epoch_from_json(e));
  return epochs;
}

std::string epoch_file(const FinetuneOptions& o, const Session& s, int64_t epoch) {
  return in_out(o, "epoch_" + std::to_string(epoch) + s.backbone->extension());
}

// Writes the epoch's backbone, then the log, then the state: a run killed in between resumes
// from the state, and the log's later record is dropped.
void write_epoch(const FinetuneOptions& o, Session& s, Inputs& in,
                 std::vector<FinetuneEpoch>& epochs, const FinetuneEpoch& record) {
  epochs.resize(record.epoch);
  epochs.push_back(record);
  s.backbone->save(epoch_file(o, s, record.epoch));
  json log{{"settings", in.identity}, {"epochs", json::array()}};
  for (const auto& e : epochs) log["epochs"].push_back(epoch_json(e));
  core::write_text_atomic(in_out(o, kLog), log.dump(2) + "\n");
  detail::save_heads(in_out(o, "heads"), s.heads);
  detail::save_state(in_out(o, kState), s, *in.concepts);
}

// A new session at epoch 0: the backbone as given, concepts from it, the heads' start.
Session start_session(const FinetuneOptions& o, Inputs& in, torch::Device device) {
  Session s;
  s.backbone = open_trainable_backbone(o.backbone, device);
  s.concepts = in.concepts->compute(*s.backbone, device, /*with_grad=*/false);
  s.heads = detail::initial_heads(o, s, in, device);
  detail::make_optimizers(s, o);
  return s;
}

// The session after the last epoch in OUT: its backbone file, then state.pt.
Session resume_session(const FinetuneOptions& o, Inputs& in, torch::Device device,
                       const TrainableBackbone& given) {
  Session s;
  const std::string state = in_out(o, kState);
  const std::string file =
      in_out(o, "epoch_" + std::to_string(detail::state_epoch(state)) + given.extension());
  s.backbone = open_trainable_backbone(given.spec_for(file), device);
  detail::load_state(state, s, *in.concepts, o, device);
  return s;
}

// Removes what an earlier run wrote to OUT, nothing else.
void clear_run(const FinetuneOptions& o) {
  if (!fs::is_directory(o.out)) return;
  for (const auto& entry : fs::directory_iterator(o.out)) {
    const std::string name = entry.path().filename().string();
    const std::string stem = entry.path().stem().string();
    const bool ours = name == kLog || name == kState || name == "finetune.json" ||
                      name == "heads" || stem == "backbone" || name.rfind("epoch_", 0) == 0;
    if (ours) core::remove_tree(entry.path().string());
  }
}

struct EpochSums {
  double standard = 0, interpretable = 0;
  int64_t rows = 0;
};

// One combined-loss step on the rows `index` (CPU int64).
void train_step(const FinetuneOptions& o, Session& s, Inputs& in, const torch::Tensor& index,
                int64_t position, torch::Device device, EpochSums& sums) {
  if (o.concept_grad || s.step % o.concept_refresh == 0) {
    s.concepts = in.concepts->compute(*s.backbone, device, o.concept_grad);
  }
  s.backbone->train(true);
  const auto z = s.backbone->features(model_input(in.train, index, device));
  const auto labels = in.train.labels.index_select(0, index).to(device);
  const StepLoss loss = combined_loss(z, s.concepts, s.heads, labels, position, o.lambda);
  s.backbone_adam->zero_grad();
  s.heads_adam->zero_grad();
  loss.total.backward();
  s.backbone_adam->step();
  s.heads_adam->step();
  if (o.concept_grad) s.concepts = s.concepts.detach();
  ++s.step;
  const double rows = static_cast<double>(index.size(0));
  sums.standard += loss.standard.item<double>() * rows;
  sums.interpretable += loss.interpretable.item<double>() * rows;
  sums.rows += index.size(0);
}

FinetuneEpoch train_epoch(const FinetuneOptions& o, Session& s, Inputs& in, int64_t position,
                          torch::Device device, core::Progress& progress) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_seconds();
  const int64_t epoch = s.epoch + 1, n = in.train.size();
  const auto order = torch::tensor(batch_order(n, o.seed, epoch), torch::kInt64);
  EpochSums sums;
  for (int64_t begin = 0; begin < n; begin += o.batch_size) {
    train_step(o, s, in, order.narrow(0, begin, std::min(o.batch_size, n - begin)), position,
               device, sums);
    char status[96];
    std::snprintf(status, sizeof(status), "epoch %lld/%lld loss %.3f + %.3f",
                  static_cast<long long>(epoch), static_cast<long long>(o.epochs),
                  sums.standard / sums.rows, sums.interpretable / sums.rows);
    progress.set_status(status);
    progress.advance();
  }
  s.epoch = epoch;
  FinetuneEpoch record;
  record.epoch = epoch;
  record.standard_loss = sums.standard / static_cast<double>(n);
  record.interpretable_loss = sums.interpretable / static_cast<double>(n);
  std::tie(record.standard_accuracy, record.interpretable_accuracy) =
      detail::val_accuracy(s, in, position, device);
  record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  record.cpu_seconds = cpu_seconds() - cpu_start;
  return record;
}

void log_epoch(const FinetuneEpoch& e) {
  char line[200];
  std::snprintf(line, sizeof(line),
                "finetune epoch %lld: loss %.4f + λ·%.4f, val accuracy standard %.4f, "
                "interpretable %.4f, %s (CPU %s)",
                static_cast<long long>(e.epoch), e.standard_loss, e.interpretable_loss,
                e.standard_accuracy, e.interpretable_accuracy,
                core::format_duration(e.seconds).c_str(),
                core::format_duration(e.cpu_seconds).c_str());
  core::log_info(line);
}

// OUT/backbone.<ext> (and its YAML): a copy of the requested epoch's backbone.
std::string publish_backbone(const FinetuneOptions& o, const std::string& epoch_path) {
  const fs::path from(epoch_path);
  const std::string to = in_out(o, "backbone" + from.extension().string());
  core::write_atomic(to, [&](const std::string& tmp) {
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  });
  const fs::path yaml = fs::path(from).replace_extension(".yaml");
  if (fs::exists(yaml)) {
    core::write_text_atomic(fs::path(to).replace_extension(".yaml").string(),
                            core::read_text(yaml.string()));
  }
  return to;
}

void write_summary(const FinetuneOptions& o, const Inputs& in, const FinetuneResult& r) {
  const FinetuneEpoch& before = r.epochs.front();
  const FinetuneEpoch& after = r.epochs.back();
  double seconds = 0, cpu = 0;
  for (const auto& e : r.epochs) seconds += e.seconds, cpu += e.cpu_seconds;
  json j{{"settings", in.identity},
         {"epochs", o.epochs},
         {"steps_per_epoch", r.steps_per_epoch},
         {"train_size", in.train.size()},
         {"val_size", in.val.size()},
         {"elements", in.concepts->elements().size()},
         {"num_classes", in.num_classes},
         {"before",
          {{"standard_accuracy", before.standard_accuracy},
           {"interpretable_accuracy", before.interpretable_accuracy}}},
         {"after",
          {{"standard_accuracy", after.standard_accuracy},
           {"interpretable_accuracy", after.interpretable_accuracy}}},
         {"backbone", fs::path(r.backbone).filename().string()},
         {"spec", r.spec},
         {"seconds", seconds},
         {"cpu_seconds", cpu}};
  core::write_text_atomic(in_out(o, "finetune.json"), j.dump(2) + "\n");
}

}  // namespace

void FinetuneOptions::validate() const {
  IIS_CHECK_HINT(!backbone.empty(), "--backbone is required",
                 "give native:<arch>@ckpt.pt or a TorchScript file");
  for (const auto& [flag, path] : {std::pair<std::string, std::string>{"--data", data},
                                   {"--val-data", val_data},
                                   {"--elements", elements}}) {
    IIS_CHECK_HINT(!path.empty(), flag << " is required", "see iis finetune --help");
    IIS_CHECK_HINT(fs::exists(path), flag << " " << path << " does not exist", "check the path");
  }
  IIS_CHECK_HINT(!out.empty(), "--out is required", "name the folder for the fine-tuned backbone");
  IIS_CHECK_HINT(heads.empty() || fs::is_directory(heads),
                 "--heads " << heads << " is not a folder", "give OUT/heads of a finetune run");
  validate_settings();
  core::check_device(device);
}

void FinetuneOptions::validate_settings() const {
  IIS_CHECK_HINT(concept_type == "prototype" || concept_type == "cluster",
                 "--concept-type must be prototype or cluster, got '" << concept_type << "'",
                 "end2end and text concepts are not made from the backbone during fine-tuning");
  IIS_CHECK_HINT(num_concepts >= 1, "--num-concepts must be >= 1, got " << num_concepts,
                 "200 is the default");
  IIS_CHECK_HINT(std::isfinite(ratio) && ratio >= 0 && ratio < 1,
                 "--ratio must be in [0, 1), got " << ratio, "0.5 drops half of the concepts");
  IIS_CHECK_HINT(std::isfinite(lambda) && lambda >= 0, "--lambda must be >= 0, got " << lambda,
                 "0 is the control without the interpretability term; 1 is the default");
  IIS_CHECK_HINT(epochs >= 0 && epochs <= 1000, "--epochs must be in 0…1000, got " << epochs, "");
  IIS_CHECK_HINT(std::isfinite(lr) && lr > 0 && lr <= 10, "--lr must be in (0, 10], got " << lr,
                 "1e-4 is the default");
  IIS_CHECK_HINT(std::isfinite(head_lr) && head_lr > 0 && head_lr <= 10,
                 "--head-lr must be in (0, 10], got " << head_lr, "1e-3 is the default");
  IIS_CHECK_HINT(batch_size >= 1 && batch_size <= 65536,
                 "--batch-size must be in 1…65536, got " << batch_size, "128 is the default");
  IIS_CHECK_HINT(concept_refresh >= 1, "--concept-refresh must be >= 1, got " << concept_refresh,
                 "1 makes the concepts anew before every step");
  IIS_CHECK_HINT(!concept_grad || concept_refresh == 1,
                 "--concept-grad needs --concept-refresh 1, got " << concept_refresh,
                 "a gradient flows only through concepts made in the same step");
  IIS_CHECK_HINT(head_init == "fit" || head_init == "fresh",
                 "--head-init must be fit or fresh, got '" << head_init << "'", "");
  IIS_CHECK_HINT(head_epochs >= 1, "--head-epochs must be >= 1, got " << head_epochs, "");
  IIS_CHECK_HINT(train_limit >= 0 && val_limit >= 0, "--train-limit and --val-limit must be >= 0",
                 "0 uses every image");
}

std::vector<int64_t> batch_order(int64_t n, uint64_t seed, int64_t epoch) {
  return core::SeededRandom(seed, "finetune order", static_cast<uint64_t>(epoch))
      .permutation(n, core::IndexMap::Exact);
}

FinetuneResult run_finetune(const FinetuneOptions& o) {
  o.validate();
  core::check_output_apart(
      {"--out", o.out},
      {{"--data", o.data}, {"--val-data", o.val_data}, {"--elements", o.elements}});
  const torch::Device device = core::check_device(o.device);
  std::vector<FinetuneEpoch> epochs = earlier_epochs(o, detail::run_identity(o));
  const bool resume = !epochs.empty();
  if (!resume) clear_run(o);
  core::make_dirs(o.out);

  const auto given = open_trainable_backbone(o.backbone, device);
  Inputs in = detail::load_inputs(o, given->preprocess_yaml());
  const int64_t position =
      heads::threshold_position(o.num_concepts, o.ratio, heads::ThresholdRule::Strict);
  Session s = resume ? resume_session(o, in, device, *given) : start_session(o, in, device);
  IIS_CHECK_HINT(!resume || static_cast<int64_t>(epochs.size()) > s.epoch,
                 in_out(o, kLog) << " does not match " << in_out(o, kState),
                 "pass --force to start afresh");
  if (!resume) {
    FinetuneEpoch start;
    start.standard_loss = start.interpretable_loss = std::nan("");
    std::tie(start.standard_accuracy, start.interpretable_accuracy) =
        detail::val_accuracy(s, in, position, device);
    write_epoch(o, s, in, epochs, start);
  }
  epochs.resize(s.epoch + 1);

  FinetuneResult result;
  result.steps_per_epoch = (in.train.size() + o.batch_size - 1) / o.batch_size;
  core::Progress progress(
      "finetune", std::max<int64_t>(0, o.epochs - s.epoch) * result.steps_per_epoch, "steps");
  while (s.epoch < o.epochs) {
    const FinetuneEpoch record = train_epoch(o, s, in, position, device, progress);
    write_epoch(o, s, in, epochs, record);
    log_epoch(record);
    ++result.epochs_trained;
  }
  progress.finish();
  const int64_t last = std::min(o.epochs, s.epoch);
  result.epochs.assign(epochs.begin(), epochs.begin() + last + 1);
  result.backbone = publish_backbone(o, epoch_file(o, s, last));
  result.spec = s.backbone->spec_for(result.backbone);
  write_summary(o, in, result);
  return result;
}

}  // namespace iis::finetune
