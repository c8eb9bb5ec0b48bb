// Fuzz target: the bytes as a .npy file, read by load_npy, load_features and load_labels
// (the loaders take paths, as the tool does, so the bytes go to a scratch file first); what
// load_npy accepts must survive save_npy and load_npy unchanged.
#include <torch/torch.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "fuzz/targets.hpp"
#include "iis/io/npy.hpp"

namespace iis::fuzz {
namespace {

// Two files in the temp folder private to this process, removed at exit.
struct ScratchFiles {
  std::string input, copy;
  ScratchFiles() {
    const auto base =
        std::filesystem::temp_directory_path() / ("iis_fuzz_npy_" + std::to_string(::getpid()));
    input = base.string() + ".npy";
    copy = base.string() + "_copy.npy";
  }
  ~ScratchFiles() {
    std::error_code ec;
    std::filesystem::remove(input, ec);
    std::filesystem::remove(copy, ec);
  }
};

void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) throw std::runtime_error("cannot write the scratch file " + path);
}

// Same dtype, shape and bytes (bytes, not values: NaN must equal NaN).
bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  if (a.numel() == 0) return true;  // empty storage may have no data pointer
  const auto ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

}  // namespace

void npy_input(const uint8_t* data, size_t size) {
  static const ScratchFiles files;
  write_bytes(files.input, data, size);
  allowing_user_errors([&] {
    const torch::Tensor t = io::load_npy(files.input);
    io::save_npy(files.copy, t);
    if (!same_bytes(io::load_npy(files.copy), t))
      throw std::logic_error("save_npy then load_npy changed the array");
  });
  allowing_user_errors([&] { io::load_features(files.input, "features"); });
  allowing_user_errors([&] { io::load_labels(files.input, "labels"); });
}

}  // namespace iis::fuzz
