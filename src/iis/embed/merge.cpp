// `iis merge`: joins the shards of `iis embed --shard i/n` into one set of files, after
// checking that they belong together and cover the dataset exactly once.
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/shards.hpp"
#include "iis/embed/detail/embed_files.hpp"
#include "iis/embed/detail/npy_rows.hpp"
#include "iis/embed/embed.hpp"
#include "iis/io/npy.hpp"

namespace iis::embed {

namespace {

struct Shard {
  std::string prefix;
  nlohmann::json meta;
  nlohmann::json settings;  // what must agree between shards (same_settings)
  int64_t index = 0, count = 0, begin = 0, end = 0, rows = 0;
};

// The keys of `settings`: where the rows come from, then how they were computed.
const std::vector<std::string> kSettings = {"backbone_fingerprint",
                                            "data_fingerprint",
                                            "dataset_size",
                                            "preprocessing_fingerprint",
                                            "dtype",
                                            "feature_dim",
                                            "batch_size",
                                            "autocast",
                                            "device_type",
                                            "threads",
                                            "libtorch"};

// The settings of a shard's metadata that its bytes depend on. A row's last bits follow the
// kernels, which follow the batch's size, autocast, the device type, the LibTorch build and, on
// the CPU only, the intra-op thread count (shards on GPUs of nodes with other core counts still
// merge). Shards written before these were recorded hold null there.
nlohmann::json same_settings(const nlohmann::json& meta) {
  nlohmann::json settings;
  for (const auto& key : kSettings) settings[key] = meta.value(key, nlohmann::json());
  const std::string device = meta.value("device", "");
  settings["device_type"] = device.substr(0, device.find(':'));
  if (settings["device_type"] != "cpu") settings["threads"] = "any (not on the CPU)";
  return settings;
}

Shard read_shard(const std::string& prefix) {
  Shard s;
  s.prefix = prefix;
  const detail::EmbedFiles files(prefix);
  IIS_CHECK_HINT(std::filesystem::is_regular_file(files.meta),
                 "shard " << prefix << ": " << files.meta << " is missing",
                 "give the --out prefixes of finished `iis embed --shard` runs");
  with_context("reading " + files.meta, [&] {
    try {
      s.meta = nlohmann::json::parse(core::read_text(files.meta));
      IIS_CHECK(s.meta.value("format", "") == detail::kEmbedFormat,
                "not an iis embed metadata file (format " << s.meta.value("format", "?") << ")");
      s.index = s.meta.at("shard").at(0).get<int64_t>();
      s.count = s.meta.at("shard").at(1).get<int64_t>();
      s.begin = s.meta.at("range").at(0).get<int64_t>();
      s.end = s.meta.at("range").at(1).get<int64_t>();
      s.rows = s.meta.at("rows").get<int64_t>();
      s.settings = same_settings(s.meta);
    } catch (const nlohmann::json::exception& e) {
      IIS_FAIL("malformed: " << e.what(), "re-run `iis embed` for this shard");
    }
  });
  return s;
}

// The shards of `options`, each read and checked to lie apart from --out, then checked to be
// the n parts of one command that cover its images once, in order; sorted by index.
std::vector<Shard> read_shards(const MergeOptions& options) {
  IIS_CHECK_HINT(!options.shards.empty(), "no shards to merge",
                 "iis merge --out PREFIX SHARD_PREFIX...");
  IIS_CHECK_HINT(!options.out.empty(), "--out is required", "the prefix of the merged files");
  detail::check_prefix(options.out, "--out");
  std::vector<Shard> shards;
  for (const auto& prefix : options.shards) {
    std::vector<core::NamedPath> shard_files;
    for (const std::string& file : detail::EmbedFiles(prefix).all()) {
      shard_files.push_back({"shard " + prefix, file});
    }
    detail::check_outputs_apart(options.out, "--out", shard_files);
    shards.push_back(read_shard(prefix));
  }
  // An empty part (no image in its range, or none decodable) knows no feature size: it takes
  // that of the parts with rows.
  const auto with_rows =
      std::find_if(shards.begin(), shards.end(), [](const Shard& s) { return s.rows > 0; });
  const bool any_rows = with_rows != shards.end();
  if (any_rows) {
    const nlohmann::json feature_dim = with_rows->settings["feature_dim"];
    for (Shard& s : shards) {
      if (s.rows == 0) s.settings["feature_dim"] = feature_dim;
    }
  }
  core::check_shard_set(shards, &Shard::prefix, &Shard::settings, kSettings,
                        "merge only shards of one `iis embed` command (same backbone, data, "
                        "preprocessing, --batch-size, --half/--bf16, --half-storage, device type, "
                        "LibTorch version and, on the CPU, --threads)");
  const Shard& first = shards.front();
  IIS_CHECK_HINT(static_cast<int64_t>(shards.size()) == first.count,
                 "got " << shards.size() << " of " << first.count << " shards",
                 "run the missing shards (`iis embed --shard i/" << first.count << "`) first");
  int64_t expected_begin = 0;
  for (const Shard& s : shards) {
    IIS_CHECK_HINT(
        s.begin == expected_begin,
        "shard " << s.prefix << " starts at image " << s.begin << ", expected " << expected_begin,
        "shards must be contiguous; was --limit used?");
    expected_begin = s.end;
  }
  const int64_t dataset_size = first.meta.at("dataset_size").get<int64_t>();
  IIS_CHECK_HINT(expected_begin == dataset_size,
                 "the shards end at image " << expected_begin << " of " << dataset_size,
                 "shards must cover the whole dataset; was --limit used?");
  IIS_CHECK_HINT(any_rows,
                 "the " << shards.size() << " shards hold no rows: none of the " << dataset_size
                        << " images could be decoded",
                 "check the dataset's files (each shard's .skipped.txt lists them)");
  return shards;
}

}  // namespace

MergeResult run_merge(const MergeOptions& options) {
  const std::vector<Shard> shards = read_shards(options);
  // The metadata of the first part with rows (an empty part records feature_dim 0).
  const Shard& first =
      *std::find_if(shards.begin(), shards.end(), [](const Shard& s) { return s.rows > 0; });
  const int64_t dataset_size = first.meta.at("dataset_size").get<int64_t>();
  MergeResult result;
  result.shards = static_cast<int64_t>(shards.size());
  result.feature_dim = first.meta.at("feature_dim").get<int64_t>();
  const detail::EmbedFiles out(options.out);
  const torch::ScalarType dtype =
      first.meta.at("dtype").get<std::string>() == "float16" ? torch::kFloat16 : torch::kFloat32;
  detail::NpyRowWriter features(out.features, dtype, {result.feature_dim});
  std::vector<torch::Tensor> labels;
  std::string paths, skipped;
  core::Progress progress("merge", result.shards, "shards");
  for (const Shard& s : shards) {
    const detail::EmbedFiles in(s.prefix);
    with_context("shard " + s.prefix, [&] {
      torch::Tensor f = io::load_npy(in.features, 2, "features");
      IIS_CHECK(f.scalar_type() == dtype && f.size(0) == s.rows &&
                    (s.rows == 0 || f.size(1) == result.feature_dim),
                in.features << " holds " << f.scalar_type() << " " << f.sizes() << ", its metadata "
                            << s.rows << " rows of " << result.feature_dim);
      torch::Tensor l = io::load_npy(in.labels, 1, "labels");
      IIS_CHECK(l.scalar_type() == torch::kInt64 && l.size(0) == s.rows,
                in.labels << " holds " << l.sizes() << " " << l.scalar_type() << ", expected "
                          << s.rows << " int64");
      const std::string p = core::read_text(in.paths);
      const int64_t lines = std::count(p.begin(), p.end(), '\n');
      IIS_CHECK(lines == s.rows, in.paths << " has " << lines << " lines, expected " << s.rows);
      if (s.rows > 0) features.append(f);
      labels.push_back(l);
      paths += p;
      if (std::filesystem::is_regular_file(in.skipped)) skipped += core::read_text(in.skipped);
    });
    result.rows += s.rows;
    result.skipped += s.meta.value("skipped", int64_t{0});
    progress.advance();
  }
  progress.finish();
  features.commit();
  io::save_npy(out.labels, torch::cat(labels));
  core::write_text_atomic(out.paths, paths);
  core::write_text_atomic(out.skipped, skipped);
  nlohmann::json meta = first.meta;
  meta["shard"] = {0, 1};
  meta["range"] = {0, dataset_size};
  meta["rows"] = result.rows;
  meta["skipped"] = result.skipped;
  meta["merged_from"] = options.shards;
  core::write_text_atomic(out.meta, meta.dump(2) + "\n");
  return result;
}

}  // namespace iis::embed
