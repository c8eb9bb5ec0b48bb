// `iis run --stage elements|embed --shard`: processes of a simulated launcher (Slurm's and Open
// MPI's variables, set here as srun and mpirun set them) each compute their shard, a plain run
// merges the shards and goes on; its files are those of an unsharded run, byte for byte.
// Shards missing, unfinished or made for other settings are errors naming them.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/pipeline/run.hpp"
#include "test_support.hpp"
#include "tool/shard_support.hpp"

namespace iis::pipeline {
namespace {

namespace fs = std::filesystem;

// A random-weight cnn2 on 24 training and 12 validation images (20 of the 24 used, so that the
// embed shards split a limited split), patch concepts, short heads.
std::string tiny_config(const test::TempDir& dir, const std::string& out) {
  return "out: " + out + R"(
seeds: [0]
ratios: [0, 0.5]
concept_types: [prototype]
dataset: {train: )" +
         dir / "train" + ", val: " + dir / "val" + R"(, train_limit: 20}
concepts: {kind: patches, images_per_class: 2, grid: 2, patch_size: 28}
backbones:
  - name: cnn2
    spec: native:cnn2
embed: {batch_size: 8}
fit: {num_concepts: 8, epochs: 2, batch_size: 16}
)";
}

// The rows of a run's summary.json without their paths.
nlohmann::json numbers(const std::string& run_dir) {
  nlohmann::json rows = nlohmann::json::parse(core::read_text(run_dir + "/summary.json"))["rows"];
  for (auto& r : rows) r.erase("source");
  return rows;
}

class RunShards : public ::testing::Test {
 protected:
  void SetUp() override {
    core::set_progress_mode(core::ProgressMode::Quiet);
    test::make_grey_images(dir_ / "train", 24);
    test::make_grey_images(dir_ / "val", 12);
    core::write_text_atomic(dir_ / "ref.yaml", tiny_config(dir_, dir_ / "ref"));
    core::write_text_atomic(dir_ / "sharded.yaml", tiny_config(dir_, dir_ / "sharded"));
  }
  // `iis run` of the sharded config with --stage, --shard and the launcher's variables.
  RunResult run(const std::string& stage = "", const std::string& shard = "",
                const core::Environment& env = {}) {
    RunOptions o;
    o.config = dir_ / "sharded.yaml";
    o.figures = false;
    o.stage = stage;
    o.shard = shard;
    o.environment = env;
    return run_pipeline(o);
  }
  // The elements stage in three Slurm tasks (SLURM_PROCID of SLURM_NTASKS), one after another.
  void elements_in_three_tasks() {
    for (int task = 0; task < 3; ++task) {
      run("elements", "auto", {{"SLURM_PROCID", std::to_string(task)}, {"SLURM_NTASKS", "3"}});
    }
  }
  // Shard `rank` of 2 of every embed stage, as Open MPI's mpirun starts it.
  void embed_rank(int rank) {
    run("embed", "auto",
        {{"OMPI_COMM_WORLD_RANK", std::to_string(rank)}, {"OMPI_COMM_WORLD_SIZE", "2"}});
  }
  test::TempDir dir_;
};

TEST_F(RunShards, ShardedElementsAndEmbedMergeToTheFilesOfOneProcess) {
  RunOptions ref;
  ref.config = dir_ / "ref.yaml";
  ref.figures = false;
  const RunResult one = run_pipeline(ref);

  elements_in_three_tasks();
  EXPECT_TRUE(fs::is_directory(dir_ / "sharded/shards/elements/elements.part2of3"));
  EXPECT_FALSE(fs::exists(dir_ / "sharded/elements/manifest.jsonl"));  // not merged yet
  // The embed shards need the merged elements (the elements split embeds them).
  EXPECT_IIS_ERROR(embed_rank(0), "stage elements is not up to date");
  const RunResult merged_elements = run("elements");
  ASSERT_EQ(merged_elements.stages.size(), 1u);
  EXPECT_TRUE(merged_elements.stages[0].ran);
  EXPECT_FALSE(fs::exists(dir_ / "sharded/shards/elements"));  // removed once merged
  embed_rank(1);
  embed_rank(0);
  for (const char* split : {"train", "val", "elements"}) {
    for (int rank = 0; rank < 2; ++rank) {
      const std::string shard =
          dir_ / "sharded/shards/embed/cnn2/" + split + "/data.part" + std::to_string(rank) + "of2";
      EXPECT_TRUE(fs::exists(shard + ".features.npy")) << shard;
      EXPECT_TRUE(fs::exists(shard + ".stage.json")) << shard;
    }
  }
  const RunResult sharded = run();
  int ran = 0;
  for (const auto& s : sharded.stages) ran += s.ran;
  EXPECT_EQ(ran, 3 + 1 + 1);  // three embed merges, the heads, the report; elements skipped
  EXPECT_FALSE(fs::exists(dir_ / "sharded/shards"));

  // Element folders: all but the stamp and elements.json (their times).
  auto reference = test::folder_bytes(dir_ / "ref/elements", ".iis-stamp.json");
  auto merged = test::folder_bytes(dir_ / "sharded/elements", ".iis-stamp.json");
  reference.erase("elements.json");
  merged.erase("elements.json");
  EXPECT_GT(reference.size(), 16u);  // 16 patches, the lists
  EXPECT_TRUE(merged == reference);
  for (const char* split : {"train", "val", "elements"}) {
    for (const char* file : {".features.npy", ".labels.npy", ".paths.txt", ".skipped.txt"}) {
      const std::string name = std::string("embed/cnn2/") + split + "/data" + file;
      // The elements' paths lie in each run's folder.
      std::string bytes = core::read_text(dir_ / ("sharded/" + name));
      for (size_t at; (at = bytes.find(dir_ / "sharded/")) != std::string::npos;)
        bytes.replace(at, (dir_ / "sharded/").size(), dir_ / "ref/");
      EXPECT_TRUE(bytes == core::read_text(dir_ / ("ref/" + name))) << name << " differs";
    }
  }
  // The heads' numbers (the summary's rows without their paths; results.json holds times).
  ASSERT_EQ(numbers(dir_ / "ref").size(), 1u);  // one backbone, one concept type
  EXPECT_EQ(numbers(dir_ / "sharded"), numbers(dir_ / "ref"));
  EXPECT_EQ(sharded.report.rows.size(), one.report.rows.size());
}

// Six Slurm tasks on the elements stage's four images: two tasks have no image, write empty
// shards, and the plain run merges all six into the folder one process writes.
TEST_F(RunShards, MoreTasksThanImagesMergeToTheElementsOfOneProcess) {
  RunOptions ref;
  ref.config = dir_ / "ref.yaml";
  ref.figures = false;
  ref.stage = "elements";
  run_pipeline(ref);
  for (int task = 0; task < 6; ++task) {
    run("elements", "auto", {{"SLURM_PROCID", std::to_string(task)}, {"SLURM_NTASKS", "6"}});
    EXPECT_TRUE(fs::exists(dir_ / ("sharded/shards/elements/elements.part" + std::to_string(task) +
                                   "of6.stage.json")));
  }
  const RunResult merged = run("elements");
  ASSERT_EQ(merged.stages.size(), 1u);
  EXPECT_TRUE(merged.stages[0].ran);
  auto reference = test::folder_bytes(dir_ / "ref/elements", ".iis-stamp.json");
  auto found = test::folder_bytes(dir_ / "sharded/elements", ".iis-stamp.json");
  reference.erase("elements.json");
  found.erase("elements.json");
  EXPECT_GT(reference.size(), 16u);  // 16 patches, the lists
  EXPECT_TRUE(found == reference);
}

TEST_F(RunShards, MissingUnfinishedAndStaleShardsAreNamed) {
  run("elements", "0/3");
  run("elements", "2/3");
  EXPECT_IIS_ERROR(run(), dir_ / "sharded/shards/elements/elements.part1of3 (missing)");
  EXPECT_IIS_ERROR(run("elements"), "1 of 3 shards of a sharded run are not ready");
  // A shard whose process died: its folder is there, its stage file not.
  fs::create_directories(dir_ / "sharded/shards/elements/elements.part1of3");
  EXPECT_IIS_ERROR(run("elements"), "elements.part1of3 (not finished)");
  // A shard made for other settings (another config, say): its stage file holds another hash.
  run("elements", "1/3");
  core::write_text_atomic(dir_ / "sharded/shards/elements/elements.part1of3.stage.json",
                          "{\"hash\": \"0123456789abcdef\"}\n");
  EXPECT_IIS_ERROR(run("elements"), "elements.part1of3 (made with other settings)");
  // Re-running the shard replaces it; then the plain run merges.
  run("elements", "1/3");
  EXPECT_EQ(run("elements").stages.size(), 1u);
  EXPECT_TRUE(fs::exists(dir_ / "sharded/elements/manifest.jsonl"));
  // Shards of two different splits are refused by name, not mixed.
  run("embed", "0/2");
  run("embed", "0/3");
  EXPECT_IIS_ERROR(run("embed"), "shards of 2 different splits");
}

TEST_F(RunShards, StageAndShardAreValidated) {
  EXPECT_IIS_ERROR(run("embedding"), "--stage must be pretrain, elements, embed, fit or report");
  EXPECT_IIS_ERROR(run("fit", "0/2"), "--shard needs --stage elements or --stage embed");
  EXPECT_IIS_ERROR(run("", "0/2"), "--shard needs --stage elements or --stage embed");
  EXPECT_IIS_ERROR(run("embed", "auto"), "no launcher's variables are set");
  EXPECT_IIS_ERROR(run("embed", "2/2"), "--shard");
  // --stage elements runs that stage only, and writes no shard.
  const RunResult elements = run("elements");
  ASSERT_EQ(elements.stages.size(), 1u);
  EXPECT_EQ(elements.stages[0].name, "elements");
  EXPECT_FALSE(fs::exists(dir_ / "sharded/shards"));
  EXPECT_FALSE(fs::exists(dir_ / "sharded/embed"));
}

}  // namespace
}  // namespace iis::pipeline
