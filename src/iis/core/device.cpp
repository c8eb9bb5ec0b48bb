// The one parser of device names (--device, the config's `device:`).
#include "iis/core/device.hpp"

#include "iis/core/error.hpp"
#include "iis/core/progress.hpp"

namespace iis::core {

std::optional<torch::Device> parse_device(const std::string& text) {
  std::optional<torch::Device> device;
  try {
    device = torch::Device(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (!(device->is_cpu() || device->is_cuda()) || (device->is_cpu() && device->has_index())) {
    return std::nullopt;
  }
  return device;
}

int64_t auto_cuda_index(const Environment& env, int64_t visible, std::string& source) {
  IIS_ASSERT(visible >= 1, "auto_cuda_index with " << visible << " GPUs");
  const LocalRank local = local_rank(env);
  source = "local rank " + std::to_string(local.rank) + " (" + local.source + ") modulo " +
           std::to_string(visible) + " visible GPU(s)";
  return local.rank % visible;
}

torch::Device check_device(const std::string& text, const std::string& flag) {
  const bool automatic = text == "cuda:auto";
  const std::optional<torch::Device> device =
      automatic ? std::optional<torch::Device>(torch::kCUDA) : parse_device(text);
  IIS_CHECK_HINT(device.has_value(), flag << " must be cpu, cuda or cuda:N, got '" << text << "'",
                 "e.g. " << flag << " cuda:0, or " << flag
                         << " cuda:auto for one GPU per process under mpirun, srun or torchrun");
  if (device->is_cpu()) return *device;
  IIS_CHECK_HINT(
      torch::cuda::is_available(), flag << " " << text << ": CUDA is not available here",
      "use " << flag << " cpu, or run on a machine with a GPU and a CUDA build of LibTorch");
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (automatic) {
    std::string source;
    const int64_t index = with_context_value(
        flag + " cuda:auto", [&] { return auto_cuda_index(process_environment(), count, source); });
    log_info(flag + " cuda:auto: cuda:" + std::to_string(index) + " from the " + source);
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  IIS_CHECK_HINT(!device->has_index() || device->index() < count,
                 flag << " " << text << ": only " << count << " GPU(s) visible here",
                 "use an index below " << count << " (CUDA_VISIBLE_DEVICES renumbers them)");
  return *device;
}

}  // namespace iis::core
