// libFuzzer's entry points for one target, chosen at compile time: IIS_FUZZ_TARGET names its
// function in fuzz/targets.hpp.
#include "fuzz/targets.hpp"
#include "iis/core/threads.hpp"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  iis::core::set_threads(1);  // one fuzzing process uses one core
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  IIS_FUZZ_TARGET(data, size);
  return 0;
}
