// Rank, size and local rank from each launcher's environment, simulated here variable by
// variable as Open MPI, MPICH, torchrun and Slurm set them, nested as clusters nest them.
#include "iis/core/launcher.hpp"

#include "test_support.hpp"

namespace iis::core {
namespace {

TEST(Launcher, EachLauncherGivesItsRankAndSize) {
  struct Case {
    Environment env;
    int64_t rank, size;
    std::string launcher;
  };
  const std::vector<Case> cases = {
      {{{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "3"}}, 2, 3, "Open MPI"},
      {{{"PMI_RANK", "0"}, {"PMI_SIZE", "4"}}, 0, 4, "MPICH or Intel MPI"},
      {{{"RANK", "7"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "3"}}, 7, 8, "torchrun"},
      {{{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "1"}}, 5, 16, "Slurm"},
  };
  for (const Case& c : cases) {
    const LaunchRank r = launch_rank(c.env);
    EXPECT_EQ(r.rank, c.rank) << c.launcher;
    EXPECT_EQ(r.size, c.size) << c.launcher;
    EXPECT_EQ(r.source.rfind(c.launcher + " (", 0), 0u) << r.source;
    // The log names every variable read, with its value.
    for (const auto& [name, value] : c.env) {
      if (name.find("LOCAL") != std::string::npos) continue;
      EXPECT_NE(r.source.find(name + "=" + value), std::string::npos) << r.source;
    }
  }
}

// mpirun or torchrun inside a Slurm job: every process inherits the batch step's SLURM_PROCID
// (0) and SLURM_NTASKS, which must not make them all shard 0.
TEST(Launcher, TheInnerLauncherWinsOverTheSlurmJobAroundIt) {
  const Environment mpi_in_slurm = {{"SLURM_PROCID", "0"},
                                    {"SLURM_NTASKS", "1"},
                                    {"OMPI_COMM_WORLD_RANK", "1"},
                                    {"OMPI_COMM_WORLD_SIZE", "2"}};
  LaunchRank r = launch_rank(mpi_in_slurm);
  EXPECT_EQ(r.rank, 1);
  EXPECT_EQ(r.size, 2);
  EXPECT_NE(r.source.find("also set, not used: Slurm SLURM_PROCID=0, SLURM_NTASKS=1"),
            std::string::npos)
      << r.source;
  const Environment torchrun_in_slurm = {
      {"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"RANK", "6"}, {"WORLD_SIZE", "8"}};
  r = launch_rank(torchrun_in_slurm);
  EXPECT_EQ(r.rank, 6);
  EXPECT_EQ(r.size, 8);
}

TEST(Launcher, SlurmJobArraysCountFromTheirFirstIdInSteps) {
  // --array=1-4: ids 1..4 are ranks 0..3.
  Environment env = {{"SLURM_ARRAY_TASK_ID", "3"},   {"SLURM_ARRAY_TASK_COUNT", "4"},
                     {"SLURM_ARRAY_TASK_MIN", "1"},  {"SLURM_ARRAY_TASK_MAX", "4"},
                     {"SLURM_ARRAY_TASK_STEP", "1"}, {"SLURM_PROCID", "0"},
                     {"SLURM_NTASKS", "1"}};
  LaunchRank r = launch_rank(env);
  EXPECT_EQ(r.rank, 2);
  EXPECT_EQ(r.size, 4);
  EXPECT_NE(r.source.find("SLURM_ARRAY_TASK_MIN=1"), std::string::npos) << r.source;
  // --array=0-15:5: ids 0, 5, 10, 15.
  env["SLURM_ARRAY_TASK_ID"] = "10";
  env["SLURM_ARRAY_TASK_MIN"] = "0";
  env["SLURM_ARRAY_TASK_MAX"] = "15";
  env["SLURM_ARRAY_TASK_STEP"] = "5";
  r = launch_rank(env);
  EXPECT_EQ(r.rank, 2);
  EXPECT_EQ(r.size, 4);
  // Two srun tasks in each array task: array task a, task t is rank 2a + t of 8.
  env["SLURM_PROCID"] = "1";
  env["SLURM_NTASKS"] = "2";
  r = launch_rank(env);
  EXPECT_EQ(r.rank, 5);
  EXPECT_EQ(r.size, 8);
  // Without _MIN (set by every Slurm since 14.03) the ids are taken to start at 0.
  r = launch_rank({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "3"}});
  EXPECT_EQ(r.rank, 2);
  EXPECT_EQ(r.size, 3);
}

TEST(Launcher, ArraysThatAreNotARangeAreRefused) {
  // --array=1,2,9: min 1, max 9, 3 tasks, not a range.
  const Environment list = {{"SLURM_ARRAY_TASK_ID", "9"},
                            {"SLURM_ARRAY_TASK_COUNT", "3"},
                            {"SLURM_ARRAY_TASK_MIN", "1"},
                            {"SLURM_ARRAY_TASK_MAX", "9"},
                            {"SLURM_ARRAY_TASK_STEP", "1"}};
  EXPECT_IIS_ERROR(launch_rank(list), "task ids are not the range");
  Environment below = list;
  below["SLURM_ARRAY_TASK_ID"] = "0";
  EXPECT_IIS_ERROR(launch_rank(below), "SLURM_ARRAY_TASK_ID=0");
  EXPECT_IIS_ERROR(launch_rank({{"SLURM_ARRAY_TASK_ID", "2"}}),
                   "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
}

TEST(Launcher, NoLauncherIsAnErrorListingEveryVariable) {
  const std::string message = test::error_of([] { launch_rank({{"HOME", "/root"}}); });
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE",
                           "RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS",
                           "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"}) {
    EXPECT_NE(message.find(name), std::string::npos) << name << " in " << message;
  }
  // Half a pair is not a launcher, but the error says what is missing.
  EXPECT_IIS_ERROR(launch_rank({{"OMPI_COMM_WORLD_RANK", "1"}}),
                   "OMPI_COMM_WORLD_RANK is set but OMPI_COMM_WORLD_SIZE is not");
  const LaunchRank r = launch_rank({{"RANK", "1"}, {"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "4"}});
  EXPECT_EQ(r.rank, 3);
}

TEST(Launcher, InconsistentValuesAreRefused) {
  EXPECT_IIS_ERROR(launch_rank({{"PMI_RANK", "4"}, {"PMI_SIZE", "4"}}),
                   "inconsistent launcher environment: rank 4 of 4 from PMI_RANK=4, PMI_SIZE=4");
  EXPECT_IIS_ERROR(launch_rank({{"RANK", "0"}, {"WORLD_SIZE", "0"}}), "rank 0 of 0");
  for (const char* bad : {"", "-1", "1.0", " 1", "x", "99999999999999999999"}) {
    EXPECT_IIS_ERROR(launch_rank({{"SLURM_PROCID", bad}, {"SLURM_NTASKS", "2"}}),
                     "SLURM_PROCID='" + std::string(bad) + "' is not a non-negative integer");
  }
}

TEST(Launcher, LocalRankFromEachLauncher) {
  EXPECT_EQ(local_rank({{"OMPI_COMM_WORLD_LOCAL_RANK", "3"}}).rank, 3);
  EXPECT_EQ(local_rank({{"MPI_LOCALRANKID", "1"}}).rank, 1);
  EXPECT_EQ(local_rank({{"LOCAL_RANK", "2"}}).rank, 2);
  EXPECT_EQ(local_rank({{"SLURM_LOCALID", "5"}}).rank, 5);
  // mpirun inside a Slurm job: Open MPI's, not the batch step's.
  const LocalRank r = local_rank({{"SLURM_LOCALID", "0"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}});
  EXPECT_EQ(r.rank, 1);
  EXPECT_EQ(r.source, "OMPI_COMM_WORLD_LOCAL_RANK=1");
  const std::string message = test::error_of([] { local_rank({}); });
  for (const char* name :
       {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "LOCAL_RANK", "SLURM_LOCALID"}) {
    EXPECT_NE(message.find(name), std::string::npos) << name << " in " << message;
  }
  EXPECT_IIS_ERROR(local_rank({{"LOCAL_RANK", "a"}}), "LOCAL_RANK='a' is not");
}

TEST(Launcher, ParsesShardsAndNamesTheirOutputs) {
  ShardSpec s = parse_shard("2/5", {});
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  EXPECT_FALSE(s.automatic);
  s = parse_shard("auto", {{"PMI_RANK", "1"}, {"PMI_SIZE", "3"}});
  EXPECT_EQ(s.index, 1);
  EXPECT_EQ(s.count, 3);
  EXPECT_TRUE(s.automatic);
  EXPECT_NE(s.source.find("PMI_RANK=1"), std::string::npos) << s.source;
  for (const char* bad : {"5/5", "1/x", "/3", "3/", "-1/2", "1/0", "Auto", "1 / 2"}) {
    EXPECT_IIS_ERROR(parse_shard(bad, {}), "--shard must be i/n with 0 <= i < n, or auto, got '" +
                                               std::string(bad) + "'");
  }
  EXPECT_IIS_ERROR(parse_shard("auto", {}), "--shard auto: no launcher's variables are set");
  EXPECT_EQ(shard_name("feats/train", 2, 12), "feats/train.part2of12");
}

TEST(Launcher, ReadsThisProcesssEnvironment) {
  ASSERT_EQ(::setenv("IIS_LAUNCHER_TEST", "a=b", 1), 0);
  EXPECT_EQ(process_environment().at("IIS_LAUNCHER_TEST"), "a=b");
  ::unsetenv("IIS_LAUNCHER_TEST");
  EXPECT_EQ(process_environment().count("IIS_LAUNCHER_TEST"), 0u);
}

}  // namespace
}  // namespace iis::core
