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

// cuda:auto: the node-local rank modulo the visible GPUs, from each launcher's variable.
TEST(Device, CudaAutoTakesTheLocalRankModuloTheVisibleGpus) {
  std::string source;
  EXPECT_EQ(auto_cuda_index({{"LOCAL_RANK", "5"}}, 4, source), 1);
  EXPECT_EQ(source, "local rank 5 (LOCAL_RANK=5) modulo 4 visible GPU(s)");
  EXPECT_EQ(auto_cuda_index({{"OMPI_COMM_WORLD_LOCAL_RANK", "2"}}, 8, source), 2);
  EXPECT_EQ(auto_cuda_index({{"MPI_LOCALRANKID", "3"}}, 2, source), 1);
  // Slurm binding one GPU to each task: every task sees its own as cuda:0.
  EXPECT_EQ(auto_cuda_index({{"SLURM_LOCALID", "3"}}, 1, source), 0);
  EXPECT_IIS_ERROR(auto_cuda_index({}, 2, source),
                   "cuda:auto needs the process's rank on its node");
  if (!torch::cuda::is_available()) {
    EXPECT_IIS_ERROR(check_device("cuda:auto"), "--device cuda:auto: CUDA is not available here");
  }
  EXPECT_FALSE(parse_device("cuda:auto").has_value()) << "only check_device resolves it";
}

}  // namespace
}  // namespace iis::core
