// The project's thread pool (parallel.hpp).
#include "iis/core/parallel.hpp"

#include <ATen/Parallel.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace iis::core {

namespace {

thread_local bool t_in_chunk = false;

// Marks the current thread as running chunks for its lifetime.
struct InChunk {
  bool saved = t_in_chunk;
  InChunk() { t_in_chunk = true; }
  ~InChunk() { t_in_chunk = saved; }
};

// Runs work(chunk) for every chunk in [0, chunks) on up to `threads` threads: the caller and a
// pool of workers that poll for 200 µs after a call, then sleep on a condition variable. Each
// thread takes the next unclaimed chunk, so a thread the OS does not schedule (other processes
// on the cores) holds up only the chunk it is on, and an idle worker soon uses no CPU (OpenMP's
// workers spin far longer between regions, which on a busy two-core machine made two threads 3x
// slower than one).
class ChunkPool {
 public:
  static ChunkPool& instance() {
    static ChunkPool pool;
    return pool;
  }

  // threads ≥ 2. The pool keeps threads − 1 workers whatever the chunk count, so calls with
  // few chunks (small loops) do not stop and restart threads; idle ones find no chunk.
  void run(int64_t chunks, int threads, const std::function<void(int64_t)>& work) {
    std::lock_guard<std::mutex> one_call(call_mutex_);
    resize(threads - 1);
    auto job = std::make_shared<Job>();
    job->work = &work;
    job->chunks = chunks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = job;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    drain(*job);
    // The other threads' last chunks usually end within microseconds: look before sleeping.
    spin_until([&] { return job->done.load() == chunks; });
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return job->done.load() == chunks; });
    job_.reset();
    if (job->error) std::rethrow_exception(job->error);
  }

  ~ChunkPool() { resize(0); }

 private:
  struct Job {
    const std::function<void(int64_t)>* work = nullptr;
    int64_t chunks = 0;
    std::atomic<int64_t> next{0}, done{0};
    std::exception_ptr error;  // the first exception thrown by work (under the pool's mutex)
  };

  // Claims chunks until none is left; a late worker finds none and never touches `work`.
  void drain(Job& job) {
    InChunk mark;
    for (int64_t chunk = job.next++; chunk < job.chunks; chunk = job.next++) {
      try {
        (*job.work)(chunk);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!job.error) job.error = std::current_exception();
      }
      if (++job.done == job.chunks) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_all();
      }
    }
  }

  // Polls `ready` for up to kSpin before the caller sleeps: training calls the pool once per
  // batch, a millisecond or so apart, and waking a sleeping thread costs far more in a VM.
  template <typename Ready>
  static bool spin_until(const Ready& ready) {
    constexpr auto kSpin = std::chrono::microseconds(200);
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0;; ++i) {
      if (ready()) return true;
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return false;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }

  void worker() {
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      spin_until([&] { return stop_.load() || generation_.load() != seen; });
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
        if (stop_) return;
        seen = generation_.load();
        job = job_;
      }
      if (job) drain(*job);
    }
  }

  void resize(int count) {
    count = std::max(count, 0);
    if (static_cast<int>(workers_.size()) == count) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
    for (int i = 0; i < count; ++i) workers_.emplace_back([this] { worker(); });
  }

  std::mutex call_mutex_, mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  std::shared_ptr<Job> job_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace

int loop_threads() { return at::get_num_threads(); }

bool in_parallel_chunk() { return t_in_chunk; }

void run_chunks(int64_t chunks, int threads, const std::function<void(int64_t)>& work) {
  if (chunks <= 0) return;
  if (threads <= 0) threads = loop_threads();
  if (threads <= 1 || chunks == 1 || t_in_chunk) {
    InChunk mark;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) work(chunk);
    return;
  }
  ChunkPool::instance().run(chunks, threads, work);
}

}  // namespace iis::core
