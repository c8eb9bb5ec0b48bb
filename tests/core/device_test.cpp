// The one device parser: what it accepts, and check_device's verdict on this machine.
#include "iis/core/device.hpp"

#include "test_support.hpp"

namespace iis::core {
namespace {

TEST(Device, ParsesCpuCudaAndCudaN) {
  EXPECT_EQ(parse_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_EQ(parse_device("cuda"), torch::Device(torch::kCUDA));
  EXPECT_EQ(parse_device("cuda:1"), torch::Device(torch::kCUDA, 1));
  for (const char* bad :
       {"", "gpu", "CPU", "cuda:", "cuda:x", "cuda:-1", "cpu:0", "mps", "cuda:1 ", " cuda"}) {
    EXPECT_FALSE(parse_device(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(Device, CheckNamesTheFlagAndAcceptsTheCpu) {
  EXPECT_EQ(check_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_IIS_ERROR(check_device("cuda:x", "device"), "device must be cpu, cuda or cuda:N");
  if (!torch::cuda::is_available()) {
    EXPECT_IIS_ERROR(check_device("cuda:1"), "--device cuda:1: CUDA is not available here");
  }
}

}  // namespace
}  // namespace iis::core
