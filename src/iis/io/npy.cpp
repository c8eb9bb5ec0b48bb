// .npy reading and writing.
#include "iis/io/npy.hpp"

#include <torch/torch.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/parallel.hpp"

namespace iis::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMaxDims = 64;  // NumPy's own limit
constexpr char kHint[] = "save it with numpy.save(path, numpy.ascontiguousarray(array))";

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_or_throw(const std::string& path, const char* mode) {
  std::error_code ec;
  IIS_CHECK_HINT(!std::filesystem::is_directory(path, ec), path << ": is a folder, not a .npy file",
                 "give the path of a .npy file");
  File f(std::fopen(path.c_str(), mode));
  IIS_CHECK_HINT(f != nullptr, "cannot open " << path << ": " << std::strerror(errno),
                 "check the path");
  return f;
}

struct DTypeInfo {
  char kind;
  int size;
  torch::ScalarType type;
};

const DTypeInfo kDTypes[] = {
    {'f', 4, torch::kFloat32}, {'f', 8, torch::kFloat64}, {'f', 2, torch::kFloat16},
    {'i', 8, torch::kInt64},   {'i', 4, torch::kInt32},   {'i', 2, torch::kInt16},
    {'i', 1, torch::kInt8},    {'u', 1, torch::kUInt8},   {'b', 1, torch::kBool},
};

std::string descr_of(torch::ScalarType t) {
  for (const auto& d : kDTypes) {
    if (d.type == t) {
      return std::string(d.size == 1 ? "|" : "<") + d.kind + std::to_string(d.size);
    }
  }
  IIS_FAIL("cannot save a tensor of dtype " << c10::toString(t) << " as .npy",
           "convert it to float32, float64, float16, int64, int32, int16, int8, uint8 or bool");
}

// The literal starting at header[i]: a quoted string (quotes kept), True, False or a tuple
// "(...)"; "" if none starts there.
std::string literal_at(const std::string& header, size_t i) {
  if (i >= header.size()) return "";
  const char c = header[i];
  size_t end = std::string::npos;
  if (c == '\'' || c == '"') {
    end = header.find(c, i + 1);
  } else if (c == '(') {
    end = header.find(')', i);
  } else {
    for (const char* word : {"True", "False"}) {
      if (header.compare(i, std::strlen(word), word) == 0) return word;
    }
  }
  return end == std::string::npos ? "" : header.substr(i, end - i + 1);
}

// The value of 'key' in the header dict text, as a literal (see literal_at). A linear scan:
// std::regex recursed once per character and overflowed the stack on long headers.
std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
  for (const char quote : {'\'', '"'}) {
    const std::string name = quote + key + quote;
    for (size_t at = header.find(name); at != std::string::npos; at = header.find(name, at + 1)) {
      size_t i = at + name.size();
      while (i < header.size() && std::isspace(static_cast<unsigned char>(header[i]))) ++i;
      if (i >= header.size() || header[i] != ':') continue;
      ++i;
      while (i < header.size() && std::isspace(static_cast<unsigned char>(header[i]))) ++i;
      std::string value = literal_at(header, i);
      if (!value.empty()) return value;
    }
  }
  IIS_FAIL("reading " << path << ": .npy header has no '" << key << "'", kHint);
}

// The dimensions of a shape tuple as NumPy writes it: "()", "(6,)", "(2, 3)" (Python 2 wrote
// "(2L, 3L)"); `tuple` starts with '(' and ends with its only ')'. Anything else, a negative
// dimension, or a size in bytes (with `width`-byte elements) beyond int64 is a "bad shape":
// the file-size check and the allocation rely on that product.
std::vector<int64_t> parse_shape(const std::string& tuple, int64_t width, const std::string& path) {
  auto fail = [&](const char* why) {
    const std::string shown = tuple.size() <= 80 ? tuple : tuple.substr(0, 77) + "...";
    IIS_FAIL("reading " << path << ": bad shape " << shown << " (" << why << ")", kHint);
  };
  auto digit = [&](size_t at) { return std::isdigit(static_cast<unsigned char>(tuple[at])) != 0; };
  std::vector<int64_t> dims;
  int64_t bytes = width;
  size_t i = 1;
  auto skip_spaces = [&] {
    while (std::isspace(static_cast<unsigned char>(tuple[i]))) ++i;
  };
  for (skip_spaces(); tuple[i] != ')'; skip_spaces()) {
    if (tuple[i] == '-') fail("a dimension is negative");
    if (!digit(i)) fail("not a tuple of integers");
    int64_t d = 0;
    for (; digit(i); ++i) {
      if (__builtin_mul_overflow(d, 10, &d) || __builtin_add_overflow(d, tuple[i] - '0', &d))
        fail("a dimension is beyond 2^63");
    }
    if (__builtin_mul_overflow(bytes, d, &bytes)) fail("its size in bytes is beyond 2^63");
    if (dims.size() == kMaxDims) fail("more than 64 dimensions");
    dims.push_back(d);
    if (tuple[i] == 'L') ++i;
    skip_spaces();
    if (tuple[i] == ',') {
      ++i;
    } else if (tuple[i] != ')') {
      fail("not a tuple of integers");
    }
  }
  return dims;
}

void byteswap_inplace(torch::Tensor& t) {
  auto n = static_cast<size_t>(t.numel());
  size_t width = t.element_size();
  auto* p = static_cast<unsigned char*>(t.data_ptr());
  for (size_t i = 0; i < n; ++i) std::reverse(p + i * width, p + (i + 1) * width);
}

}  // namespace

int64_t NpyHeader::numel() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

NpyHeader read_npy_header(const std::string& path) {
  File f = open_or_throw(path, "rb");
  char magic[8];
  size_t got = std::fread(magic, 1, 8, f.get());
  IIS_CHECK_HINT(got == 8 && std::memcmp(magic, kMagic, 6) == 0,
                 "reading " << path << ": not a .npy file (bad magic string)", kHint);
  int major = static_cast<unsigned char>(magic[6]);
  IIS_CHECK_HINT(major >= 1 && major <= 3,
                 "reading " << path << ": unsupported .npy format version " << major, kHint);
  uint32_t header_len = 0;
  unsigned char len_bytes[4] = {0, 0, 0, 0};
  int len_size = major == 1 ? 2 : 4;
  IIS_CHECK_HINT(std::fread(len_bytes, 1, len_size, f.get()) == static_cast<size_t>(len_size),
                 "reading " << path << ": truncated .npy header", kHint);
  for (int i = len_size - 1; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  IIS_CHECK_HINT(header_len < (1u << 24), "reading " << path << ": implausible .npy header length",
                 kHint);
  std::string header(header_len, '\0');
  IIS_CHECK_HINT(std::fread(header.data(), 1, header_len, f.get()) == header_len,
                 "reading " << path << ": truncated .npy header", kHint);

  NpyHeader h;
  h.data_offset = 8 + len_size + header_len;
  std::string descr = dict_value(header, "descr", path);
  h.descr = descr.substr(1, descr.size() - 2);
  IIS_CHECK_HINT(h.descr.size() >= 3, "reading " << path << ": unknown dtype '" << h.descr << "'",
                 kHint);
  char order = h.descr[0];
  char kind = h.descr[1];
  int size = std::atoi(h.descr.c_str() + 2);
  IIS_CHECK_HINT(order == '<' || order == '>' || order == '|' || order == '=',
                 "reading " << path << ": unknown dtype '" << h.descr << "'", kHint);
  h.big_endian = order == '>' && size > 1;
  bool known = false;
  for (const auto& d : kDTypes) {
    if (d.kind == kind && d.size == size && h.descr.size() == 2 + std::to_string(size).size()) {
      h.dtype = d.type;
      known = true;
    }
  }
  IIS_CHECK_HINT(known, "reading " << path << ": unsupported dtype '" << h.descr << "'",
                 "use float32, float64, float16, int64, int32, int16, int8, uint8 or bool");
  h.fortran_order = dict_value(header, "fortran_order", path) == "True";
  IIS_CHECK_HINT(!h.fortran_order, "reading " << path << ": array is in Fortran order", kHint);
  h.shape = parse_shape(dict_value(header, "shape", path), size, path);
  return h;
}

namespace {

// Reads the data of `h` into a new tensor of `dtype`: straight into its storage when the
// file holds that dtype, else through a 16 MiB buffer converted chunk by chunk (so the peak
// is the result plus the buffer, never the file's array plus the result).
torch::Tensor read_data(const std::string& path, const NpyHeader& h, torch::ScalarType dtype) {
  std::error_code ec;
  uint64_t file_size = std::filesystem::file_size(path, ec);
  IIS_CHECK(!ec, "cannot stat " << path << ": " << ec.message());
  const uint64_t width = c10::elementSize(h.dtype);
  const uint64_t bytes = static_cast<uint64_t>(h.numel()) * width;
  IIS_CHECK_HINT(file_size >= h.data_offset + bytes,
                 "reading " << path << ": file is truncated (" << file_size - h.data_offset
                            << " data bytes, shape needs " << bytes << ")",
                 "the file was cut short; write it again");
  auto tensor = torch::empty(h.shape, torch::TensorOptions().dtype(dtype));
  File f = open_or_throw(path, "rb");
  IIS_CHECK(std::fseek(f.get(), static_cast<long>(h.data_offset), SEEK_SET) == 0,
            "reading " << path << ": seek failed");
  auto read = [&](char* dst, uint64_t n) {
    IIS_CHECK(std::fread(dst, 1, n, f.get()) == n, "reading " << path << ": short read");
  };
  if (dtype == h.dtype) {
    auto* dst = static_cast<char*>(tensor.data_ptr());
    constexpr uint64_t kChunk = 64ULL << 20;
    for (uint64_t done = 0; done < bytes; done += kChunk)
      read(dst + done, std::min(kChunk, bytes - done));
    if (h.big_endian) byteswap_inplace(tensor);
    return tensor;
  }
  const int64_t per_chunk = std::max<int64_t>(1, (16LL << 20) / static_cast<int64_t>(width));
  auto buffer = torch::empty({per_chunk}, torch::TensorOptions().dtype(h.dtype));
  auto flat = tensor.view({-1});
  for (int64_t start = 0; start < flat.numel(); start += per_chunk) {
    const int64_t len = std::min(per_chunk, flat.numel() - start);
    auto part = buffer.narrow(0, 0, len);
    read(static_cast<char*>(part.data_ptr()), static_cast<uint64_t>(len) * width);
    if (h.big_endian) byteswap_inplace(part);
    flat.narrow(0, start, len).copy_(part);
  }
  return tensor;
}

void check_rank(const std::string& path, c10::IntArrayRef shape, int64_t rank,
                const std::string& what) {
  IIS_CHECK_HINT(static_cast<int64_t>(shape.size()) == rank,
                 "reading " << what << " " << path << ": expected a " << rank << "-D array, found "
                            << shape.size() << "-D with shape " << shape,
                 (rank == 2 ? "features are N×D: reshape to (N, -1)"
                            : "labels are a 1-D array of N class indices"));
}

void check_rank(const std::string& path, const NpyHeader& h, int64_t rank,
                const std::string& what) {
  check_rank(path, c10::IntArrayRef(h.shape), rank, what);
}

// The checks features pass before their values are read: float, not empty.
void check_feature_header(const std::string& path, torch::ScalarType dtype, c10::IntArrayRef shape,
                          const std::string& what) {
  IIS_CHECK_HINT(torch::isFloatingType(dtype),
                 "reading " << what << " " << path << ": expected float features, found "
                            << c10::toString(dtype),
                 "save features as float32");
  IIS_CHECK_HINT(shape[0] > 0 && shape[1] > 0,
                 "reading " << what << " " << path << ": empty array of shape " << shape,
                 "the split has no rows; check the file");
}

// Index of the first row of the contiguous float32 N×D `t` holding NaN or Inf, or -1. No
// allocation: a parallel scan of the data.
int64_t first_nonfinite_row(const torch::Tensor& t) {
  const int64_t n = t.size(0), d = t.size(1);
  const float* p = t.data_ptr<float>();
  std::atomic<int64_t> first{n};
  core::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end && r < first.load(std::memory_order_relaxed); ++r) {
      const float* row = p + r * d;
      bool ok = true;
      for (int64_t j = 0; j < d; ++j) ok &= std::isfinite(row[j]);
      if (!ok) {
        int64_t cur = first.load();
        while (r < cur && !first.compare_exchange_weak(cur, r)) {
        }
        return;
      }
    }
  });
  return first.load() == n ? -1 : first.load();
}

}  // namespace

torch::Tensor load_npy(const std::string& path) {
  NpyHeader h = read_npy_header(path);
  return read_data(path, h, h.dtype);
}

torch::Tensor load_npy(const std::string& path, int64_t rank, const std::string& what) {
  NpyHeader h = read_npy_header(path);
  check_rank(path, h, rank, what);
  return read_data(path, h, h.dtype);
}

void save_npy(const std::string& path, const torch::Tensor& tensor) {
  torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
  std::ostringstream dict;
  dict << "{'descr': '" << descr_of(t.scalar_type()) << "', 'fortran_order': False, 'shape': (";
  for (int64_t i = 0; i < t.dim(); ++i)
    dict << t.size(i) << (t.dim() == 1 || i + 1 < t.dim() ? ", " : "");
  dict << "), }";
  std::string header = dict.str();
  // Magic (6) + version (2) + length (2) + header + '\n', padded with spaces to 64 bytes.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  core::write_atomic(path, [&](const std::string& tmp) {
    File f = open_or_throw(tmp, "wb");
    std::string preamble(kMagic, 6);
    preamble.push_back('\x01');
    preamble.push_back('\x00');
    uint16_t len = static_cast<uint16_t>(header.size());
    preamble.push_back(static_cast<char>(len & 0xff));
    preamble.push_back(static_cast<char>(len >> 8));
    // An empty tensor may have no data pointer, and fwrite's must not be null.
    size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    bool ok = std::fwrite(preamble.data(), 1, preamble.size(), f.get()) == preamble.size() &&
              std::fwrite(header.data(), 1, header.size(), f.get()) == header.size() &&
              // An empty tensor's data pointer may be null, which fwrite must not get.
              (bytes == 0 || std::fwrite(t.data_ptr(), 1, bytes, f.get()) == bytes);
    ok = std::fflush(f.get()) == 0 && ok;
    IIS_CHECK_HINT(ok, "writing " << path << " failed", "check free disk space");
  });
}

namespace {

// Features' values: every one finite (naming the first bad row).
void check_feature_values(const std::string& path, const torch::Tensor& t,
                          const std::string& what) {
  const int64_t row = first_nonfinite_row(t);
  IIS_CHECK_HINT(row < 0,
                 "reading " << what << " " << path << ": row " << row << " holds NaN or Inf",
                 "the backbone produced non-finite values; check its input and precision");
}

// Labels' values: integers (whole floats allowed), not booleans, not negative; as int64.
torch::Tensor check_label_values(torch::Tensor t, const std::string& path,
                                 const std::string& what) {
  IIS_CHECK_HINT(t.numel() > 0, "reading " << what << " " << path << ": no labels",
                 "the split is empty; check the file");
  if (torch::isFloatingType(t.scalar_type())) {
    auto d = t.to(torch::kFloat64);
    auto bad = (~torch::isfinite(d)) | (d != d.round());
    if (bad.any().item<bool>()) {
      int64_t row = bad.nonzero()[0][0].item<int64_t>();
      IIS_FAIL("reading " << what << " " << path << ": label " << row << " is not an integer ("
                          << d[row].item<double>() << ")",
               "labels are class indices 0..C-1");
    }
  } else {
    IIS_CHECK_HINT(t.scalar_type() != torch::kBool,
                   "reading " << what << " " << path << ": labels are booleans",
                   "labels are class indices 0..C-1, saved as int64");
  }
  t = t.to(torch::kInt64);
  auto neg = t < 0;
  if (neg.any().item<bool>()) {
    int64_t row = neg.nonzero()[0][0].item<int64_t>();
    IIS_FAIL("reading " << what << " " << path << ": label " << row << " is negative ("
                        << t[row].item<int64_t>() << ")",
             "labels are class indices 0..C-1");
  }
  return t;
}

}  // namespace

torch::Tensor load_features(const std::string& path, const std::string& what) {
  NpyHeader h = read_npy_header(path);
  check_rank(path, h, 2, what);
  check_feature_header(path, h.dtype, h.shape, what);
  torch::Tensor t = read_data(path, h, torch::kFloat32);
  check_feature_values(path, t, what);
  return t;
}

torch::Tensor load_labels(const std::string& path, const std::string& what) {
  return check_label_values(load_npy(path, 1, what), path, what);
}

torch::Tensor features_from_array(const torch::Tensor& array, const std::string& name,
                                  const std::string& what) {
  check_rank(name, array.sizes(), 2, what);
  check_feature_header(name, array.scalar_type(), array.sizes(), what);
  torch::Tensor t = array.cpu();
  if (t.scalar_type() != torch::kFloat32 || !t.is_contiguous()) {
    // One pass into a new C-order float32 tensor. (Tensor::to with MemoryFormat::Contiguous
    // would keep a strided float32 tensor as it is.)
    t = torch::empty(t.sizes(), torch::kFloat32).copy_(t);
  }
  check_feature_values(name, t, what);
  return t;
}

torch::Tensor labels_from_array(const torch::Tensor& array, const std::string& name,
                                const std::string& what) {
  check_rank(name, array.sizes(), 1, what);
  return check_label_values(array.cpu(), name, what).contiguous();
}

}  // namespace iis::io
