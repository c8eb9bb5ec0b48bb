// Finding the shards of a split output beside it (OUT.part<i>of<n>, as core::shard_name names
// them) and waiting until every one has finished: what `iis merge --out OUT --wait` does before
// it merges.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "iis/core/error.hpp"

namespace iis::core {

// One shard output found beside OUT.
struct FoundShard {
  int64_t index = 0, count = 0;
  std::string path;  // OUT.part<i>of<n>: a folder (iis elements) or a prefix of files (iis embed)
  bool folder = false;  // a folder named so exists
};

// The shard outputs of `out` present now: every OUT.part<i>of<n> folder, and every prefix
// OUT.part<i>of<n> of at least one file (OUT.part<i>of<n>.<anything>, temporaries included),
// once each, ordered by count, then index. Reads only the folder `out` is in.
std::vector<FoundShard> find_shards(const std::string& out);

// How wait_for_shards waits.
struct ShardWait {
  double timeout_seconds = 0;  // give up after this long; 0 = wait without limit
  double poll_seconds = 2;     // look again after this long
  // Whether a shard found has finished (its completion is written atomically, last).
  std::function<bool(const FoundShard&)> complete;
};

// Waits until the shards of `out` are all there and complete: OUT.part0of<n> ..
// OUT.part<n-1>of<n> for the one count n found. Logs which shards it waits for when that
// changes. Returns them by index. Throws iis::Error at the timeout naming each shard missing
// or unfinished, and at once when shards of two different counts lie beside `out`.
std::vector<FoundShard> wait_for_shards(const std::string& out, const ShardWait& wait);

// Checks that `shards` (each with `index`, `count`, a name and its metadata) are the parts of
// one command: the `keys` of their metadata agree, they are parts of one count, none is given
// twice; sorts them by index. `same_command` is the hint when they differ. What is missing is
// the caller's to say (it knows how to make it).
template <class Shard>
void check_shard_set(std::vector<Shard>& shards, std::string Shard::*name,
                     nlohmann::json Shard::*meta, const std::vector<std::string>& keys,
                     const std::string& same_command) {
  const Shard& first = shards.front();
  for (const Shard& s : shards) {
    for (const auto& key : keys) {
      IIS_CHECK_HINT((s.*meta).at(key) == (first.*meta).at(key),
                     "shards " << first.*name << " and " << s.*name << " differ in " << key << " ("
                               << (first.*meta).at(key).dump() << " vs " << (s.*meta).at(key).dump()
                               << ")",
                     same_command);
    }
    IIS_CHECK_HINT(s.count == first.count,
                   "shard " << s.*name << " is part of " << s.count << " shards, " << first.*name
                            << " of " << first.count,
                   "merge the shards of one split");
  }
  std::sort(shards.begin(), shards.end(),
            [](const Shard& a, const Shard& b) { return a.index < b.index; });
  for (size_t k = 1; k < shards.size(); ++k) {
    IIS_CHECK_HINT(shards[k].index != shards[k - 1].index,
                   "shards " << shards[k - 1].*name << " and " << shards[k].*name
                             << " are both shard " << shards[k].index << "/" << shards[k].count,
                   "give each shard once");
  }
}

}  // namespace iis::core
