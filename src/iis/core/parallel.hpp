// The project's own thread pool for CPU loops: chunks of work on a few threads that sleep
// between calls, with results that never depend on how many threads ran them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>

namespace iis::core {

// The thread count loops use by default: LibTorch's intra-op count (set_threads sets it).
int loop_threads();

// Runs work(chunk) for every chunk in [0, chunks) on up to `threads` threads (≤ 0: loop_threads()):
// the caller and a pool of workers, each taking the next unclaimed chunk. One call at a time
// uses the pool; a call from inside work (nested) or while another thread's call is running
// waits or runs serially, never deadlocks. The first exception thrown by work is rethrown
// here once every chunk has finished.
void run_chunks(int64_t chunks, int threads, const std::function<void(int64_t)>& work);

// True on a thread that is running chunks of run_chunks (nested calls then run serially).
bool in_parallel_chunk();

// f(lo, hi) over consecutive pieces of [begin, end) of at least `grain` iterations (when there
// are enough), in parallel on loop_threads() threads: at::parallel_for's contract. Use it for
// loops whose iterations are independent, so that the result cannot depend on the split.
// (Debian's LibTorch 1.13 makes at::parallel_for serial in code compiled without -fopenmp.)
template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  if (begin >= end) return;
  const int64_t n = end - begin;
  grain = std::max<int64_t>(grain, 1);
  const int threads = loop_threads();
  const int64_t pieces = std::min<int64_t>(threads, (n + grain - 1) / grain);
  if (pieces <= 1 || in_parallel_chunk()) {
    f(begin, end);
    return;
  }
  run_chunks(pieces, threads, [&](int64_t piece) {
    f(begin + piece * n / pieces, begin + (piece + 1) * n / pieces);
  });
}

}  // namespace iis::core
