// Tests of the project's thread pool: every chunk runs once, errors come back, nesting is safe.
#include "iis/core/parallel.hpp"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace iis::core {
namespace {

TEST(RunChunks, EveryChunkRunsExactlyOnceOnAnyThreadCount) {
  for (int threads : {1, 2, 3, 8}) {
    std::vector<std::atomic<int>> runs(37);
    run_chunks(37, threads, [&](int64_t chunk) { ++runs[chunk]; });
    for (size_t c = 0; c < runs.size(); ++c) EXPECT_EQ(runs[c].load(), 1) << threads << " " << c;
  }
}

TEST(RunChunks, UsesMoreThanOneThreadWhenAsked) {
  std::mutex m;
  std::set<std::thread::id> ids;
  // Chunks that wait for a second thread to show up, up to a limit: with two threads, both
  // take part (the pool's worker claims a chunk while the caller is busy with the first).
  std::atomic<int> started{0};
  run_chunks(2, 2, [&](int64_t) {
    ++started;
    for (int i = 0; i < 2000 && started.load() < 2; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::lock_guard<std::mutex> lock(m);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_EQ(ids.size(), 2u);
}

TEST(RunChunks, RethrowsTheFirstErrorAfterEveryChunkFinished) {
  std::atomic<int> finished{0};
  EXPECT_THROW(run_chunks(16, 2,
                          [&](int64_t chunk) {
                            ++finished;
                            if (chunk == 5) throw std::runtime_error("chunk 5");
                          }),
               std::runtime_error);
  EXPECT_EQ(finished.load(), 16);
  // The pool still works afterwards.
  std::atomic<int> again{0};
  run_chunks(4, 2, [&](int64_t) { ++again; });
  EXPECT_EQ(again.load(), 4);
}

TEST(RunChunks, NestedCallsRunSeriallyInsteadOfDeadlocking) {
  std::atomic<int> inner{0};
  run_chunks(4, 2, [&](int64_t) {
    EXPECT_TRUE(in_parallel_chunk());
    run_chunks(3, 2, [&](int64_t) { ++inner; });
  });
  EXPECT_EQ(inner.load(), 12);
  EXPECT_FALSE(in_parallel_chunk());
}

TEST(ParallelFor, CoversTheRangeInPiecesOfAtLeastTheGrain) {
  const int before = at::get_num_threads();
  at::set_num_threads(3);
  size_t most_pieces = 0;
  for (int64_t n : {1, 7, 100, 1000}) {
    std::mutex m;
    std::vector<std::pair<int64_t, int64_t>> pieces;
    std::vector<int> hits(static_cast<size_t>(n), 0);
    parallel_for(10, 10 + n, 16, [&](int64_t lo, int64_t hi) {
      std::lock_guard<std::mutex> lock(m);
      pieces.emplace_back(lo, hi);
      for (int64_t i = lo; i < hi; ++i) ++hits[static_cast<size_t>(i - 10)];
    });
    for (int h : hits) EXPECT_EQ(h, 1) << n;
    most_pieces = std::max(most_pieces, pieces.size());
    if (pieces.size() > 1) {
      for (const auto& [lo, hi] : pieces) EXPECT_GE(hi - lo, 16) << n;
    }
  }
  at::set_num_threads(before);
  EXPECT_EQ(most_pieces, 3u);  // one piece per thread once the range allows it
  bool called = false;
  parallel_for(5, 5, 1, [&](int64_t, int64_t) { called = true; });
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace iis::core
