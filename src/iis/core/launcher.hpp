// Where this process stands among those a cluster launcher started (Open MPI, MPICH or Intel
// MPI, torchrun, Slurm tasks and job arrays), read from the environment the launcher sets:
// what `--shard auto` and `--device cuda:auto` resolve to. Torch-free; the environment is a
// map so that tests can simulate every launcher.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace iis::core {

// Environment variables by name.
using Environment = std::map<std::string, std::string>;

// This process's environment (environ).
Environment process_environment();

// This process's place among the processes of one launch.
struct LaunchRank {
  int64_t rank = 0;    // 0-based, < size
  int64_t size = 1;    // processes in the launch, >= 1
  std::string source;  // the launcher and the variables read, for the log
};

// The rank and size from the first launcher whose pair of variables is set: Open MPI
// (OMPI_COMM_WORLD_RANK/_SIZE), MPICH or Intel MPI (PMI_RANK/PMI_SIZE), torchrun
// (RANK/WORLD_SIZE), Slurm (SLURM_PROCID/SLURM_NTASKS). The order matters where launchers nest:
// mpirun or torchrun inside a Slurm job leaves the job's SLURM_PROCID (0) in every process.
// A Slurm job array (SLURM_ARRAY_TASK_ID/_COUNT, with _MIN and _STEP) is the outer level: array
// task a of A running n processes gives rank a*n + r of A*n (n = 1 when nothing else is set).
// Throws iis::Error listing every variable when none is set, and naming the variables when a
// value is not an integer or the rank is not below the size.
LaunchRank launch_rank(const Environment& env);

// The rank of this process among those of the launch on its node.
struct LocalRank {
  int64_t rank = 0;
  std::string source;  // the variable read, for the log
};

// The node-local rank: OMPI_COMM_WORLD_LOCAL_RANK (Open MPI), MPI_LOCALRANKID (MPICH's Hydra,
// Intel MPI), LOCAL_RANK (torchrun), SLURM_LOCALID (Slurm), the first one set. Throws
// iis::Error listing them when none is set or the value is not a non-negative integer.
LocalRank local_rank(const Environment& env);

// --shard as given: "i/n" (0 <= i < n) or "auto" (launch_rank).
struct ShardSpec {
  int64_t index = 0;
  int64_t count = 1;
  bool automatic = false;  // "auto": from the launcher
  std::string source;      // "auto": the launcher and variables read (launch_rank's source)
};

// Parses --shard TEXT, reading `env` for "auto"; throws iis::Error naming --shard.
ShardSpec parse_shard(const std::string& text, const Environment& env);

// The output of shard `index` of `count` of a command writing `out`: "OUT.part<i>of<n>"
// (a prefix of files for `iis embed`, a folder for `iis elements`; a folder's trailing '/' is
// dropped).
std::string shard_name(const std::string& out, int64_t index, int64_t count);

}  // namespace iis::core
