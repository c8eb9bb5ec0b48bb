// The project's own thread pool for CPU loops: chunks of work on a few threads that sleep
// between calls, with results that never depend on how many threads ran them; and an ordered
// parallel map for work that overlaps with what a consumer does with each result.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

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

// A parallel map over the index range [begin, end) whose results are taken in index order:
// `threads` threads of its own compute produce(i) at most `capacity` items ahead of the
// consumer, and next() returns them in order (i = begin, begin + 1, ...). An exception thrown
// by produce() is rethrown by next() at that item's turn. Destruction stops the threads.
// For work that overlaps with what the consumer does with each result (decoding images while
// a model runs, extracting elements while a journal is written): run_chunks' pool serves one
// call at a time and would wait for the consumer's own parallel loops.
template <typename T>
class OrderedMap {
 public:
  OrderedMap(int64_t begin, int64_t end, int threads, int64_t capacity,
             std::function<T(int64_t)> produce)
      : begin_(begin),
        end_(end),
        capacity_(std::max<int64_t>(1, capacity)),
        next_claim_(begin),
        next_take_(begin),
        produce_(std::move(produce)),
        slots_(static_cast<size_t>(capacity_)) {
    for (int t = 0; t < std::max(1, threads); ++t) workers_.emplace_back([this] { work(); });
  }
  ~OrderedMap() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    for (auto& w : workers_) w.join();
  }
  OrderedMap(const OrderedMap&) = delete;
  OrderedMap& operator=(const OrderedMap&) = delete;

  bool done() const { return next_take_ >= end_; }

  // The next item in index order; blocks until it is ready. Call only while !done().
  T next() {
    Slot& slot = slots_[static_cast<size_t>((next_take_ - begin_) % capacity_)];
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return slot.filled; });
    slot.filled = false;
    ++next_take_;
    std::exception_ptr error = slot.error;
    std::optional<T> value = std::move(slot.value);
    slot.value.reset();
    slot.error = nullptr;
    lock.unlock();
    space_.notify_all();
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }

 private:
  struct Slot {
    bool filled = false;
    std::optional<T> value;
    std::exception_ptr error;
  };

  void work() {
    for (;;) {
      int64_t i;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        space_.wait(lock, [&] {
          return stop_ || next_claim_ >= end_ || next_claim_ < next_take_ + capacity_;
        });
        if (stop_ || next_claim_ >= end_) return;
        i = next_claim_++;
      }
      std::optional<T> value;
      std::exception_ptr error;
      try {
        value = produce_(i);
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        Slot& slot = slots_[static_cast<size_t>((i - begin_) % capacity_)];
        slot.value = std::move(value);
        slot.error = error;
        slot.filled = true;
      }
      ready_.notify_all();
    }
  }

  const int64_t begin_, end_, capacity_;
  int64_t next_claim_, next_take_;
  std::function<T(int64_t)> produce_;
  std::vector<Slot> slots_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  bool stop_ = false;
};

}  // namespace iis::core
