// The number of CPU threads LibTorch and OpenCV use (Debian's LibTorch starts with one).
#pragma once

namespace iis::core {

// Sets the intra-op thread count of LibTorch and OpenCV. n <= 0 means all cores.
// Returns the count in effect.
int set_threads(int n);

// The thread count last set (all cores before any call).
int threads();

// While alive, OpenBLAS (when loaded) runs on the calling thread only; the previous count is
// restored at the end. For loops that parallelise themselves over LibTorch's threads and call
// small matrix products: BLAS's own pool would oversubscribe the cores and spin in between.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int saved_ = 0;
};

}  // namespace iis::core
