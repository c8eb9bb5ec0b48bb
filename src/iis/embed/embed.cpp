// `iis embed`: a dataset's images through a backbone into features, labels and paths files,
// with decoding and preprocessing on a thread pool that runs ahead of inference.
#include "iis/embed/embed.hpp"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <tuple>
#include <utility>

#include "iis/backbone/backbone.hpp"
#include "iis/core/device.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/parallel.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/threads.hpp"
#include "iis/data/dataset.hpp"
#include "iis/embed/detail/embed_files.hpp"
#include "iis/embed/detail/npy_rows.hpp"
#include "iis/io/npy.hpp"

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define IIS_AUTOCAST_PER_DEVICE_API 1
#else
#define IIS_AUTOCAST_PER_DEVICE_API 0
#endif

namespace iis::embed {

namespace {

// Turns CUDA autocast on for the scope (float16 or bfloat16), restoring the previous state.
// Written against both LibTorch 1.13/2.0-2.3 and 2.4+ (per-device API).
class AutocastScope {
 public:
  AutocastScope(torch::Device device, std::optional<torch::ScalarType> dtype) {
    if (!dtype) return;
    IIS_CHECK_HINT(device.is_cuda(), "--half and --bf16 need --device cuda",
                   "on the CPU run in float32 (drop --half/--bf16); --half-storage still "
                   "halves the features file");
    active_ = true;
#if IIS_AUTOCAST_PER_DEVICE_API
    was_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    old_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, *dtype);
#else
    was_enabled_ = at::autocast::is_enabled();
    old_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(*dtype);
#endif
  }
  ~AutocastScope() {
    if (!active_) return;
#if IIS_AUTOCAST_PER_DEVICE_API
    at::autocast::set_autocast_enabled(at::kCUDA, was_enabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, old_dtype_);
#else
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(old_dtype_);
#endif
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false, was_enabled_ = false;
  torch::ScalarType old_dtype_ = torch::kHalf;
};

// What a pool thread hands to the inference loop for one dataset index.
struct Prepared {
  torch::Tensor image;      // C×H×W float32 (CPU); undefined when skipped
  std::string skip_reason;  // why the image could not be decoded
};

// Fingerprint of the dataset's order, sources and labels (not the pixels: cheap for 1.3 M
// images, and any change of the file list or labels changes it).
std::string data_fingerprint(const data::Dataset& dataset) {
  uint64_t h = core::fnv1a(nullptr, 0);
  const int64_t n = dataset.size();
  h = core::fnv1a(&n, sizeof(n), h);
  for (int64_t i = 0; i < n; ++i) {
    const std::string s = dataset.source(i);
    const int64_t label = dataset.label(i);
    h = core::fnv1a(s.data(), s.size(), h);
    h = core::fnv1a(&label, sizeof(label), h);
  }
  return core::fingerprint_text(std::to_string(h));
}

std::string one_line(std::string text) {
  for (auto& c : text) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  }
  return text;
}

constexpr double kHalfMax = 65504.0;

// The decodable images of one batch window and their dataset indices.
struct Batch {
  std::vector<torch::Tensor> images;  // C×H×W float32 each
  std::vector<int64_t> indices;
};

// The batch's images stacked into B×C×H×W float32 (pinned for a copy to CUDA). Every input must
// have the shape of the run's first, `first` (taken from this batch while empty), whose image
// `first_source` names.
torch::Tensor stack_batch(const Batch& batch, const data::Dataset& dataset,
                          std::vector<int64_t>& first, std::string& first_source, bool pinned) {
  if (first.empty()) {
    first = batch.images[0].sizes().vec();
    first_source = dataset.source(batch.indices[0]);
  }
  torch::Tensor stacked =
      torch::empty({static_cast<int64_t>(batch.images.size()), first[0], first[1], first[2]},
                   torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(pinned));
  for (size_t k = 0; k < batch.images.size(); ++k) {
    IIS_CHECK_HINT(batch.images[k].sizes().vec() == first,
                   "image " << dataset.source(batch.indices[k]) << " preprocesses to "
                            << batch.images[k].sizes() << " but " << first_source << " to "
                            << torch::IntArrayRef(first),
                   "images of different sizes need --crop-size (and --resize-size) so that "
                   "every input has the same shape");
    stacked[static_cast<int64_t>(k)].copy_(batch.images[k]);
  }
  return stacked;
}

// The backbone's B×D features of the stacked `images` of `batch`, on the CPU; float16 with
// `half_storage` (checked to fit), else as the model returns them.
torch::Tensor features_of(backbone::Backbone& backbone, const torch::Tensor& images,
                          const Batch& batch, const data::Dataset& dataset,
                          const torch::Device& device, bool half_storage) {
  torch::Tensor f;
  with_context("embedding the batch of images " + dataset.source(batch.indices.front()) + " .. " +
                   dataset.source(batch.indices.back()),
               [&] {
                 f = backbone.embed(images.to(device, /*non_blocking=*/true)).to(torch::kCPU);
                 IIS_CHECK_HINT(
                     f.dim() == 2 && f.size(0) == images.size(0),
                     "backbone returned " << f.sizes() << " for " << images.size(0) << " images",
                     "the model must return one row per image");
               });
  if (!half_storage) return f;
  const double peak = f.abs().max().item<double>();
  IIS_CHECK_HINT(peak <= kHalfMax,
                 "a feature of magnitude " << peak << " does not fit float16 (--half-storage)",
                 "store float32: drop --half-storage");
  return f.to(torch::kFloat16);
}

// The dataset indices [begin, end) of the shard: the i-th of n contiguous runs of whole batch
// windows [kB, (k+1)B). A batch is the decodable images of one window (run_embed), so a shard
// computes every row in the batch one process computes it in: BLAS and oneDNN pick their
// kernels by the batch's size, and rows computed in batches of other sizes differ in their
// last bits. With more shards than windows some ranges are empty: such a shard writes an empty
// part that merges like any other, so that a launcher may start more processes than batches.
std::pair<int64_t, int64_t> shard_range(int64_t images, const EmbedOptions& o) {
  const int64_t windows = (images + o.batch_size - 1) / o.batch_size;
  const int64_t begin = o.batch_size * (windows * o.shard_index / o.shard_count);
  const int64_t end = o.batch_size * (windows * (o.shard_index + 1) / o.shard_count);
  return {begin, std::min(end, images)};
}

// PREFIX.embed.json of the images [begin, end) of the first `images` of `dataset`: what merge
// and `iis run` check.
nlohmann::json metadata(const EmbedOptions& o, const data::Dataset& dataset, int64_t images,
                        const EmbedResult& r, const image::Preprocess& prep,
                        const torch::Device& device) {
  return {
      {"format", detail::kEmbedFormat},
      {"backbone", o.backbone},
      {"backbone_fingerprint", detail::backbone_fingerprint(o.backbone)},
      {"data", o.data},
      {"data_fingerprint", data_fingerprint(dataset)},
      {"dataset_size", images},
      {"classes", dataset.class_names()},
      {"preprocessing", r.preprocessing},
      {"preprocessing_fingerprint", core::fingerprint_text(image::preprocess_yaml(prep))},
      {"shard", {o.shard_index, o.shard_count}},
      {"range", {r.range_begin, r.range_end}},
      {"rows", r.embedded},
      {"skipped", r.skipped},
      {"feature_dim", r.feature_dim},
      {"dtype", o.half_storage ? "float16" : "float32"},
      {"device", device.str()},
      {"autocast", o.half   ? "float16"
                   : o.bf16 ? "bfloat16"
                            : "none"},
      // The kernels, and so a row's last bits, follow the batch's size and (on the CPU) the
      // intra-op thread count; --workers only decodes and does not enter.
      {"batch_size", o.batch_size},
      {"threads", core::threads()},
      {"libtorch", TORCH_VERSION},  // other builds may pick other kernels
  };
}

}  // namespace

void apply_shard(EmbedOptions& options, const std::string& text, const core::Environment& env) {
  const core::ShardSpec shard = core::parse_shard(text, env);
  options.shard_index = shard.index;
  options.shard_count = shard.count;
  if (!shard.automatic) return;
  options.out = core::shard_name(options.out, shard.index, shard.count);
  core::log_info("--shard auto: shard " + std::to_string(shard.index) + "/" +
                 std::to_string(shard.count) + " into " + options.out + ", from " + shard.source);
}

bool embed_complete(const std::string& prefix) {
  std::error_code ec;
  return std::filesystem::is_regular_file(detail::EmbedFiles(prefix).meta, ec);
}

void EmbedOptions::validate() const {
  IIS_CHECK_HINT(!backbone.empty(), "--backbone is required",
                 "a TorchScript file (scripts/export_backbone.py) or native:<arch>[@ckpt.pt]");
  IIS_CHECK_HINT(!data.empty(), "--data is required",
                 "an ImageFolder folder or an IDX images file");
  IIS_CHECK_HINT(!out.empty(), "--out is required", "a prefix such as feats/train");
  IIS_CHECK_HINT(batch_size >= 1 && batch_size <= 65536,
                 "--batch-size must be in [1, 65536], got " << batch_size,
                 "64 suits most models; lower it if memory runs out");
  IIS_CHECK_HINT(shard_count >= 1 && shard_index >= 0 && shard_index < shard_count,
                 "--shard must be i/n with 0 <= i < n, got " << shard_index << "/" << shard_count,
                 "e.g. --shard 0/4");
  IIS_CHECK_HINT(workers >= 0 && workers <= 256, "--workers must be in [0, 256], got " << workers,
                 "0 = one per core");
  IIS_CHECK_HINT(limit >= 0, "--limit must be >= 0, got " << limit, "0 = all images");
  IIS_CHECK_HINT(first_images >= 0, "first_images must be >= 0, got " << first_images,
                 "0 = all images");
  IIS_CHECK_HINT(!(half && bf16), "--half and --bf16 exclude each other", "choose one");
}

image::Preprocess resolve_preprocess(const PreprocessFlags& flags, const std::string& backbone_yaml,
                                     const std::string& backbone_name) {
  image::Preprocess p;
  if (!flags.preset.empty()) {
    p = image::preprocess_preset(flags.preset);
    if (!backbone_yaml.empty()) {
      core::log_info("--preset " + flags.preset + " given: the preprocessing recorded with " +
                     backbone_name + " is not used");
    }
  } else if (!backbone_yaml.empty()) {
    image::apply_preprocess_yaml(p, backbone_yaml, "of backbone " + backbone_name);
  }
  if (!flags.yaml.empty()) image::apply_preprocess_yaml(p, core::read_text(flags.yaml), flags.yaml);
  // -1 is "not given"; any other negative value is a mistake, not a request for the default.
  IIS_CHECK_HINT(flags.resize_size >= -1, "--resize-size must be >= 0, got " << flags.resize_size,
                 "0 = no resize");
  IIS_CHECK_HINT(flags.crop_size >= -1, "--crop-size must be >= 0, got " << flags.crop_size,
                 "0 = no crop");
  if (flags.resize_size >= 0) p.resize_size = flags.resize_size;
  if (flags.crop_size >= 0) p.crop_size = flags.crop_size;
  if (!flags.interpolation.empty()) {
    p.interpolation = image::parse_interpolation(flags.interpolation, "--interpolation");
  }
  if (!flags.mean.empty()) p.mean = flags.mean;
  if (!flags.std.empty()) p.std = flags.std;
  if (flags.no_normalize) {
    p.mean.clear();
    p.std.clear();
  }
  if (flags.channels != 0) p.channels = flags.channels;
  p.validate();
  return p;
}

EmbedResult run_embed(const EmbedOptions& options) {
  options.validate();
  detail::check_prefix(options.out, "--out");
  detail::check_outputs_apart(options.out, "--out", {{"--data", options.data}});
  const torch::Device device = core::check_device(options.device);
  const auto dataset = data::open_dataset(options.data);
  const int64_t n =
      options.first_images > 0 ? std::min(options.first_images, dataset->size()) : dataset->size();
  IIS_CHECK_HINT(n > 0, "dataset " << options.data << " holds no images",
                 "check the path: a folder with one sub-folder of images per class");
  const detail::EmbedFiles files(options.out);
  EmbedResult result;
  std::tie(result.range_begin, result.range_end) = shard_range(n, options);
  if (options.limit > 0) {
    result.range_end = std::min(result.range_end, result.range_begin + options.limit);
  }
  const int64_t begin = result.range_begin, end = result.range_end;

  // Until the new PREFIX.embed.json is written last, the prefix must not look complete to
  // `iis merge --wait`: an earlier run's metadata beside new features would be merged.
  std::error_code ec;
  std::filesystem::remove(files.meta, ec);
  IIS_CHECK_HINT(!ec, "cannot remove the earlier " << files.meta << ": " << ec.message(),
                 "check that the folder is writable");
  auto backbone = backbone::open_backbone(options.backbone, device);
  const image::Preprocess prep =
      resolve_preprocess(options.preprocess, backbone->preprocess_config(), backbone->name());
  result.preprocessing = prep.describe();
  core::log_info("embedding images " + std::to_string(begin) + ".." + std::to_string(end) + " of " +
                 std::to_string(n) + " with " + backbone->name() + " on " + device.str() + "; " +
                 result.preprocessing);

  const int threads = static_cast<int>(options.workers > 0 ? options.workers : core::threads());
  // Look-ahead: two batches plus one image per thread keeps inference fed while bounding memory.
  const int64_t capacity = 2 * options.batch_size + threads;
  core::OrderedMap<Prepared> loader(begin, end, threads, capacity, [&](int64_t i) {
    Prepared p;
    cv::Mat rgb;
    try {
      rgb = dataset->image(i);
    } catch (const Error& e) {
      p.skip_reason = one_line(e.what());
      return p;
    }
    with_context("preprocessing " + dataset->source(i),
                 [&] { p.image = image::preprocess(rgb, prep); });
    return p;
  });

  std::optional<detail::NpyRowWriter> features;
  const torch::ScalarType storage = options.half_storage ? torch::kFloat16 : torch::kFloat32;
  std::vector<int64_t> labels;
  std::ostringstream paths, skipped;
  Batch pending;
  std::vector<int64_t> first_input;  // C×H×W of the first image: every input must match it
  std::string first_source;
  const std::optional<torch::ScalarType> autocast =
      options.half   ? std::optional<torch::ScalarType>(torch::kHalf)
      : options.bf16 ? std::optional<torch::ScalarType>(torch::kBFloat16)
                     : std::nullopt;
  AutocastScope autocast_scope(device, autocast);
  core::Progress progress("embed", end - begin, "images");
  int64_t unreported = 0;

  auto run_batch = [&] {
    if (pending.images.empty()) return;
    const torch::Tensor images =
        stack_batch(pending, *dataset, first_input, first_source, device.is_cuda());
    const torch::Tensor f =
        features_of(*backbone, images, pending, *dataset, device, options.half_storage);
    if (!features) features.emplace(files.features, storage, std::vector<int64_t>{f.size(1)});
    IIS_CHECK(f.size(1) == result.feature_dim || result.feature_dim == 0,
              "backbone " << backbone->name() << " changed its feature size from "
                          << result.feature_dim << " to " << f.size(1));
    result.feature_dim = f.size(1);
    features->append(f);
    for (int64_t i : pending.indices) {
      labels.push_back(dataset->label(i));
      paths << dataset->source(i) << "\n";
    }
    result.embedded += static_cast<int64_t>(pending.indices.size());
    pending = Batch();
  };

  for (int64_t i = begin; i < end; ++i) {
    Prepared p = loader.next();
    ++unreported;
    if (p.skip_reason.empty()) {
      pending.images.push_back(std::move(p.image));
      pending.indices.push_back(i);
    } else {
      skipped << dataset->source(i) << "\t" << p.skip_reason << "\n";
      ++result.skipped;
    }
    if ((i + 1) % options.batch_size == 0) {  // the end of a batch window (shard_range)
      run_batch();
      progress.advance(unreported);
      unreported = 0;
    }
  }
  run_batch();
  progress.advance(unreported);
  progress.finish();
  result.seconds = progress.elapsed_seconds();
  result.images_per_second = result.seconds > 0 ? (end - begin) / result.seconds : 0;
  // A shard may embed nothing (an empty range, or only undecodable images) and still be one
  // part of a run that embeds something: run_merge checks the whole.
  IIS_CHECK_HINT(result.embedded > 0 || options.shard_count > 1,
                 "none of the " << (end - begin) << " images could be decoded; first: "
                                << skipped.str().substr(0, skipped.str().find('\n')),
                 "check the dataset's files");
  // No row tells the feature size: an empty part is 0×0 (feature_dim 0 in its metadata).
  if (!features) features.emplace(files.features, storage, std::vector<int64_t>{0});

  // Data first, the metadata (which merge and `iis run` trust) last.
  features->commit();
  io::save_npy(files.labels, torch::tensor(labels, torch::kInt64));
  core::write_text_atomic(files.paths, paths.str());
  core::write_text_atomic(files.skipped, skipped.str());
  const nlohmann::json meta = metadata(options, *dataset, n, result, prep, device);
  core::write_text_atomic(files.meta, meta.dump(2) + "\n");
  result.files = {files.features, files.labels, files.paths, files.skipped, files.meta};
  return result;
}

}  // namespace iis::embed
