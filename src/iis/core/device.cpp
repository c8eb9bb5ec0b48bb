// The one parser of device names (--device, the config's `device:`).
#include "iis/core/device.hpp"

#include "iis/core/error.hpp"

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

torch::Device check_device(const std::string& text, const std::string& flag) {
  const std::optional<torch::Device> device = parse_device(text);
  IIS_CHECK_HINT(device.has_value(), flag << " must be cpu, cuda or cuda:N, got '" << text << "'",
                 "e.g. " << flag << " cuda:0");
  if (device->is_cpu()) return *device;
  IIS_CHECK_HINT(
      torch::cuda::is_available(), flag << " " << text << ": CUDA is not available here",
      "use " << flag << " cpu, or run on a machine with a GPU and a CUDA build of LibTorch");
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  IIS_CHECK_HINT(!device->has_index() || device->index() < count,
                 flag << " " << text << ": only " << count << " GPU(s) visible here",
                 "use an index below " << count << " (CUDA_VISIBLE_DEVICES renumbers them)");
  return *device;
}

}  // namespace iis::core
