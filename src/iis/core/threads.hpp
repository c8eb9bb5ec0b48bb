// The number of CPU threads LibTorch and OpenCV use (Debian's LibTorch starts with one).
#pragma once

namespace iis::core {

// Sets the intra-op thread count of LibTorch and OpenCV. n <= 0 means all cores.
// Returns the count in effect.
int set_threads(int n);

// The thread count last set (all cores before any call).
int threads();

}  // namespace iis::core
