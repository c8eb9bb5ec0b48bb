// Streaming .npy writer with a fixed-size header patched at the end.
#include "iis/embed/detail/npy_rows.hpp"

#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"

namespace iis::embed::detail {

namespace {
// Magic (6) + version (2) + length (2) + dictionary padded with spaces and '\n' = 128 bytes,
// room for any shape, so the header can be rewritten in place once the row count is known.
constexpr size_t kHeaderBytes = 128;

const char* descr(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32:
      return "<f4";
    case torch::kFloat16:
      return "<f2";
    case torch::kInt64:
      return "<i8";
    default:
      IIS_FAIL("internal: NpyRowWriter does not write " << dtype, "");
  }
}
}  // namespace

NpyRowWriter::NpyRowWriter(std::string path, torch::ScalarType dtype,
                           std::vector<int64_t> row_shape)
    : path_(std::move(path)), dtype_(dtype), row_shape_(std::move(row_shape)) {
  descr(dtype_);
  const std::filesystem::path target(path_);
  if (target.has_parent_path()) core::make_dirs(target.parent_path().string());
  tmp_ = path_ + ".tmp." + std::to_string(::getpid());
  file_ = std::fopen(tmp_.c_str(), "wb");
  IIS_CHECK_HINT(file_ != nullptr, "cannot write " << tmp_ << ": " << std::strerror(errno),
                 "check that the output folder is writable");
  write_header();
}

NpyRowWriter::~NpyRowWriter() {
  if (file_ != nullptr) {
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
}

void NpyRowWriter::write_header() {
  std::ostringstream dict;
  dict << "{'descr': '" << descr(dtype_) << "', 'fortran_order': False, 'shape': (" << rows_;
  for (int64_t d : row_shape_) dict << ", " << d;
  dict << (row_shape_.empty() ? ",), }" : "), }");
  std::string text = dict.str();
  IIS_ASSERT(text.size() + 11 <= kHeaderBytes, ".npy header too long: " << text);
  text.append(kHeaderBytes - 10 - 1 - text.size(), ' ');
  text.push_back('\n');
  const uint16_t len = static_cast<uint16_t>(text.size());
  const unsigned char prefix[10] = {0x93,
                                    'N',
                                    'U',
                                    'M',
                                    'P',
                                    'Y',
                                    1,
                                    0,
                                    static_cast<unsigned char>(len & 0xff),
                                    static_cast<unsigned char>(len >> 8)};
  std::fseek(file_, 0, SEEK_SET);
  const bool ok = std::fwrite(prefix, 1, 10, file_) == 10 &&
                  std::fwrite(text.data(), 1, text.size(), file_) == text.size();
  std::fseek(file_, 0, SEEK_END);
  IIS_CHECK_HINT(ok, "writing " << tmp_ << " failed", "check free disk space");
}

void NpyRowWriter::append(const torch::Tensor& rows) {
  IIS_ASSERT(file_ != nullptr, "append after commit to " << path_);
  IIS_ASSERT(
      rows.scalar_type() == dtype_ && rows.dim() == 1 + static_cast<int64_t>(row_shape_.size()),
      "rows of " << rows.scalar_type() << " " << rows.sizes() << " for " << path_);
  for (size_t d = 0; d < row_shape_.size(); ++d) {
    IIS_ASSERT(rows.size(static_cast<int64_t>(d) + 1) == row_shape_[d],
               "row shape " << rows.sizes() << " for " << path_);
  }
  const torch::Tensor c = rows.to(torch::kCPU).contiguous();
  const size_t bytes = c.numel() * c.element_size();
  IIS_CHECK_HINT(std::fwrite(c.data_ptr(), 1, bytes, file_) == bytes,
                 "writing " << tmp_ << " failed", "check free disk space");
  rows_ += c.size(0);
}

void NpyRowWriter::commit() {
  IIS_ASSERT(file_ != nullptr, "commit twice to " << path_);
  write_header();
  const bool ok = std::fflush(file_) == 0;
  std::fclose(file_);
  file_ = nullptr;
  if (!ok) {
    std::remove(tmp_.c_str());
    IIS_FAIL("writing " << path_ << " failed", "check free disk space");
  }
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) {
    std::remove(tmp_.c_str());
    IIS_FAIL("cannot write " << path_ << ": " << ec.message(), "check the folder is writable");
  }
}

}  // namespace iis::embed::detail
