// scripts/cluster/shards.sbatch through a real Slurm (sbatch, then srun inside the job): two
// tasks embed Fashion-MNIST's test set with --shard auto, the job's merge step joins them, and
// the result is the bytes of one process. Skipped unless a Slurm cluster answers with an idle
// node (scripts/cluster/slurm_local.sh start brings one up on this machine) and the dataset is
// there.
#include <filesystem>

#include "shard_support.hpp"
#include "test_support.hpp"

namespace iis {
namespace {

namespace fs = std::filesystem;

// Why Slurm cannot run a job here, or "" when it can.
std::string slurm_missing() {
  if (test::run_command("command -v sbatch >/dev/null 2>&1").status != 0)
    return "sbatch is missing: install the Debian packages slurm-wlm and munge";
  // sinfo retries for a while when no slurmctld answers.
  const auto idle = test::run_command("timeout 5 sinfo -h -N -t idle -o %N 2>/dev/null");
  if (idle.status != 0 || idle.output.empty())
    return "no Slurm node is idle: as root, scripts/cluster/slurm_local.sh start brings up one";
  return "";
}

TEST(Slurm, BatchScriptEmbedsAndMergesToTheBytesOfOneProcess) {
  const std::string missing = slurm_missing();
  if (!missing.empty()) GTEST_SKIP() << missing;
  IIS_NEEDS_FASHION_MNIST();
  test::TempDir dir;
  const std::string args = "embed --backbone native:cnn2 --data '" +
                           test::fashion_mnist_file("t10k-images-idx3-ubyte.gz") +
                           "' --batch-size 256 --out ";
  const auto one =
      test::run_command(test::without_launcher() + " '" + test::tool_path() +
                        "' --quiet --threads 1 " + args + "'" + dir / "one" + "' 2>&1");
  ASSERT_EQ(one.status, 0) << one.output;
  // The script's #SBATCH lines ask for 2 nodes of 4 GPUs: one node, two tasks of one core here.
  // Polled every half second (sbatch --wait polls at growing intervals: 42 s for an 11 s job).
  core::write_text_atomic(
      dir / "submit.sh",
      "id=$(sbatch --parsable --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --gpus-per-task=0 "
      "--time=5 --output='" +
          dir / "job.out" + "' --chdir='" + dir.str() + "' '" + test::source_dir() +
          "/scripts/cluster/shards.sbatch' " + args + "'" + dir / "slurm" +
          "') || exit 1\n"
          "while squeue -h -j \"$id\" 2>/dev/null | grep -q .; do sleep 0.5; done\n"
          "scontrol show job \"$id\" | grep -o 'JobState=[A-Z_]*'\n");
  const auto job = test::run_command(test::without_launcher() + " IIS='" + test::tool_path() +
                                     "' bash '" + dir / "submit.sh" + "' 2>&1");
  const std::string log = fs::exists(dir / "job.out") ? core::read_text(dir / "job.out") : "";
  ASSERT_EQ(job.status, 0) << job.output << log;
  EXPECT_NE(job.output.find("JobState=COMPLETED"), std::string::npos) << job.output << log;
  EXPECT_NE(log.find("from Slurm (SLURM_PROCID=1, SLURM_NTASKS=2)"), std::string::npos) << log;
  EXPECT_NE(log.find("merged 2 shards: 10000 rows"), std::string::npos) << log;
  for (const char* file : {".features.npy", ".labels.npy", ".paths.txt", ".skipped.txt"}) {
    EXPECT_TRUE(core::read_text(dir / "slurm" + file) == core::read_text(dir / "one" + file))
        << file << " differs";
  }
}

}  // namespace
}  // namespace iis
