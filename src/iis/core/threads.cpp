// Thread count shared by LibTorch and OpenCV.
#include "iis/core/threads.hpp"

#include <torch/torch.h>

#include <opencv2/core.hpp>
#include <thread>

namespace iis::core {

namespace {
int g_threads = 0;
int all_cores() { return std::max(1u, std::thread::hardware_concurrency()); }
}  // namespace

int set_threads(int n) {
  g_threads = n > 0 ? n : all_cores();
  torch::set_num_threads(g_threads);
  cv::setNumThreads(g_threads);
  return g_threads;
}

int threads() { return g_threads > 0 ? g_threads : all_cores(); }

}  // namespace iis::core
