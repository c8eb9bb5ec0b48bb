// `iis pretrain`: loads a split into memory once, trains a native model with Adam, writes a
// checkpoint and a JSON log each epoch, and resumes a run found in the output folder.
#include "iis/models/pretrain.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "iis/core/adam.hpp"
#include "iis/core/device.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/parallel.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/random.hpp"
#include "iis/data/dataset.hpp"
#include "iis/models/native.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace iis::models {

namespace {

constexpr int64_t kEvalBatch = 1024;
constexpr const char* kLogName = "log.json";
constexpr const char* kLastName = "last.pt";

// A split held in memory: N×1×S×S uint8 images and N int64 labels (CPU).
struct Split {
  torch::Tensor images, labels;
  std::vector<std::string> class_names;
  int64_t unreadable = 0;
};

// A seeded permutation of 0…n-1 for stream `stream` of `seed` (1: the training subset, 100 + e:
// the batch order of epoch e), so the orders and subsets drawn from one seed are independent.
// Its own seeding and index mapping, kept so that a seed gives the backbones it always gave.
std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t stream) {
  return core::SeededRandom(core::splitmix64_at(seed, stream))
      .permutation(n, core::IndexMap::Modulo);
}

// Reads every image of `path` through the Dataset interface into one uint8 tensor, fitted to
// the model's input (grey, size×size). Unreadable images are skipped, counted and named.
Split load_split(const std::string& path, const NativePreprocessing& prep,
                 const std::string& what) {
  Split split;
  auto dataset = data::open_dataset(path);
  const int64_t n = dataset->size();
  IIS_CHECK_HINT(n > 0, what << " " << path << " holds no images",
                 "give an IDX images file or an ImageFolder with one sub-folder per class");
  split.class_names = dataset->class_names();
  const int64_t side = prep.size;
  auto images = torch::empty({n, 1, side, side}, torch::kUInt8);
  auto labels = torch::empty({n}, torch::kInt64);
  std::vector<char> ok(n, 0);
  std::vector<std::string> errors(n);
  uint8_t* pixels = images.data_ptr<uint8_t>();
  int64_t* label_ptr = labels.data_ptr<int64_t>();
  core::Progress progress("loading " + what, n, "images");
  constexpr int64_t kChunk = 4096;
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t end = std::min(n, begin + kChunk);
    core::parallel_for(begin, end, 256, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        try {
          cv::Mat grey = prep.fit_image(dataset->image(i));
          std::memcpy(pixels + i * side * side, grey.data, side * side);
          label_ptr[i] = dataset->label(i);
          ok[i] = 1;
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      }
    });
    progress.advance(end - begin);
  }
  progress.finish();
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < n; ++i) {
    if (ok[i]) {
      kept.push_back(i);
    } else if (split.unreadable++ < 5) {
      core::log_info("skipping " + dataset->source(i) + ": " + errors[i]);
    }
  }
  IIS_CHECK_HINT(!kept.empty(), "no image of " << what << " " << path << " could be read",
                 "check the files; the first error was: " << errors[0]);
  if (split.unreadable > 0) {
    core::log_info(what + ": skipped " + std::to_string(split.unreadable) +
                   " unreadable images of " + std::to_string(n));
    auto index = torch::tensor(kept, torch::kInt64);
    images = images.index_select(0, index);
    labels = labels.index_select(0, index);
  }
  const auto classes = static_cast<int64_t>(split.class_names.size());
  IIS_CHECK(labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < classes,
            what << " " << path << " has labels outside 0…" << classes - 1);
  split.images = images;
  split.labels = labels;
  return split;
}

// Keeps a seeded random subset of `limit` images (in their original order).
void limit_split(Split& split, int64_t limit, uint64_t seed) {
  const int64_t n = split.images.size(0);
  if (limit <= 0 || limit >= n) return;
  auto order = permutation(n, seed, /*stream=*/1);
  order.resize(limit);
  std::sort(order.begin(), order.end());
  auto index = torch::tensor(order, torch::kInt64);
  split.images = split.images.index_select(0, index);
  split.labels = split.labels.index_select(0, index);
}

// Share of `split` that `model` (eval mode) classifies right.
double accuracy(NativeModelImpl& model, const Split& split, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto prep = model.preprocessing();
  int64_t correct = 0;
  const int64_t n = split.images.size(0);
  for (int64_t begin = 0; begin < n; begin += kEvalBatch) {
    const int64_t count = std::min(kEvalBatch, n - begin);
    auto x = prep.normalize(split.images.narrow(0, begin, count).to(device));
    auto predicted = model.forward(x).argmax(1).cpu();
    correct += predicted.eq(split.labels.narrow(0, begin, count)).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

// The identity of a file or folder for resumption: its absolute path and, for a file, a
// content fingerprint.
json input_identity(const std::string& path) {
  if (path.empty()) return nullptr;
  json id;
  id["path"] = fs::absolute(path).lexically_normal().string();
  if (fs::is_regular_file(path)) id["fingerprint"] = core::fingerprint_file(path);
  return id;
}

// The options that decide the trained weights (epochs, device, force aside).
json options_identity(const PretrainOptions& o) {
  return json{{"arch", o.arch},
              {"data", input_identity(o.data)},
              {"val_data", input_identity(o.val_data)},
              {"seed", o.seed},
              {"batch_size", o.batch_size},
              {"lr", o.lr},
              {"train_limit", o.train_limit}};
}

json nan_as_null(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }
double null_as_nan(const json& value) {
  return value.is_number() ? value.get<double>() : std::nan("");
}

json epoch_json(const PretrainEpoch& e) {
  return json{{"epoch", e.epoch},
              {"train_loss", nan_as_null(e.train_loss)},
              {"train_accuracy", nan_as_null(e.train_accuracy)},
              {"val_accuracy", nan_as_null(e.val_accuracy)},
              {"seconds", e.seconds},
              {"checkpoint", fs::path(e.checkpoint).filename().string()}};
}

PretrainEpoch epoch_from_json(const json& j, const std::string& out) {
  PretrainEpoch e;
  e.epoch = j.at("epoch").get<int64_t>();
  e.train_loss = null_as_nan(j.at("train_loss"));
  e.train_accuracy = null_as_nan(j.at("train_accuracy"));
  e.val_accuracy = null_as_nan(j.at("val_accuracy"));
  e.seconds = j.at("seconds").get<double>();
  e.checkpoint = (fs::path(out) / j.at("checkpoint").get<std::string>()).string();
  return e;
}

std::string epoch_path(const std::string& out, int64_t epoch) {
  return (fs::path(out) / ("epoch_" + std::to_string(epoch) + ".pt")).string();
}

// Removes what an earlier run wrote to `out` (checkpoints, last.pt, log.json), nothing else.
void clear_run(const std::string& out) {
  if (!fs::is_directory(out)) return;
  for (const auto& entry : fs::directory_iterator(out)) {
    const std::string name = entry.path().filename().string();
    const bool ours = name == kLogName || name == kLastName ||
                      (name.rfind("epoch_", 0) == 0 && entry.path().extension() == ".pt");
    if (ours) fs::remove(entry.path());
  }
}

// The keys whose values differ between two option objects, e.g. "seed, lr".
std::string differing_keys(const json& a, const json& b) {
  std::string keys;
  for (const auto& [key, value] : a.items()) {
    if (!b.contains(key) || b.at(key) != value) keys += (keys.empty() ? "" : ", ") + key;
  }
  for (const auto& [key, value] : b.items()) {
    if (!a.contains(key)) keys += (keys.empty() ? "" : ", ") + key;
  }
  return keys;
}

// Everything one run keeps between epochs and writes into its checkpoints.
struct Run {
  std::shared_ptr<NativeModelImpl> model;
  std::unique_ptr<torch::optim::Adam> optimizer;
  int64_t epoch = 0;
};

// Writes the model, the epoch and the optimizer state to `path` atomically; the file is also
// a plain native checkpoint (load_native_checkpoint ignores the extra entries).
void save_run(const std::string& path, Run& run) {
  with_context("saving " + path, [&] {
    torch::serialize::OutputArchive archive;
    write_native_model(archive, *run.model);
    archive.write("iis_epoch", c10::IValue(run.epoch));
    torch::serialize::OutputArchive optimizer;
    run.optimizer->save(optimizer);
    archive.write("optimizer", optimizer);
    core::write_atomic(path, [&](const std::string& tmp) { archive.save_to(tmp); });
  });
}

// LibTorch's Adam (its state goes into the checkpoints) with the project's constants, at a
// constant learning rate.
std::unique_ptr<torch::optim::Adam> make_adam(NativeModelImpl& model, double lr) {
  return std::make_unique<torch::optim::Adam>(model.parameters(),
                                              torch::optim::AdamOptions(lr)
                                                  .betas({core::kAdamBeta1, core::kAdamBeta2})
                                                  .eps(core::kAdamEps));
}

Run load_run(const std::string& path, double lr, const torch::Device& device) {
  Run run;
  with_context("resuming from " + path, [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(path, device);
    run.model = read_native_model(archive);
    run.model->to(device);
    c10::IValue epoch;
    archive.read("iis_epoch", epoch);
    run.epoch = epoch.toInt();
    run.optimizer = make_adam(*run.model, lr);
    torch::serialize::InputArchive optimizer;
    archive.read("optimizer", optimizer);
    run.optimizer->load(optimizer);
  });
  return run;
}

}  // namespace

void validate_pretrain_options(const PretrainOptions& o) {
  const auto archs = native_architectures();
  std::string names;
  for (const auto& a : archs) names += (names.empty() ? "" : ", ") + a;
  IIS_CHECK_HINT(!o.arch.empty(), "--arch is required", "one of: " << names);
  IIS_CHECK_HINT(std::find(archs.begin(), archs.end(), o.arch) != archs.end(),
                 "--arch: unknown architecture '" << o.arch << "'", "one of: " << names);
  IIS_CHECK_HINT(!o.data.empty(), "--data is required",
                 "give the training split, e.g. "
                 "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
  IIS_CHECK_HINT(fs::exists(o.data), "--data " << o.data << " does not exist", "check the path");
  IIS_CHECK_HINT(o.val_data.empty() || fs::exists(o.val_data),
                 "--val-data " << o.val_data << " does not exist", "check the path");
  IIS_CHECK_HINT(!o.out.empty(), "--out is required", "name the folder for the checkpoints");
  IIS_CHECK_HINT(o.epochs >= 0 && o.epochs <= 1000, "--epochs must be in 0…1000, got " << o.epochs,
                 "0 saves only the initial model");
  IIS_CHECK_HINT(o.batch_size >= 1 && o.batch_size <= 65536,
                 "--batch-size must be in 1…65536, got " << o.batch_size, "128 is the default");
  IIS_CHECK_HINT(std::isfinite(o.lr) && o.lr > 0 && o.lr <= 10,
                 "--lr must be in (0, 10], got " << o.lr, "1e-3 is the default (Adam)");
  IIS_CHECK_HINT(o.train_limit >= 0, "--train-limit must be >= 0, got " << o.train_limit,
                 "0 trains on the whole split");
  core::check_device(o.device);
}

PretrainResult run_pretrain(const PretrainOptions& options) {
  validate_pretrain_options(options);
  const torch::Device device = core::check_device(options.device);
  const std::string& out = options.out;
  const std::string log_path = (fs::path(out) / kLogName).string();
  const std::string last_path = (fs::path(out) / kLastName).string();
  const json identity = options_identity(options);

  PretrainResult result;
  result.log = log_path;
  json log;
  bool resume = false;
  if (!options.force && fs::exists(log_path)) {
    log = with_context_value("reading " + log_path,
                             [&] { return json::parse(core::read_text(log_path)); });
    const json& previous = log.at("options");
    IIS_CHECK_HINT(previous == identity,
                   out << " holds a pretrain run with other options ("
                       << differing_keys(previous, identity) << ")",
                   "pass --force to start afresh there, or choose another --out");
    resume = fs::exists(last_path);
  }
  if (!resume) {
    clear_run(out);
    core::make_dirs(out);
  }

  // A run that already reached the requested epoch: nothing to train, nothing to load.
  if (resume) {
    std::vector<PretrainEpoch> done;
    for (const auto& e : log.at("epochs")) done.push_back(epoch_from_json(e, out));
    if (!done.empty() && done.back().epoch >= options.epochs) {
      done.resize(options.epochs + 1);
      IIS_CHECK_HINT(fs::exists(done.back().checkpoint),
                     "checkpoint " << done.back().checkpoint << " is missing",
                     "pass --force to train afresh");
      result.epochs = done;
      result.checkpoint = done.back().checkpoint;
      result.num_classes = log.at("num_classes").get<int64_t>();
      result.train_size = log.at("train_size").get<int64_t>();
      core::log_info("pretrain " + options.arch + ": epoch " + std::to_string(options.epochs) +
                     " already in " + out + ", nothing to train");
      return result;
    }
  }

  const NativePreprocessing prep;
  Split train = load_split(options.data, prep, "training data");
  limit_split(train, options.train_limit, options.seed);
  Split val;
  if (!options.val_data.empty()) {
    val = load_split(options.val_data, prep, "validation data");
    IIS_CHECK_HINT(
        val.class_names == train.class_names,
        "--val-data " << options.val_data << " has other classes than --data " << options.data,
        "give the test split of the same dataset");
  }
  const auto num_classes = static_cast<int64_t>(train.class_names.size());
  const int64_t n = train.images.size(0);
  result.num_classes = num_classes;
  result.train_size = n;

  Run run;
  if (resume) {
    run = load_run(last_path, options.lr, device);
    IIS_CHECK_HINT(run.model->arch() == options.arch && run.model->num_classes() == num_classes,
                   last_path << " holds a " << run.model->arch() << " for "
                             << run.model->num_classes() << " classes",
                   "pass --force to start afresh");
    std::vector<PretrainEpoch> done;
    for (const auto& e : log.at("epochs")) {
      if (e.at("epoch").get<int64_t>() <= run.epoch) done.push_back(epoch_from_json(e, out));
    }
    IIS_CHECK_HINT(static_cast<int64_t>(done.size()) == run.epoch + 1,
                   log_path << " does not match " << last_path << " (epoch " << run.epoch << ")",
                   "pass --force to start afresh");
    result.epochs = done;
    core::log_info("pretrain " + options.arch + ": resuming after epoch " +
                   std::to_string(run.epoch) + " from " + last_path);
  } else {
    run.model = make_native_model(options.arch, num_classes, options.seed);
    run.model->to(device);
    run.optimizer = make_adam(*run.model, options.lr);
  }

  log = json{{"arch", options.arch},
             {"options", identity},
             {"num_classes", num_classes},
             {"class_names", train.class_names},
             {"train_size", n},
             {"val_size", val.images.defined() ? val.images.size(0) : 0},
             {"preprocessing", prep.to_yaml()},
             {"epochs", json::array()}};
  auto write_epoch = [&](const PretrainEpoch& record) {
    result.epochs.push_back(record);
    save_run(record.checkpoint, run);
    log["epochs"] = json::array();
    for (const auto& e : result.epochs) log["epochs"].push_back(epoch_json(e));
    core::write_text_atomic(log_path, log.dump(2) + "\n");
    save_run(last_path, run);
  };

  if (!resume) {  // epoch 0: the seeded initial model, e.g. the untrained control
    PretrainEpoch initial;
    initial.train_loss = initial.train_accuracy = std::nan("");
    initial.val_accuracy = val.images.defined() ? accuracy(*run.model, val, device) : std::nan("");
    initial.checkpoint = epoch_path(out, 0);
    write_epoch(initial);
  }

  const auto images = train.images.to(device);
  const auto labels = train.labels.to(device);
  const int64_t batches = (n + options.batch_size - 1) / options.batch_size;
  const int64_t remaining = std::max<int64_t>(0, options.epochs - run.epoch);
  core::Progress progress("pretrain " + options.arch, remaining * batches, "batches");
  while (run.epoch < options.epochs) {
    const auto start = std::chrono::steady_clock::now();
    const int64_t epoch = run.epoch + 1;
    auto order_vec = permutation(n, options.seed, /*stream=*/100 + epoch);
    auto order = torch::tensor(order_vec, torch::kInt64).to(device);
    run.model->train();
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t begin = b * options.batch_size;
      const int64_t count = std::min(options.batch_size, n - begin);
      auto index = order.narrow(0, begin, count);
      auto x = prep.normalize(images.index_select(0, index));
      auto y = labels.index_select(0, index);
      auto logits = run.model->forward(x);
      auto loss = torch::cross_entropy_loss(logits, y);
      run.optimizer->zero_grad();
      loss.backward();
      run.optimizer->step();
      loss_sum += loss.item<double>() * static_cast<double>(count);
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      char status[96];
      std::snprintf(status, sizeof(status), "epoch %lld/%lld loss %.3f",
                    static_cast<long long>(epoch), static_cast<long long>(options.epochs),
                    loss_sum / static_cast<double>(begin + count));
      progress.set_status(status);
      progress.advance();
    }
    run.epoch = epoch;
    PretrainEpoch record;
    record.epoch = epoch;
    record.train_loss = loss_sum / static_cast<double>(n);
    record.train_accuracy = static_cast<double>(correct) / static_cast<double>(n);
    record.val_accuracy = val.images.defined() ? accuracy(*run.model, val, device) : std::nan("");
    record.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    record.checkpoint = epoch_path(out, epoch);
    write_epoch(record);
    ++result.epochs_trained;
    char line[160];
    std::snprintf(line, sizeof(line), "%s epoch %lld: train loss %.4f, train accuracy %.4f",
                  options.arch.c_str(), static_cast<long long>(epoch), record.train_loss,
                  record.train_accuracy);
    std::string message = line;
    if (std::isfinite(record.val_accuracy)) {
      std::snprintf(line, sizeof(line), ", val accuracy %.4f", record.val_accuracy);
      message += line;
    }
    message += ", " + core::format_duration(record.seconds);
    core::log_info(message);
  }
  progress.finish();
  result.epochs.resize(options.epochs + 1);
  result.checkpoint = result.epochs.back().checkpoint;
  return result;
}

}  // namespace iis::models
