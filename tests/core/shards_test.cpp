// Finding the shards of OUT beside it, and waiting until all are complete, with the errors of a
// timeout and of two splits mixed.
#include "iis/core/shards.hpp"

#include <filesystem>
#include <fstream>
#include <thread>

#include "test_support.hpp"

namespace iis::core {
namespace {

namespace fs = std::filesystem;

void touch(const std::string& path) { std::ofstream(path) << "x"; }

// Complete: a file DONE inside the folder, or PREFIX.done beside a prefix.
bool done(const FoundShard& s) {
  return fs::exists(s.folder ? s.path + "/DONE" : s.path + ".done");
}

TEST(Shards, FindsFoldersAndPrefixesOfOneOutputOnly) {
  test::TempDir dir;
  const std::string out = dir / "feats";
  touch(out + ".part0of3.embed.json");
  touch(out + ".part0of3.features.npy");  // the same shard: found once
  touch(out + ".part1of3.features.npy.tmp.123");
  fs::create_directories(out + ".part2of3");
  // Not shards of `out`: a leading zero, no number, index >= count, no '.' after the count.
  for (const char* other :
       {".part01of3.x", ".partXof3.x", ".part3of3.x", ".part0of3x", ".part0of.x", "x.part0of3.x"}) {
    touch(out + other);
  }
  touch(dir / "other.part0of3.x");
  const auto found = find_shards(out);
  ASSERT_EQ(found.size(), 3u);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(found[i].index, i);
    EXPECT_EQ(found[i].count, 3);
    EXPECT_EQ(found[i].path, out + ".part" + std::to_string(i) + "of3");
    EXPECT_EQ(found[i].folder, i == 2);
  }
  // A folder given with its trailing '/' names the same shards; 1of23 is not 1of2.
  touch(out + ".part1of23.x");
  const auto again = find_shards(out + "/");
  ASSERT_EQ(again.size(), 4u);
  EXPECT_EQ(again.back().count, 23);
  EXPECT_TRUE(find_shards(dir / "missing/feats").empty());
}

TEST(Shards, WaitReturnsOnceEveryShardIsComplete) {
  test::TempDir dir;
  const std::string out = dir / "els";
  for (int i = 0; i < 3; ++i) fs::create_directories(out + ".part" + std::to_string(i) + "of3");
  touch(out + ".part0of3/DONE");
  touch(out + ".part2of3/DONE");
  std::thread last([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    touch(out + ".part1of3/DONE");
  });
  const auto start = std::chrono::steady_clock::now();
  const auto shards = wait_for_shards(out, {/*timeout_seconds=*/20, /*poll_seconds=*/0.05, done});
  last.join();
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(shards.size(), 3u);
  EXPECT_EQ(shards[1].path, out + ".part1of3");
  EXPECT_GE(waited, 0.25);
  EXPECT_LT(waited, 10.0);
}

TEST(Shards, TimeoutNamesEveryShardMissingOrUnfinished) {
  test::TempDir dir;
  const std::string out = dir / "feats";
  const ShardWait wait{/*timeout_seconds=*/0.2, /*poll_seconds=*/0.05, done};
  EXPECT_IIS_ERROR(wait_for_shards(out, wait), "no shard found yet (" + out + ".part<i>of<n>)");
  touch(out + ".part0of4.done");
  touch(out + ".part1of4.features.npy.tmp.7");
  touch(out + ".part3of4.done");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_IIS_ERROR(wait_for_shards(out, wait), "--timeout 0.2 s passed waiting for the shards of " +
                                                   out + ": 2 of 4 shards " + "to come: " + out +
                                                   ".part1of4 (not finished), " + out +
                                                   ".part2of4 (missing)");
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 5.0);
  // Shards of another split beside them: refused at once, whatever the timeout.
  touch(out + ".part0of2.done");
  EXPECT_IIS_ERROR(wait_for_shards(out, {0, 0.05, done}),
                   "shards of 2 different splits lie beside " + out + ": " + out + ".part<i>of2, " +
                       out + ".part<i>of4");
}

}  // namespace
}  // namespace iis::core
