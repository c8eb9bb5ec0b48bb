// `iis embed --shard auto` and `iis elements --shard auto` under a real launcher, Open MPI's
// mpirun with three processes, then `iis merge --wait`: the merged files are the bytes one
// process writes; and the job scripts of scripts/cluster/. What needs mpirun is skipped
// without it (Debian's openmpi-bin), and fails under IIS_REQUIRE_DATA.
#include <cstdlib>
#include <filesystem>

#include "shard_support.hpp"
#include "test_support.hpp"

namespace iis {
namespace {

namespace fs = std::filesystem;

#define IIS_NEEDS_MPIRUN()                                                               \
  do {                                                                                   \
    if (test::run_command("command -v mpirun >/dev/null 2>&1").status != 0) {            \
      const char* message = "mpirun is missing: install the Debian package openmpi-bin"; \
      if (test::data_required()) FAIL() << message << " (IIS_REQUIRE_DATA is set)";      \
      GTEST_SKIP() << message;                                                           \
    }                                                                                    \
  } while (0)

// `iis ARGS` in one process, stdout and stderr together.
test::CommandRun run_iis(const std::string& args) {
  return test::run_command(test::without_launcher() + " '" + test::tool_path() + "' " + args +
                           " 2>&1");
}

// `iis ARGS` in three processes started by mpirun (one thread each: the machine may have two
// cores).
test::CommandRun run_iis_mpirun(const std::string& args) {
  return test::run_command(test::without_launcher() +
                           " mpirun --allow-run-as-root --oversubscribe -np 3 '" +
                           test::tool_path() + "' --threads 1 " + args + " 2>&1");
}

TEST(Mpi, EmbedShardAutoThenMergeGivesTheBytesOfOneProcess) {
  IIS_NEEDS_MPIRUN();
  test::TempDir dir;
  test::make_grey_images(dir / "data", 40);
  // A random-weight convolutional backbone with batch norm, one thread in every process (the
  // kernels, and the last bits of the rows, depend on the thread count and the batch size).
  const std::string embed =
      "embed --backbone native:resnet8-w8 --data '" + dir / "data" + "' --batch-size 8 --out ";
  const auto one = run_iis("--quiet --threads 1 " + embed + "'" + dir / "one/feats" + "'");
  ASSERT_EQ(one.status, 0) << one.output;
  const auto mpi = run_iis_mpirun(embed + "'" + dir / "mpi/feats" + "' --shard auto");
  ASSERT_EQ(mpi.status, 0) << mpi.output;
  for (int rank = 0; rank < 3; ++rank) {
    const std::string part = dir / ("mpi/feats.part" + std::to_string(rank) + "of3");
    EXPECT_TRUE(fs::exists(part + ".embed.json")) << part;
    EXPECT_NE(mpi.output.find("--shard auto: shard " + std::to_string(rank) + "/3 into " + part +
                              ", from Open MPI (OMPI_COMM_WORLD_RANK=" + std::to_string(rank) +
                              ", OMPI_COMM_WORLD_SIZE=3)"),
              std::string::npos)
        << mpi.output;
  }
  const auto merge = run_iis("--quiet merge --out '" + dir / "mpi/feats" + "' --wait --timeout 60");
  ASSERT_EQ(merge.status, 0) << merge.output;
  EXPECT_NE(merge.output.find("merged 3 shards: 40 rows"), std::string::npos) << merge.output;
  for (const char* file : {".features.npy", ".labels.npy", ".paths.txt", ".skipped.txt"}) {
    EXPECT_TRUE(core::read_text(dir / "mpi/feats" + file) ==
                core::read_text(dir / "one/feats" + file))
        << file << " differs";
  }
}

TEST(Mpi, ElementsShardAutoThenMergeGivesTheBytesOfOneProcess) {
  IIS_NEEDS_MPIRUN();
  test::TempDir dir;
  test::make_grey_images(dir / "data", 30);
  const std::string elements = "elements --data '" + dir / "data" +
                               "' --kind segments --scales 4,9 --images-per-class 0 --out ";
  const auto one = run_iis("--quiet " + elements + "'" + dir / "one" + "'");
  ASSERT_EQ(one.status, 0) << one.output;
  const auto mpi = run_iis_mpirun("--quiet " + elements + "'" + dir / "mpi" + "' --shard auto");
  ASSERT_EQ(mpi.status, 0) << mpi.output;
  const auto merge = run_iis("--quiet merge --out '" + dir / "mpi" + "' --wait --timeout 60");
  ASSERT_EQ(merge.status, 0) << merge.output;
  EXPECT_NE(merge.output.find("merged 3 shards: "), std::string::npos) << merge.output;
  const auto reference = test::folder_bytes(dir / "one", "elements.json");
  EXPECT_GT(reference.size(), 30u);  // PNGs, lists, both class folders
  const auto merged = test::folder_bytes(dir / "mpi", "elements.json");
  EXPECT_EQ(merged.size(), reference.size());
  for (const auto& [name, bytes] : reference) {
    EXPECT_TRUE(merged.count(name) && merged.at(name) == bytes) << name << " differs";
  }
}

// Three processes for two selected images and for two batches: the process left without work
// writes an empty part, and the merges are still the bytes of one process.
TEST(Mpi, MoreProcessesThanWorkGiveEmptyPartsThatMerge) {
  IIS_NEEDS_MPIRUN();
  test::TempDir dir;
  test::make_grey_images(dir / "data", 10);
  const std::string elements = "elements --data '" + dir / "data" +
                               "' --kind patches --grid 2 --patch-size 14 --images-per-class 1 "
                               "--out ";
  ASSERT_EQ(run_iis("--quiet " + elements + "'" + dir / "one" + "'").status, 0);
  const auto mpi = run_iis_mpirun("--quiet " + elements + "'" + dir / "mpi" + "' --shard auto");
  ASSERT_EQ(mpi.status, 0) << mpi.output;
  const auto merge = run_iis("--quiet merge --out '" + dir / "mpi" + "' --wait --timeout 60");
  ASSERT_EQ(merge.status, 0) << merge.output;
  EXPECT_NE(merge.output.find("merged 3 shards: 8 elements"), std::string::npos) << merge.output;
  EXPECT_TRUE(test::folder_bytes(dir / "mpi", "elements.json") ==
              test::folder_bytes(dir / "one", "elements.json"));

  const std::string embed =
      "embed --backbone native:cnn2 --data '" + dir / "data" + "' --batch-size 5 --out ";
  ASSERT_EQ(run_iis("--quiet --threads 1 " + embed + "'" + dir / "one_feats" + "'").status, 0);
  const auto mpi_embed = run_iis_mpirun(embed + "'" + dir / "feats" + "' --shard auto");
  ASSERT_EQ(mpi_embed.status, 0) << mpi_embed.output;
  const auto merge_embed =
      run_iis("--quiet merge --out '" + dir / "feats" + "' --wait --timeout 60");
  ASSERT_EQ(merge_embed.status, 0) << merge_embed.output;
  EXPECT_NE(merge_embed.output.find("merged 3 shards: 10 rows"), std::string::npos)
      << merge_embed.output;
  for (const char* file : {".features.npy", ".labels.npy", ".paths.txt", ".skipped.txt"}) {
    EXPECT_TRUE(core::read_text(dir / "feats" + file) == core::read_text(dir / "one_feats" + file))
        << file << " differs";
  }
}

// `iis run --stage embed --shard auto` under mpirun (two processes), then `iis run --stage
// embed` without --shard: the merged embed stages are the bytes one process writes.
TEST(Mpi, RunStageEmbedShardAutoThenPlainRunGivesTheBytesOfOneProcess) {
  IIS_NEEDS_MPIRUN();
  test::TempDir dir;
  test::make_grey_images(dir / "data", 30);
  auto config = [&](const std::string& out) {
    const std::string path = dir / (out + ".yaml");
    core::write_text_atomic(path, "out: " + dir / out + "\ndataset: {train: " + dir / "data" +
                                      ", val: " + dir / "data" +
                                      ", val_limit: 14}\nconcepts: {kind: patches, "
                                      "images_per_class: 1, grid: 2, patch_size: 28}\n"
                                      "backbones:\n  - name: cnn2\n    spec: native:cnn2\n"
                                      "embed: {batch_size: 4}\n");
    return "'" + path + "'";
  };
  const auto one = run_iis("--quiet --threads 1 run " + config("one") + " --stage embed");
  ASSERT_EQ(one.status, 0) << one.output;
  const std::string sharded = config("sharded");
  ASSERT_EQ(run_iis("--quiet --threads 1 run " + sharded + " --stage elements").status, 0);
  const auto mpi = test::run_command(
      test::without_launcher() + " mpirun --allow-run-as-root --oversubscribe -np 2 '" +
      test::tool_path() + "' --threads 1 run " + sharded + " --stage embed --shard auto 2>&1");
  ASSERT_EQ(mpi.status, 0) << mpi.output;
  EXPECT_NE(mpi.output.find("from Open MPI (OMPI_COMM_WORLD_RANK=1, OMPI_COMM_WORLD_SIZE=2)"),
            std::string::npos)
      << mpi.output;
  const auto merge = run_iis("--threads 1 run " + sharded + " --stage embed");
  ASSERT_EQ(merge.status, 0) << merge.output;
  EXPECT_NE(merge.output.find("stage embed/cnn2/val: merging the 2 shards"), std::string::npos)
      << merge.output;
  for (const char* split : {"train", "val", "elements"}) {
    for (const char* file : {".features.npy", ".labels.npy", ".paths.txt"}) {
      // The elements' paths name each run's folder.
      if (split == std::string("elements") && file == std::string(".paths.txt")) continue;
      const std::string name = std::string("/embed/cnn2/") + split + "/data" + file;
      EXPECT_TRUE(core::read_text(dir / "sharded" + name) == core::read_text(dir / "one" + name))
          << name << " differs";
    }
  }
}

// The job scripts of scripts/cluster/ as shipped, embedding with a random-weight cnn2 into the
// prefix `name` under `dir`, compared with one process (one thread, the same batches).
class ClusterScript : public ::testing::Test {
 protected:
  void SetUp() override {
    test::make_grey_images(dir_ / "data", 21);
    ASSERT_EQ(
        run_iis("--quiet --threads 1 embed " + args_ + " --out '" + dir_ / "one" + "'").status, 0);
  }
  // Runs scripts/cluster/SCRIPT with `env` before it; returns what it printed.
  test::CommandRun run_script(const std::string& env, const std::string& script,
                              const std::string& name) {
    return test::run_command(test::without_launcher() + " " + env + " IIS='" + test::tool_path() +
                             "' bash '" + test::source_dir() + "/scripts/cluster/" + script +
                             "' embed " + args_ + " --out '" + dir_ / name + "' 2>&1");
  }
  void expect_bytes_of_one_process(const std::string& name) {
    for (const char* file : {".features.npy", ".labels.npy", ".paths.txt"}) {
      EXPECT_TRUE(core::read_text(dir_ / name + file) == core::read_text(dir_ / "one" + file))
          << name << file << " differs";
    }
  }
  test::TempDir dir_;
  const std::string args_ = "--backbone native:cnn2 --data '" + dir_ / "data" + "' --batch-size 4";
};

// The batch script under a stand-in srun (tests/tool/bin/srun: SLURM_NTASKS processes with
// SLURM_PROCID and SLURM_LOCALID), as srun runs it in a one-node job.
TEST_F(ClusterScript, SlurmBatchScriptUnderSrun) {
  const auto run = run_script("SLURM_NTASKS=3 SLURM_CPUS_PER_TASK=1 PATH='" + test::source_dir() +
                                  "/tests/tool/bin':\"$PATH\"",
                              "shards.sbatch", "slurm");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("from Slurm (SLURM_PROCID=2, SLURM_NTASKS=3)"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("merged 3 shards: 21 rows"), std::string::npos) << run.output;
  expect_bytes_of_one_process("slurm");
  const auto usage = test::run_command("bash '" + test::source_dir() +
                                       "/scripts/cluster/shards.sbatch' embed --data x 2>&1");
  EXPECT_EQ(usage.status, 2) << usage.output;
}

TEST_F(ClusterScript, MpirunScript) {
  IIS_NEEDS_MPIRUN();
  const auto run =
      run_script("NP=3 MPIRUN_ARGS='--oversubscribe --allow-run-as-root'", "mpirun.sh", "mpi");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("merged 3 shards: 21 rows"), std::string::npos) << run.output;
  expect_bytes_of_one_process("mpi");
}

}  // namespace
}  // namespace iis
