// `iis embed` and `iis merge` on a small ImageFolder with a TorchScript model whose features
// are the images' mean colours: order, skipped images, sharding + merge, and errors.
#include "iis/embed/embed.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <tuple>

#include "iis/core/files.hpp"
#include "iis/core/shards.hpp"
#include "iis/core/threads.hpp"
#include "iis/io/npy.hpp"
#include "test_support.hpp"

namespace iis::embed {
namespace {

std::string save_module(const test::TempDir& dir, const std::string& name,
                        const std::string& body) {
  torch::jit::Module m("Net");
  m.define("def forward(self, x):\n    return " + body + "\n");
  const std::string path = dir / (name + ".ts");
  m.save(path);
  return path;
}

// Colour of image k: distinct per image so a feature row identifies its image.
cv::Vec3b colour(int k) { return cv::Vec3b(10 + 20 * k, 200 - 15 * k, (37 * k) % 256); }

// data/<class>/<name>.png: classes "cat" (5 images, one of them corrupt) and "dog" (6 images).
// Returns the colours of the decodable images in dataset order.
std::vector<cv::Vec3b> make_folder(const std::string& root, const cv::Size& size = {12, 9}) {
  std::vector<cv::Vec3b> colours;
  int k = 0;
  for (const std::string cls : {"cat", "dog"}) {
    std::filesystem::create_directories(root + "/" + cls);
    for (int i = 0; i < (cls == "cat" ? 5 : 6); ++i, ++k) {
      const std::string path = root + "/" + cls + "/img" + std::to_string(i) + ".png";
      if (cls == "cat" && i == 2) {
        std::ofstream(path) << "not a png";
        continue;
      }
      const cv::Vec3b rgb = colour(k);
      cv::Mat bgr(size, CV_8UC3, cv::Scalar(rgb[2], rgb[1], rgb[0]));
      cv::imwrite(path, bgr);
      colours.push_back(rgb);
    }
  }
  return colours;
}

std::vector<std::string> lines(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(core::read_text(path));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

EmbedOptions base_options(const test::TempDir& dir, const std::string& model) {
  EmbedOptions o;
  o.backbone = model;
  o.data = dir / "data";
  o.out = dir / "out/all";
  o.preprocess.preset = "none";
  o.batch_size = 3;
  o.workers = 3;
  return o;
}

TEST(Embed, RowsFollowDatasetOrderAndSkippedImagesAreAbsentEverywhere) {
  test::TempDir dir;
  const auto colours = make_folder(dir / "data");
  const auto o = base_options(dir, save_module(dir, "mean", "x.mean([2, 3])"));
  const EmbedResult r = run_embed(o);
  EXPECT_EQ(r.embedded, 10);
  EXPECT_EQ(r.skipped, 1);
  EXPECT_EQ(r.feature_dim, 3);

  const torch::Tensor f = io::load_npy(o.out + ".features.npy");
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{10, 3}));
  EXPECT_EQ(f.scalar_type(), torch::kFloat32);
  for (int64_t k = 0; k < 10; ++k) {
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(f[k][c].item<float>(), colours[k][c] / 255.0f, 1e-6) << "row " << k;
    }
  }
  const torch::Tensor labels = io::load_npy(o.out + ".labels.npy");
  EXPECT_EQ(labels.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(labels, torch::tensor({0, 0, 0, 0, 1, 1, 1, 1, 1, 1}, torch::kInt64)));
  const auto paths = lines(o.out + ".paths.txt");
  ASSERT_EQ(paths.size(), 10u);
  EXPECT_EQ(paths[1], dir / "data/cat/img1.png");
  EXPECT_EQ(paths[2], dir / "data/cat/img3.png");  // img2 is corrupt: no shift after it
  EXPECT_EQ(paths[4], dir / "data/dog/img0.png");
  const auto skipped = lines(o.out + ".skipped.txt");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].rfind(dir / "data/cat/img2.png\t", 0), 0u) << skipped[0];
}

TEST(Embed, ShardsMergedEqualOneRun) {
  test::TempDir dir;
  make_folder(dir / "data");
  // Features that mix every pixel, so any shift or mix-up shows.
  auto o = base_options(
      dir, save_module(dir, "m", "(x * x).flatten(1)[:, 0:7] + x.mean([1, 2, 3]).unsqueeze(1)"));
  run_embed(o);
  std::vector<std::string> prefixes;
  for (int64_t i = 2; i >= 0; --i) {  // any order
    auto s = o;
    s.shard_index = i;
    s.shard_count = 3;
    s.batch_size = 2;
    s.out = dir / ("shards/part" + std::to_string(i));
    const auto r = run_embed(s);
    // 11 images are 6 batches of 2 (the last one short): 2 batches a shard.
    EXPECT_EQ(r.range_begin, 4 * i);
    EXPECT_EQ(r.range_end, std::min<int64_t>(4 * (i + 1), 11));
    prefixes.push_back(s.out);
  }
  MergeOptions m;
  m.shards = prefixes;
  m.out = dir / "merged/all";
  const MergeResult mr = run_merge(m);
  EXPECT_EQ(mr.shards, 3);
  EXPECT_EQ(mr.rows, 10);
  EXPECT_EQ(mr.skipped, 1);
  EXPECT_TRUE(torch::allclose(io::load_npy(m.out + ".features.npy"),
                              io::load_npy(o.out + ".features.npy"), 1e-6, 1e-7));
  EXPECT_TRUE(
      torch::equal(io::load_npy(m.out + ".labels.npy"), io::load_npy(o.out + ".labels.npy")));
  EXPECT_EQ(core::read_text(m.out + ".paths.txt"), core::read_text(o.out + ".paths.txt"));
  EXPECT_EQ(core::read_text(m.out + ".skipped.txt"), core::read_text(o.out + ".skipped.txt"));

  // Incomplete, duplicated and foreign shards are refused.
  m.shards = {prefixes[0], prefixes[1]};
  EXPECT_IIS_ERROR(run_merge(m), "got 2 of 3 shards");
  m.shards = {prefixes[0], prefixes[1], prefixes[1]};
  EXPECT_IIS_ERROR(run_merge(m), "are both shard 1/3");
  auto other = o;
  other.backbone = save_module(dir, "other", "x.mean([2, 3]) * 2.0");
  other.shard_index = 0;
  other.shard_count = 3;
  other.out = dir / "shards/other0";
  run_embed(other);
  m.shards = {other.out, prefixes[0], prefixes[1]};
  EXPECT_IIS_ERROR(run_merge(m), "differ in backbone_fingerprint");
  m.shards = {dir / "shards/nothing"};
  EXPECT_IIS_ERROR(run_merge(m), "nothing.embed.json is missing");
}

// A row's last bits follow the batch's size and, on the CPU, the thread count: shards computed
// with different ones are refused by name, even when their ranges fit together (11 images:
// shard 0/2 of batches of 2 is [0, 6), shard 1/2 of batches of 3 is [6, 11)).
TEST(Embed, MergeRefusesShardsComputedWithOtherBatchSizesOrThreads) {
  test::TempDir dir;
  make_folder(dir / "data");
  const auto o = base_options(dir, save_module(dir, "m", "x.mean([2, 3])"));
  auto shard = [&](int64_t index, int64_t batch_size, int threads, const std::string& name) {
    auto s = o;
    s.shard_index = index;
    s.shard_count = 2;
    s.batch_size = batch_size;
    s.out = dir / name;
    const int before = core::threads();
    core::set_threads(threads);
    run_embed(s);
    core::set_threads(before);
    return s.out;
  };
  MergeOptions m;
  m.out = dir / "merged";
  m.shards = {shard(0, 2, 1, "b2_t1_0"), shard(1, 3, 1, "b3_t1_1")};
  EXPECT_IIS_ERROR(run_merge(m), "differ in batch_size (2 vs 3)");
  m.shards = {shard(0, 2, 1, "b2_t1_0"), shard(1, 2, 2, "b2_t2_1")};
  EXPECT_IIS_ERROR(run_merge(m), "differ in threads (1 vs 2)");
  m.shards = {shard(0, 2, 2, "b2_t2_0"), shard(1, 2, 2, "b2_t2_1")};
  EXPECT_EQ(run_merge(m).rows, 10);
  // On GPUs the thread count does not enter (nodes may have other core counts), the device
  // type does: shards as cuda:auto writes them, on two GPUs and two thread counts, merge.
  auto on_device = [&](const std::string& prefix, const std::string& device) {
    auto meta = nlohmann::json::parse(core::read_text(prefix + ".embed.json"));
    meta["device"] = device;
    core::write_text_atomic(prefix + ".embed.json", meta.dump(2));
  };
  on_device(dir / "b2_t1_0", "cuda:0");
  on_device(dir / "b2_t2_1", "cuda:1");
  m.shards = {dir / "b2_t1_0", dir / "b2_t2_1"};
  EXPECT_EQ(run_merge(m).rows, 10);
  m.shards = {dir / "b2_t1_0", dir / "b2_t2_0"};
  EXPECT_IIS_ERROR(run_merge(m), "differ in device_type (\"cuda\" vs \"cpu\")");
  // Nor do shards of two LibTorch builds.
  auto meta = nlohmann::json::parse(core::read_text(dir / "b2_t2_1.embed.json"));
  meta["libtorch"] = "0.0.1";
  core::write_text_atomic(dir / "b2_t2_1.embed.json", meta.dump(2));
  m.shards = {dir / "b2_t1_0", dir / "b2_t2_1"};
  EXPECT_IIS_ERROR(run_merge(m), "differ in libtorch");
}

// Under a launcher each process finds its shard and its prefix OUT.part<i>of<n> itself; the
// shards, found beside OUT, merge into the very bytes one process writes (a shard is a run of
// whole batches: every row computed in the batch one process computes it in).
TEST(Embed, ShardAutoWritesPartPrefixesThatMergeToTheBytesOfOneRun) {
  test::TempDir dir;
  make_folder(dir / "data");
  // A matrix product, whose BLAS kernel depends on the number of rows in the batch.
  auto o = base_options(
      dir,
      save_module(dir, "mm", "x.flatten(1).mm(torch.sin(torch.arange(1620.0)).reshape([324, 5]))"));
  o.batch_size = 4;
  run_embed(o);
  const std::string out = dir / "auto/feats";
  for (const int rank : {2, 0, 1}) {
    auto s = o;
    s.out = out;
    apply_shard(s, "auto",
                {{"OMPI_COMM_WORLD_RANK", std::to_string(rank)}, {"OMPI_COMM_WORLD_SIZE", "3"}});
    EXPECT_EQ(s.out, out + ".part" + std::to_string(rank) + "of3");
    EXPECT_EQ(s.shard_index, rank);
    EXPECT_EQ(s.shard_count, 3);
    EXPECT_FALSE(embed_complete(s.out));
    run_embed(s);
    EXPECT_TRUE(embed_complete(s.out));
  }
  core::ShardWait wait;
  wait.complete = [](const core::FoundShard& s) { return embed_complete(s.path); };
  MergeOptions m;
  for (const auto& s : core::wait_for_shards(out, wait)) m.shards.push_back(s.path);
  ASSERT_EQ(m.shards.size(), 3u);
  m.out = out;
  EXPECT_EQ(run_merge(m).rows, 10);
  EXPECT_EQ(io::load_npy(out + ".features.npy").size(1), 5);
  for (const char* file : {".features.npy", ".labels.npy", ".paths.txt", ".skipped.txt"}) {
    EXPECT_EQ(core::read_text(out + file), core::read_text(o.out + file)) << file;
  }
  // An explicit i/n writes the prefix given, as it always did.
  auto explicit_shard = o;
  apply_shard(explicit_shard, "1/3", {});
  EXPECT_EQ(explicit_shard.out, o.out);
  EXPECT_EQ(explicit_shard.shard_index, 1);
  // A shard being rewritten does not look complete, even when the new run fails.
  auto failed = o;
  failed.out = m.shards[1];
  failed.backbone = save_module(dir, "nan", "x.mean([2, 3]) * 0.0 / 0.0");
  apply_shard(failed, "1/3", {});
  EXPECT_IIS_ERROR(run_embed(failed), "NaN");
  EXPECT_FALSE(embed_complete(m.shards[1]));
  EXPECT_IIS_ERROR(run_merge(m), m.shards[1] + ".embed.json is missing");
}

// More shards than batches (a launcher that starts more processes than there is work for):
// a shard whose range is empty, or holds only undecodable images, writes an empty part that
// merges like any other, into the bytes one process writes.
TEST(Embed, ShardsWithoutRowsWriteEmptyPartsThatMergeToTheBytesOfOneRun) {
  test::TempDir dir;
  make_folder(dir / "data");
  const std::string model =
      save_module(dir, "mm", "x.flatten(1).mm(torch.sin(torch.arange(1620.0)).reshape([324, 5]))");
  // Batches of 4: 11 images are 3 batch windows, and shard i of 5 holds the windows
  // [3i/5, 3(i+1)/5): shards 0 and 2 none. Batches of 1: shard 2 of 11 holds only
  // cat/img2.png, which is corrupt.
  for (const auto& [batch_size, count, empty] :
       std::vector<std::tuple<int64_t, int64_t, std::vector<int64_t>>>{{4, 5, {0, 2}},
                                                                       {1, 11, {2}}}) {
    auto o = base_options(dir, model);
    o.batch_size = batch_size;
    o.out = dir / ("one" + std::to_string(batch_size));
    run_embed(o);
    MergeOptions m;
    m.out = dir / ("merged" + std::to_string(batch_size));
    std::vector<int64_t> found_empty;
    for (int64_t i = count - 1; i >= 0; --i) {  // any order
      auto s = o;
      s.out = m.out;
      apply_shard(s, "auto", {{"RANK", std::to_string(i)}, {"WORLD_SIZE", std::to_string(count)}});
      const EmbedResult r = run_embed(s);
      EXPECT_TRUE(embed_complete(s.out)) << s.out;
      if (r.embedded == 0) {
        found_empty.insert(found_empty.begin(), i);
        EXPECT_EQ(io::load_npy(s.out + ".features.npy").sizes(), (std::vector<int64_t>{0, 0}));
        EXPECT_EQ(io::load_npy(s.out + ".labels.npy").sizes(), (std::vector<int64_t>{0}));
        EXPECT_EQ(core::read_text(s.out + ".paths.txt"), "");
        const auto meta = nlohmann::json::parse(core::read_text(s.out + ".embed.json"));
        EXPECT_EQ(meta["rows"], 0);
        EXPECT_EQ(meta["feature_dim"], 0);
      }
      m.shards.push_back(s.out);
    }
    EXPECT_EQ(found_empty, empty) << "batches of " << batch_size;
    const MergeResult mr = run_merge(m);
    EXPECT_EQ(mr.shards, count);
    EXPECT_EQ(mr.rows, 10);
    EXPECT_EQ(mr.skipped, 1);
    EXPECT_EQ(mr.feature_dim, 5);
    for (const char* file : {".features.npy", ".labels.npy", ".paths.txt", ".skipped.txt"}) {
      EXPECT_EQ(core::read_text(m.out + file), core::read_text(o.out + file))
          << file << ", batches of " << batch_size;
    }
  }
  // One process that embeds nothing is an error; shards that together embed nothing are, at
  // the merge.
  std::filesystem::create_directories(dir / "broken/cat");
  std::ofstream(dir / "broken/cat/a.png") << "not a png";
  std::ofstream(dir / "broken/cat/b.png") << "not a png";
  auto broken = base_options(dir, model);
  broken.data = dir / "broken";
  broken.batch_size = 1;
  broken.out = dir / "broken_one";
  EXPECT_IIS_ERROR(run_embed(broken), "none of the 2 images could be decoded");
  MergeOptions m;
  m.out = dir / "broken_merged";
  for (int i = 0; i < 2; ++i) {
    auto s = broken;
    s.out = dir / ("broken_part" + std::to_string(i));
    apply_shard(s, std::to_string(i) + "/2", {});
    EXPECT_EQ(run_embed(s).embedded, 0);
    m.shards.push_back(s.out);
  }
  EXPECT_IIS_ERROR(run_merge(m),
                   "the 2 shards hold no rows: none of the 2 images could be decoded");
}

TEST(Embed, HalfStorageWritesFloat16) {
  test::TempDir dir;
  const auto colours = make_folder(dir / "data");
  auto o = base_options(dir, save_module(dir, "mean", "x.mean([2, 3])"));
  o.half_storage = true;
  run_embed(o);
  const torch::Tensor f = io::load_npy(o.out + ".features.npy");
  EXPECT_EQ(f.scalar_type(), torch::kFloat16);
  EXPECT_NEAR(f[9][0].item<float>(), colours[9][0] / 255.0f, 1e-3);
  auto big = base_options(dir, save_module(dir, "big", "x.mean([2, 3]) * 1.0e6"));
  big.half_storage = true;
  EXPECT_IIS_ERROR(run_embed(big), "does not fit float16");
}

TEST(Embed, ModelErrorsStopTheRunAndWriteNothing) {
  test::TempDir dir;
  make_folder(dir / "data");
  auto o = base_options(dir, save_module(dir, "nan", "x.mean([2, 3]) * 0.0 / 0.0"));
  EXPECT_IIS_ERROR(run_embed(o), "produced NaN or infinite features");
  EXPECT_FALSE(std::filesystem::exists(o.out + ".features.npy"));
  EXPECT_FALSE(std::filesystem::exists(o.out + ".labels.npy"));
  o.backbone = save_module(dir, "rank1", "x.sum([1, 2, 3])");
  EXPECT_IIS_ERROR(run_embed(o), "(rank 1)");
  o.backbone = dir / "garbage.ts";
  std::ofstream(o.backbone) << "garbage";
  EXPECT_IIS_ERROR(run_embed(o), "cannot load TorchScript backbone " + o.backbone);
  EXPECT_FALSE(std::filesystem::exists(o.out + ".paths.txt"));
  // Leaves no temporaries behind.
  EXPECT_TRUE(!std::filesystem::exists(dir / "out") || std::filesystem::is_empty(dir / "out"));
}

TEST(Embed, DifferentSizesWithoutCropAreAnErrorNamingTheImage) {
  test::TempDir dir;
  make_folder(dir / "data");
  cv::imwrite(dir / "data/dog/img5.png", cv::Mat(20, 20, CV_8UC3, cv::Scalar(1, 2, 3)));
  auto o = base_options(dir, save_module(dir, "mean", "x.mean([2, 3])"));
  EXPECT_IIS_ERROR(run_embed(o),
                   "image " + dir / "data/dog/img5.png" + " preprocesses to [3, 20, 20]");
  o.preprocess.crop_size = 8;  // now every input is 3×8×8
  EXPECT_EQ(run_embed(o).embedded, 10);
}

TEST(Embed, ResolvesPreprocessingFromTheBackboneYamlThenFlags) {
  PreprocessFlags flags;
  image::Preprocess p = resolve_preprocess(flags, "", "m");
  EXPECT_EQ(p.describe(), image::Preprocess().describe());  // imagenet when nothing is given
  p = resolve_preprocess(flags, "val_resize_size: 232\ninterpolation: bicubic\n", "swin");
  EXPECT_EQ(p.resize_size, 232);
  EXPECT_EQ(p.interpolation, image::Interpolation::Bicubic);
  flags.crop_size = 200;
  flags.no_normalize = true;
  p = resolve_preprocess(flags, "val_resize_size: 232\n", "swin");
  EXPECT_EQ(p.resize_size, 232);
  EXPECT_EQ(p.crop_size, 200);
  EXPECT_TRUE(p.mean.empty());
  flags = PreprocessFlags();
  flags.preset = "none";  // an explicit preset ignores the backbone's YAML
  p = resolve_preprocess(flags, "val_resize_size: 232\n", "swin");
  EXPECT_EQ(p.resize_size, 0);
  flags.channels = 2;
  EXPECT_IIS_ERROR(resolve_preprocess(flags, "", "m"), "--channels must be 1 or 3");
}

TEST(Embed, OutputsInsideTheInputsAreRefusedBeforeWriting) {
  test::TempDir dir;
  make_folder(dir / "data");
  auto o = base_options(dir, save_module(dir, "mean", "x.mean([2, 3])"));
  o.out = dir / "data/";
  EXPECT_IIS_ERROR(run_embed(o), "names a folder, not a prefix of files");
  o.out = dir / "data";
  EXPECT_IIS_ERROR(run_embed(o), "names a folder, not a prefix of files");
  o.out = dir / "data/cat/feats";
  EXPECT_IIS_ERROR(run_embed(o), "lies inside the input --data " + dir / "data");
  EXPECT_FALSE(std::filesystem::exists(dir / "data/cat/feats.features.npy"));
  o.out = dir / "feats/all";
  run_embed(o);
  // Merging into a shard's own prefix (spelt differently) would overwrite that shard.
  MergeOptions m;
  m.shards = {o.out};
  m.out = dir / "feats/../feats/all";
  EXPECT_IIS_ERROR(run_merge(m), "is the input shard " + o.out);
  m.out = dir / "feats/";
  EXPECT_IIS_ERROR(run_merge(m), "names a folder");
}

TEST(Embed, NegativeSizesAndUnknownYamlKeysAreRefused) {
  PreprocessFlags flags;
  flags.resize_size = -5;
  EXPECT_IIS_ERROR(resolve_preprocess(flags, "", "m"), "--resize-size must be >= 0, got -5");
  flags.resize_size = -1;  // not given
  flags.crop_size = -7;
  EXPECT_IIS_ERROR(resolve_preprocess(flags, "", "m"), "--crop-size must be >= 0, got -7");
  flags.crop_size = -1;
  EXPECT_IIS_ERROR(resolve_preprocess(flags, "val_resize_sise: 232\n", "swin"),
                   "unknown key 'val_resize_sise' (line 1); did you mean 'val_resize_size'?");
  // The informational keys scripts/export_backbone.py writes are accepted.
  const auto p = resolve_preprocess(
      flags, "model: resnet50\nweights: random\nfeature_dim: 2048\nval_crop_size: 200\n", "r");
  EXPECT_EQ(p.crop_size, 200);
}

TEST(Embed, OptionsAreValidated) {
  EmbedOptions o;
  o.backbone = "m.ts";
  o.data = "d";
  o.out = "o";
  o.batch_size = 0;
  EXPECT_IIS_ERROR(o.validate(), "--batch-size must be in [1, 65536], got 0");
  o.batch_size = 8;
  o.half = o.bf16 = true;
  EXPECT_IIS_ERROR(o.validate(), "--half and --bf16 exclude each other");
  o.bf16 = false;
  o.data = "/nonexistent";
  if (!torch::cuda::is_available()) {
    o.device = "cuda";
    EXPECT_IIS_ERROR(run_embed(o), "--device cuda: CUDA is not available");
  }
  o.device = "tpu";
  EXPECT_IIS_ERROR(run_embed(o), "--device must be cpu, cuda or cuda:N, got 'tpu'");
}

}  // namespace
}  // namespace iis::embed
