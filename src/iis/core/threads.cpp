// Thread count shared by LibTorch, the BLAS it calls and OpenCV.
#include "iis/core/threads.hpp"

#include <dlfcn.h>
#include <torch/torch.h>

#include <thread>
#ifdef IIS_HAVE_OPENCV
#include <opencv2/core.hpp>
#endif

namespace iis::core {

namespace {
int g_threads = 0;
int all_cores() { return std::max(1u, std::thread::hardware_concurrency()); }

using BlasSetThreads = void (*)(int);
using BlasGetThreads = int (*)();

// OpenBLAS (what Debian's LibTorch calls for matrix products), when it is the BLAS loaded.
BlasSetThreads blas_set() {
  return reinterpret_cast<BlasSetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
}
BlasGetThreads blas_get() {
  return reinterpret_cast<BlasGetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
}

}  // namespace

int set_threads(int n) {
  g_threads = n > 0 ? n : all_cores();
  torch::set_num_threads(g_threads);
  // OpenBLAS otherwise keeps one thread per core whatever --threads says.
  if (auto* f = blas_set()) f(g_threads);
#ifdef IIS_HAVE_OPENCV
  cv::setNumThreads(g_threads);
#endif
  return g_threads;
}

int threads() { return g_threads > 0 ? g_threads : all_cores(); }

SingleThreadedBlas::SingleThreadedBlas() {
  auto* get = blas_get();
  auto* set = blas_set();
  if (get != nullptr && set != nullptr) {
    saved_ = get();
    set(1);
  }
}

SingleThreadedBlas::~SingleThreadedBlas() {
  if (saved_ > 0) blas_set()(saved_);
}

}  // namespace iis::core
