// Writes a .npy file row block by row block, so N×D features never sit in memory whole.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace iis::embed::detail {

// Appends rows (CPU tensors of shape B×row_shape and the writer's dtype) to a temporary file
// beside `path`; commit() writes the final shape into the header and renames the file to
// `path`. Without commit() the temporary is removed and `path` is untouched.
class NpyRowWriter {
 public:
  // dtype: float32, float16 or int64.
  NpyRowWriter(std::string path, torch::ScalarType dtype, std::vector<int64_t> row_shape);
  ~NpyRowWriter();
  NpyRowWriter(const NpyRowWriter&) = delete;
  NpyRowWriter& operator=(const NpyRowWriter&) = delete;

  void append(const torch::Tensor& rows);
  int64_t rows() const { return rows_; }
  void commit();

 private:
  void write_header();
  std::string path_, tmp_;
  torch::ScalarType dtype_;
  std::vector<int64_t> row_shape_;
  int64_t rows_ = 0;
  std::FILE* file_ = nullptr;
};

}  // namespace iis::embed::detail
