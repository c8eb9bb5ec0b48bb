// Sharded stages of `iis run`: one process's shard of a stage (--stage KIND --shard i/n), and
// the plain run that merges the shards instead of computing the stage.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/shards.hpp"
#include "iis/pipeline/detail/stages.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace iis::pipeline::detail {
namespace {

std::string stage_file(const std::string& shard) { return shard + ".stage.json"; }

// The stage hash a finished shard records; "" while it has not finished.
std::string shard_hash(const std::string& shard) {
  std::error_code ec;
  if (!fs::is_regular_file(stage_file(shard), ec)) return "";
  try {
    return json::parse(core::read_text(stage_file(shard))).value("hash", "");
  } catch (const std::exception&) {
    return "";  // an unreadable stage file is no stage file
  }
}

std::string name_list(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
  return list;
}

// The n shards a sharded run left for a stage, in index order, or none when it left none.
// Throws naming each shard missing, not finished or made for another hash (other settings):
// merging some would give a wrong stage, computing the stage anew would silently drop the
// cluster's work.
std::vector<std::string> finished_shards(const std::string& stage_name,
                                         const std::string& stage_kind, const std::string& hash,
                                         const std::string& base) {
  const std::vector<core::FoundShard> found = core::find_shards(base);
  if (found.empty()) return {};
  const std::string folder = fs::path(base).parent_path().string();
  std::set<int64_t> counts, present;
  for (const auto& s : found) counts.insert(s.count);
  IIS_CHECK_HINT(counts.size() == 1,
                 "stage " << stage_name << ": shards of " << counts.size()
                          << " different splits (--shard i/n with different n) lie in " << folder,
                 "remove " << folder << " and run the sharded step again");
  const int64_t count = found.front().count;
  for (const auto& s : found) present.insert(s.index);
  std::vector<std::string> shards, left;
  for (int64_t i = 0; i < count; ++i) {
    shards.push_back(core::shard_name(base, i, count));
    const std::string recorded = shard_hash(shards.back());
    if (present.count(i) == 0) {
      left.push_back(shards.back() + " (missing)");
    } else if (recorded.empty()) {
      left.push_back(shards.back() + " (not finished)");
    } else if (recorded != hash) {
      left.push_back(shards.back() + " (made with other settings)");
    }
  }
  IIS_CHECK_HINT(left.empty(),
                 "stage " << stage_name << ": " << left.size() << " of " << count
                          << " shards of a sharded run are not ready: " << name_list(left),
                 "re-run the sharded step (`iis run CONFIG --stage "
                     << stage_kind << " --shard ...`; finished shards are skipped), or remove "
                     << folder << " to compute the stage in one process");
  return shards;
}

// Removes the shards' folder, then its parents up to RUN_DIR/shards while they are empty.
void remove_shards(const std::string& base, const std::string& stage_name) {
  fs::path folder = fs::path(base).parent_path();
  core::remove_tree(folder.string());
  const auto levels = std::count(stage_name.begin(), stage_name.end(), '/') + 1;
  for (std::ptrdiff_t k = 0; k < levels; ++k) {
    folder = folder.parent_path();
    std::error_code ec;
    if (!fs::remove(folder, ec)) break;  // not empty: shards of other stages are there
  }
}

// `stage` with its work replaced by: merge the shards a sharded run left, if it left any, and
// remove them; else compute the stage as before.
Stage merging_shards(Stage stage, const Sharding& sharding) {
  stage.run = [compute = stage.run, sharding, name = stage.name, kind = stage.kind,
               hash = stage.key.hash()](bool force) {
    const std::vector<std::string> shards = finished_shards(name, kind, hash, sharding.base);
    if (shards.empty()) return compute(force);
    core::log_info("stage " + name + ": merging the " + std::to_string(shards.size()) +
                   " shards of a sharded run");
    sharding.merge(shards);
    remove_shards(sharding.base, name);
  };
  return stage;
}

// This process's shard of `stage` (ctx.shard), unless the stage or the shard is done.
std::string run_shard(StageContext& ctx, const Stage& stage, const Sharding& sharding) {
  const std::string hash = stage.key.hash();
  const int64_t index = ctx.shard.index;
  const int64_t count = sharding.parts ? sharding.parts(ctx.shard.count) : ctx.shard.count;
  const std::string shard = core::shard_name(sharding.base, index, count);
  const std::string part = std::to_string(index) + "/" + std::to_string(count);
  StageRecord record{stage.name + " (shard " + part + ")", stage.kind, shard, hash};
  if (!ctx.force && ctx.runner.up_to_date(stage)) {
    core::log_info("stage " + stage.name + ": up to date, no shard to compute");
  } else if (index >= count) {
    core::log_info("stage " + stage.name + ": splits into only " + std::to_string(count) +
                   (count == 1 ? " shard" : " shards") + ", none for process " +
                   std::to_string(index));
  } else if (!ctx.force && shard_hash(shard) == hash) {
    core::log_info("stage " + stage.name + ": shard " + part + " finished earlier, skipped");
  } else {
    std::error_code ec;
    fs::remove(stage_file(shard), ec);  // first: the shard is unfinished until it is rewritten
    core::make_dirs(fs::path(sharding.base).parent_path().string());
    core::log_info("stage " + stage.name + ": shard " + part + " into " + shard);
    const auto t0 = std::chrono::steady_clock::now();
    with_context("stage " + stage.name + ", shard " + part,
                 [&] { sharding.run_shard(index, count, shard); });
    record.ran = true;
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const json done = {{"hash", hash},
                       {"stage", stage.name},
                       {"shard", {index, count}},
                       {"inputs", stage.key.text()}};
    core::write_text_atomic(stage_file(shard), done.dump(2) + "\n");
  }
  ctx.runner.record(record);
  return hash;
}

}  // namespace

std::string shards_folder(const StageContext& ctx, const std::string& stage_name) {
  return (fs::path(ctx.run_dir) / "shards" / stage_name).string();
}

std::string run_stage(StageContext& ctx, const Stage& stage) {
  if (ctx.sharded_kind.empty()) return ctx.runner.run(stage);
  IIS_CHECK_HINT(ctx.runner.up_to_date(stage),
                 "stage " << stage.name << " is not up to date, and a sharded run (--stage "
                          << ctx.sharded_kind << " --shard) computes no stage before "
                          << ctx.sharded_kind,
                 "run `iis run CONFIG --stage " << stage.kind
                                                << "` once, in one process, before the sharded "
                                                   "step");
  ctx.runner.record({stage.name, stage.kind, stage.output_dir, stage.key.hash()});
  return stage.key.hash();
}

std::string run_stage(StageContext& ctx, const Stage& stage, const Sharding& sharding) {
  if (ctx.sharded_kind.empty()) return ctx.runner.run(merging_shards(stage, sharding));
  if (stage.kind == ctx.sharded_kind) return run_shard(ctx, stage, sharding);
  return run_stage(ctx, stage);
}

}  // namespace iis::pipeline::detail
