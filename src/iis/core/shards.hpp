// Finding the shards of a split output beside it (OUT.part<i>of<n>, as core::shard_name names
// them) and waiting until every one has finished: what `iis merge --out OUT --wait` does before
// it merges.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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

}  // namespace iis::core
