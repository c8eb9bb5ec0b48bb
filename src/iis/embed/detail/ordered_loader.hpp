// A pool of threads computing items of an index range ahead of a consumer that takes them in
// index order: bounded look-ahead, deterministic order, errors passed to the consumer.
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

namespace iis::embed::detail {

// Runs `produce(i)` for i in [begin, end) on `threads` threads, at most `capacity` items ahead
// of the consumer; next() returns them in order (i = begin, begin+1, ...). An exception thrown
// by produce() is rethrown by next() at that item's turn. Destruction stops the threads.
template <typename T>
class OrderedLoader {
 public:
  OrderedLoader(int64_t begin, int64_t end, int threads, int64_t capacity,
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
  ~OrderedLoader() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    for (auto& w : workers_) w.join();
  }
  OrderedLoader(const OrderedLoader&) = delete;
  OrderedLoader& operator=(const OrderedLoader&) = delete;

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

}  // namespace iis::embed::detail
