// NumPy .npy files <-> CPU tensors, with no per-row objects and no copy beyond the tensor.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace iis::io {

// The header of a .npy file (format versions 1.0, 2.0, 3.0).
struct NpyHeader {
  std::string descr;        // e.g. "<f4"
  torch::ScalarType dtype;  // float32, float64, float16, int64, int32, int16, int8, uint8, bool
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<int64_t> shape;  // () for a scalar
  size_t data_offset = 0;      // bytes from the file's start to the data
  int64_t numel() const;
};

// Reads and validates the header. Throws iis::Error naming the file for a bad magic string,
// an unknown dtype, Fortran order, or a bad shape (not a tuple of non-negative integers, or a
// size in bytes beyond int64); the loaders below also refuse a file shorter than its shape.
NpyHeader read_npy_header(const std::string& path);

// Loads a C-order .npy file into a CPU tensor of the file's dtype and shape. The data is read
// straight into the tensor's storage: peak memory is the file's size plus a few KiB.
// Big-endian files are byte-swapped in place.
torch::Tensor load_npy(const std::string& path);

// As load_npy, and checks the rank (e.g. 2 for N×D features). `what` names the array in
// errors ("train features").
torch::Tensor load_npy(const std::string& path, int64_t rank, const std::string& what);

// Writes a tensor (any device; made contiguous on CPU) as a version 1.0 .npy file,
// atomically (temporary name, then rename).
void save_npy(const std::string& path, const torch::Tensor& tensor);

// Features: a 2-D N×D float array of any float dtype, returned as float32 (N×D). Rejects
// NaN and Inf (naming the first bad row) and empty arrays. Other float dtypes are converted
// while reading, 16 MiB at a time: the peak is the float32 result plus that buffer (float32
// files: the file's size; float64: half of it). The finiteness check allocates nothing.
torch::Tensor load_features(const std::string& path, const std::string& what);

// Labels: a 1-D array of integers (any integer dtype, or floats holding whole numbers),
// returned as int64 (N). Rejects negative and non-integer values.
torch::Tensor load_labels(const std::string& path, const std::string& what);

// Features handed over in memory (the Python module's arrays): a 2-D tensor of any float dtype and
// any strides, checked as load_features checks a file, with `name` where the path would stand.
// A contiguous float32 CPU tensor is returned as is, sharing its memory (no copy); any other is
// converted once into a contiguous float32 one.
torch::Tensor features_from_array(const torch::Tensor& array, const std::string& name,
                                  const std::string& what);

// Labels handed over in memory: a 1-D tensor checked as load_labels checks a file, as int64 (N).
torch::Tensor labels_from_array(const torch::Tensor& array, const std::string& name,
                                const std::string& what);

}  // namespace iis::io
