// Rank, size and node-local rank from the variables cluster launchers set (launcher.hpp).
#include "iis/core/launcher.hpp"

#include <optional>
#include <vector>

#include "iis/core/error.hpp"

extern char** environ;

namespace iis::core {

namespace {

// A launcher's pair of variables: this process's rank and the number of processes.
struct RankVariables {
  const char* launcher;
  const char* rank;
  const char* size;
};

// In order of precedence (launch_rank says why).
constexpr RankVariables kRankVariables[] = {
    {"Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
    {"MPICH or Intel MPI", "PMI_RANK", "PMI_SIZE"},
    {"torchrun", "RANK", "WORLD_SIZE"},
    {"Slurm", "SLURM_PROCID", "SLURM_NTASKS"},
};

// Node-local ranks, in the same order of launchers.
constexpr const char* kLocalRankVariables[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                               "LOCAL_RANK", "SLURM_LOCALID"};

constexpr const char* kArrayId = "SLURM_ARRAY_TASK_ID";
constexpr const char* kArrayCount = "SLURM_ARRAY_TASK_COUNT";
constexpr const char* kArrayMin = "SLURM_ARRAY_TASK_MIN";
constexpr const char* kArrayMax = "SLURM_ARRAY_TASK_MAX";
constexpr const char* kArrayStep = "SLURM_ARRAY_TASK_STEP";

std::optional<std::string> lookup(const Environment& env, const std::string& name) {
  const auto it = env.find(name);
  if (it == env.end()) return std::nullopt;
  return it->second;
}

// The value of `name` as a non-negative integer (the whole text, no sign, no blanks).
int64_t read_count(const Environment& env, const std::string& name) {
  const std::string text = env.at(name);
  bool ok = !text.empty() && text.size() <= 18;
  for (char c : text) ok = ok && c >= '0' && c <= '9';
  IIS_CHECK_HINT(
      ok, "the environment variable " << name << "='" << text << "' is not a non-negative integer",
      "the launcher sets it; unset it if something else did");
  return std::stoll(text);
}

std::string assignment(const Environment& env, const std::string& name) {
  return name + "=" + env.at(name);
}

// Every variable launch_rank reads, for the error when none is set.
std::string rank_variable_list() {
  std::string list;
  for (const auto& v : kRankVariables) {
    list += std::string(list.empty() ? "" : ", ") + v.launcher + " (" + v.rank + "/" + v.size + ")";
  }
  return list + ", a Slurm job array (" + kArrayId + "/" + kArrayCount + ")";
}

// The array task's place among the array's tasks, from their ids MIN, MIN+STEP, ...
LaunchRank array_rank(const Environment& env) {
  IIS_CHECK_HINT(env.count(kArrayCount) == 1,
                 kArrayId << " is set but " << kArrayCount << " is not",
                 "a Slurm older than 14.03 does not set it; pass --shard i/n explicitly");
  const int64_t id = read_count(env, kArrayId), count = read_count(env, kArrayCount);
  // Without _MIN (a hand-made environment) the ids are taken to start at 0.
  const int64_t min = env.count(kArrayMin) ? read_count(env, kArrayMin) : 0;
  const int64_t step = env.count(kArrayStep) ? read_count(env, kArrayStep) : 1;
  LaunchRank r;
  r.size = count;
  r.source = "Slurm job array (" + assignment(env, kArrayId) + ", " + assignment(env, kArrayCount);
  for (const char* name : {kArrayMin, kArrayMax, kArrayStep}) {
    if (env.count(name)) r.source += ", " + assignment(env, name);
  }
  r.source += ")";
  const bool regular =
      count >= 1 && step >= 1 && id >= min && (id - min) % step == 0 && (id - min) / step < count &&
      (!env.count(kArrayMax) || read_count(env, kArrayMax) == min + (count - 1) * step);
  IIS_CHECK_HINT(regular,
                 "the job array's task ids are not the range MIN, MIN+STEP, ... of "
                     << kArrayCount << " ids that --shard auto needs: " << r.source,
                 "submit the array as --array=0-"
                     << (count > 0 ? count - 1 : 0)
                     << " (a step or a %limit is fine, a list is not)");
  r.rank = (id - min) / step;
  return r;
}

}  // namespace

Environment process_environment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const size_t eq = text.find('=');
    if (eq != std::string::npos) env.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return env;
}

LaunchRank launch_rank(const Environment& env) {
  std::optional<LaunchRank> inner;
  std::string half_set, not_used;
  for (const auto& v : kRankVariables) {
    const bool has_rank = env.count(v.rank) == 1, has_size = env.count(v.size) == 1;
    if (has_rank != has_size) {
      half_set += std::string("; ") + (has_rank ? v.rank : v.size) + " is set but " +
                  (has_rank ? v.size : v.rank) + " is not";
      continue;
    }
    if (!has_rank) continue;
    const std::string vars = assignment(env, v.rank) + ", " + assignment(env, v.size);
    if (inner) {
      not_used += std::string(not_used.empty() ? "" : "; ") + v.launcher + " " + vars;
      continue;
    }
    inner = LaunchRank{read_count(env, v.rank), read_count(env, v.size),
                       std::string(v.launcher) + " (" + vars + ")"};
    IIS_CHECK_HINT(inner->size >= 1 && inner->rank < inner->size,
                   "inconsistent launcher environment: rank " << inner->rank << " of "
                                                              << inner->size << " from " << vars,
                   "the rank must be below the number of processes; unset these variables if "
                   "the launcher did not set them");
  }
  const bool array = env.count(kArrayId) == 1;
  IIS_CHECK_HINT(inner || array,
                 "--shard auto: no launcher's variables are set (read " << rank_variable_list()
                                                                        << half_set << ")",
                 "start the command with mpirun, srun, torchrun or in a Slurm job array, or "
                 "give --shard i/n");
  LaunchRank r = inner.value_or(LaunchRank{});
  if (array) {
    const LaunchRank outer = array_rank(env);
    r.source = outer.source + (inner ? " × " + r.source : "");
    r.rank = outer.rank * r.size + r.rank;
    r.size = outer.size * r.size;
  }
  if (!not_used.empty()) r.source += "; also set, not used: " + not_used;
  return r;
}

LocalRank local_rank(const Environment& env) {
  for (const char* name : kLocalRankVariables) {
    if (env.count(name)) return {read_count(env, name), assignment(env, name)};
  }
  std::string list;
  for (const char* name : kLocalRankVariables) list += std::string(list.empty() ? "" : ", ") + name;
  IIS_FAIL("cuda:auto needs the process's rank on its node, and none of " << list << " is set",
           "start the command with mpirun, srun or torchrun, or name the GPU (cuda:N)");
}

ShardSpec parse_shard(const std::string& text, const Environment& env) {
  ShardSpec s;
  if (text == "auto") {
    const LaunchRank r = launch_rank(env);
    s.index = r.rank;
    s.count = r.size;
    s.automatic = true;
    s.source = r.source;
    return s;
  }
  const size_t slash = text.find('/');
  bool ok = slash != std::string::npos && slash > 0 && slash + 1 < text.size();
  if (ok) {
    try {
      size_t used_i = 0, used_n = 0;
      s.index = std::stoll(text.substr(0, slash), &used_i);
      s.count = std::stoll(text.substr(slash + 1), &used_n);
      ok = used_i == slash && used_n == text.size() - slash - 1;
    } catch (const std::exception&) {
      ok = false;
    }
  }
  IIS_CHECK_HINT(ok && s.count >= 1 && s.index >= 0 && s.index < s.count,
                 "--shard must be i/n with 0 <= i < n, or auto, got '" << text << "'",
                 "e.g. --shard 0/4 … --shard 3/4 for four parts, or --shard auto under mpirun, "
                 "srun or torchrun; then `iis merge`");
  return s;
}

std::string shard_name(const std::string& out, int64_t index, int64_t count) {
  std::string base = out;
  while (base.size() > 1 && base.back() == '/') base.pop_back();  // "elements/" is a folder
  return base + ".part" + std::to_string(index) + "of" + std::to_string(count);
}

}  // namespace iis::core
