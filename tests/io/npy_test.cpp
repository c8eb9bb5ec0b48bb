// Tests .npy reading and writing: every dtype, header versions, and every malformed file.
#include "iis/io/npy.hpp"

#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "iis/core/files.hpp"
#include "test_support.hpp"

namespace iis::io {
namespace {

// Writes a .npy file by hand, as NumPy lays it out, with the given header dict and data.
void write_raw_npy(const std::string& path, const std::string& dict, const std::string& data,
                   int version = 1) {
  std::string header = dict;
  size_t prefix = version == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(version));
  out.push_back('\0');
  uint32_t len = static_cast<uint32_t>(header.size());
  for (size_t i = 0; i < (version == 1 ? 2u : 4u); ++i)
    out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += header;
  out += data;
  core::write_text_atomic(path, out);
}

TEST(Npy, RoundTripsEveryDType) {
  test::TempDir dir;
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kFloat16, torch::kInt64,
                     torch::kInt32, torch::kUInt8}) {
    auto t = (torch::arange(12, torch::kFloat64) * 3 - 5).abs().reshape({3, 4}).to(dtype);
    std::string path = dir / "a.npy";
    save_npy(path, t);
    auto back = load_npy(path);
    EXPECT_EQ(back.scalar_type(), dtype);
    EXPECT_EQ(back.sizes(), t.sizes());
    EXPECT_TRUE(torch::equal(back, t)) << c10::toString(dtype);
  }
}

// Empty arrays (no rows) round-trip; their storage has no data pointer to write from (an
// fwrite from a null pointer is undefined behaviour, reported by UBSan).
TEST(Npy, RoundTripsEmptyArrays) {
  test::TempDir dir;
  for (const auto& t : {torch::zeros({0, 4}), torch::zeros({0}, torch::kInt64)}) {
    save_npy(dir / "e.npy", t);
    const auto back = load_npy(dir / "e.npy");
    EXPECT_EQ(back.sizes(), t.sizes());
    EXPECT_EQ(back.scalar_type(), t.scalar_type());
  }
}

TEST(Npy, HeaderIsAlignedTo64Bytes) {
  test::TempDir dir;
  save_npy(dir / "a.npy", torch::zeros({5}, torch::kInt64));
  auto h = read_npy_header(dir / "a.npy");
  EXPECT_EQ(h.data_offset % 64, 0u);
  EXPECT_EQ(h.shape, std::vector<int64_t>({5}));
  EXPECT_EQ(h.descr, "<i8");
}

TEST(Npy, ReadsAFileLaidOutAsNumPyWritesIt) {
  test::TempDir dir;
  float values[6] = {1.5f, -2, 3, 4, 5, 6.25f};
  std::string data(reinterpret_cast<char*>(values), sizeof(values));
  write_raw_npy(dir / "v1.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                data);
  write_raw_npy(dir / "v2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data,
                2);
  for (auto name : {"v1.npy", "v2.npy"}) {
    auto t = load_npy(dir / name);
    ASSERT_EQ(t.sizes(), torch::IntArrayRef({2, 3}));
    EXPECT_FLOAT_EQ(t[0][0].item<float>(), 1.5f);
    EXPECT_FLOAT_EQ(t[1][2].item<float>(), 6.25f);
  }
}

TEST(Npy, ByteSwapsBigEndian) {
  test::TempDir dir;
  std::string data = {0, 0, 0, 0, 0, 0, 1, 2};  // big-endian int64 258
  write_raw_npy(dir / "be.npy", "{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }", data);
  EXPECT_EQ(load_npy(dir / "be.npy")[0].item<int64_t>(), 258);
}

TEST(Npy, TruncatedFileIsAnErrorNamingTheFile) {
  test::TempDir dir;
  std::string path = dir / "short.npy";
  write_raw_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 3), }",
                std::string(20, '\0'));
  EXPECT_IIS_ERROR(load_npy(path), "short.npy: file is truncated");
  core::write_text_atomic(dir / "tiny.npy", "\x93NUM");
  EXPECT_IIS_ERROR(load_npy(dir / "tiny.npy"), "tiny.npy: not a .npy file");
}

TEST(Npy, FortranOrderIsRejected) {
  test::TempDir dir;
  write_raw_npy(dir / "f.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                std::string(16, '\0'));
  EXPECT_IIS_ERROR(load_npy(dir / "f.npy"), "Fortran order");
}

TEST(Npy, UnknownDTypeIsRejected) {
  test::TempDir dir;
  write_raw_npy(dir / "c.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }",
                std::string(16, '\0'));
  EXPECT_IIS_ERROR(load_npy(dir / "c.npy"), "unsupported dtype '<c8'");
  write_raw_npy(dir / "s.npy", "{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }",
                std::string(24, '\0'));
  EXPECT_IIS_ERROR(load_npy(dir / "s.npy"), "unsupported dtype '<U3'");
}

TEST(Npy, WrongRankIsRejected) {
  test::TempDir dir;
  save_npy(dir / "x.npy", torch::zeros({2, 3, 4}));
  EXPECT_IIS_ERROR(load_npy(dir / "x.npy", 2, "train features"), "expected a 2-D array, found 3-D");
}

// A shape that no file could hold, or that is not a tuple of non-negative integers, is one
// "FILE: bad shape" error from the header, before anything is allocated.
TEST(Npy, BadShapesAreOneErrorNamingTheFile) {
  test::TempDir dir;
  const std::string data(64, '\0');
  for (const char* shape : {
           "(4611686018427387904, 4)",     // 2^62 x 4: the element count overflows int64
           "(12345678901234567890123,)",   // 23 digits: no int64 holds it
           "(-10, 64)",                    // a negative dimension
           "(2305843009213693952,)",       // 2^61 float64: the byte count overflows
           "(4294967296, 4294967296, 2)",  // 2^65 elements
           "(2, 'a')",
           "(2 3)",
           "(,)",
           "(2,,)",
           "([2],)",
       }) {
    const std::string path = dir / "bad.npy";
    write_raw_npy(path,
                  std::string("{'descr': '<f8', 'fortran_order': False, 'shape': ") + shape + ", }",
                  data);
    for (auto load : {+[](const std::string& p) { load_npy(p); },
                      +[](const std::string& p) { load_features(p, "features"); },
                      +[](const std::string& p) { load_labels(p, "labels"); }}) {
      SCOPED_TRACE(shape);
      EXPECT_IIS_ERROR(load(path), "bad.npy: bad shape " + std::string(shape));
    }
  }
}

// Shapes NumPy writes stay readable: a scalar, a trailing comma, no spaces, Python 2's longs.
TEST(Npy, ReadsEveryShapeSpellingNumPyWrites) {
  test::TempDir dir;
  const std::string data(6 * 8, '\0');
  const std::pair<const char*, std::vector<int64_t>> cases[] = {
      {"()", {}},           {"(6,)", {6}},       {"(2,3)", {2, 3}}, {"( 2 , 3 , )", {2, 3}},
      {"(2L, 3L)", {2, 3}}, {"(0, 64)", {0, 64}}};
  for (const auto& [shape, dims] : cases) {
    write_raw_npy(dir / "s.npy",
                  std::string("{'descr': '<f8', 'fortran_order': False, 'shape': ") + shape + "}",
                  data);
    EXPECT_EQ(read_npy_header(dir / "s.npy").shape, dims) << shape;
  }
}

// A shape whose bytes fit in int64 but not in the file is "truncated", before allocating.
TEST(Npy, HugeShapeInASmallFileIsTruncatedNotAnAllocation) {
  test::TempDir dir;
  write_raw_npy(dir / "h.npy",
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1024), }",
                std::string(64, '\0'));
  EXPECT_IIS_ERROR(load_npy(dir / "h.npy"), "h.npy: file is truncated");
  EXPECT_IIS_ERROR(load_features(dir / "h.npy", "features"), "h.npy: file is truncated");
}

// Long header values (the header may be 16 MiB) are an error, not a stack overflow: a
// regex-based reader recursed once per character.
TEST(Npy, LongHeaderValuesAreErrorsNotCrashes) {
  test::TempDir dir;
  const std::string long_descr(1 << 20, '<');
  write_raw_npy(dir / "d.npy",
                "{'descr': '" + long_descr + "', 'fortran_order': False, 'shape': (2,), }", "", 2);
  EXPECT_IIS_ERROR(load_npy(dir / "d.npy"), "d.npy: unsupported dtype");
  std::string many_dims;
  for (int i = 0; i < 300000; ++i) many_dims += "1, ";
  write_raw_npy(dir / "s.npy",
                "{'descr': '<f4', 'fortran_order': False, 'shape': (" + many_dims + "), }",
                std::string(4, '\0'), 2);
  EXPECT_IIS_ERROR(load_npy(dir / "s.npy"), "s.npy: bad shape (1, 1, 1,");
  EXPECT_IIS_ERROR(load_npy(dir / "s.npy"), "more than 64 dimensions");
  write_raw_npy(dir / "q.npy", "{'descr': '" + long_descr, "", 2);
  EXPECT_IIS_ERROR(load_npy(dir / "q.npy"), "q.npy: .npy header has no 'descr'");
}

TEST(Npy, MissingFileIsNamed) { EXPECT_IIS_ERROR(load_npy("/no/such.npy"), "/no/such.npy"); }

TEST(Npy, AFolderIsNamedAsAFolder) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "adir.npy");
  EXPECT_IIS_ERROR(load_npy(dir / "adir.npy"), dir / "adir.npy" + ": is a folder, not a .npy file");
}

TEST(Features, RejectsNaNAndNamesTheRow) {
  test::TempDir dir;
  auto x = torch::randn({5, 3});
  x[3][1] = std::numeric_limits<float>::infinity();
  save_npy(dir / "x.npy", x);
  EXPECT_IIS_ERROR(load_features(dir / "x.npy", "train features"), "row 3 holds NaN or Inf");
}

TEST(Features, ConvertsFloat16AndFloat64ToFloat32) {
  test::TempDir dir;
  save_npy(dir / "h.npy", torch::ones({2, 2}, torch::kFloat16));
  EXPECT_EQ(load_features(dir / "h.npy", "f").scalar_type(), torch::kFloat32);
}

TEST(Features, NamesTheFirstBadRowOfMany) {
  test::TempDir dir;
  auto x = torch::randn({20000, 3});
  x[15000][0] = NAN;
  x[9000][2] = -std::numeric_limits<float>::infinity();
  save_npy(dir / "x.npy", x);
  EXPECT_IIS_ERROR(load_features(dir / "x.npy", "train features"), "row 9000 holds NaN or Inf");
}

TEST(Features, ConvertsChunkByChunkExactly) {
  test::TempDir dir;
  // 24 MB of float64: more than one 16 MiB conversion buffer, and a part-filled last one.
  auto x = torch::randn({1000001, 3}, torch::kFloat64);
  save_npy(dir / "d.npy", x);
  auto t = load_features(dir / "d.npy", "f");
  ASSERT_EQ(t.sizes(), x.sizes());
  EXPECT_TRUE(torch::equal(t, x.to(torch::kFloat32)));
  // Big-endian float64, converted after the byte swap.
  std::string be = {0x40, 0x09, 0x21, (char)0xfb, 0x54, 0x44, 0x2d, 0x18};  // 3.141592653589793
  write_raw_npy(dir / "be.npy", "{'descr': '>f8', 'fortran_order': False, 'shape': (1, 1), }", be);
  EXPECT_FLOAT_EQ(load_features(dir / "be.npy", "f")[0][0].item<float>(), 3.14159265f);
}

TEST(Labels, RejectsNegativeAndFractional) {
  test::TempDir dir;
  save_npy(dir / "n.npy", torch::tensor({0, 1, -1}, torch::kInt64));
  EXPECT_IIS_ERROR(load_labels(dir / "n.npy", "labels"), "label 2 is negative");
  save_npy(dir / "f.npy", torch::tensor({0.0, 1.5}, torch::kFloat64));
  EXPECT_IIS_ERROR(load_labels(dir / "f.npy", "labels"), "label 1 is not an integer");
  save_npy(dir / "ok.npy", torch::tensor({0.0, 2.0}, torch::kFloat32));
  EXPECT_EQ(load_labels(dir / "ok.npy", "labels")[1].item<int64_t>(), 2);
  save_npy(dir / "u.npy", torch::tensor({3, 4}, torch::kUInt8));
  EXPECT_EQ(load_labels(dir / "u.npy", "labels").scalar_type(), torch::kInt64);
}

TEST(Arrays, Float32InCOrderIsUsedWhereItLies) {
  auto x = torch::randn({6, 4});
  auto t = features_from_array(x, "train_x", "--train-features");
  EXPECT_EQ(t.data_ptr(), x.data_ptr());
  // Strided or float16: one conversion into a new contiguous float32 tensor, same values.
  auto strided = torch::randn({6, 8}).slice(/*dim=*/1, 0, 8, 2);
  auto s = features_from_array(strided, "train_x", "--train-features");
  EXPECT_TRUE(s.is_contiguous());
  EXPECT_TRUE(torch::equal(s, strided));
  auto half = x.to(torch::kFloat16);
  auto h = features_from_array(half, "train_x", "--train-features");
  EXPECT_EQ(h.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(h, half.to(torch::kFloat32)));
}

TEST(Arrays, RefusedAsTheFileWithTheSameWords) {
  test::TempDir dir;
  auto check = [&](const torch::Tensor& bad, bool labels) {
    save_npy(dir / "x", bad);  // named as the array, so that both messages read the same
    const std::string path = dir / "x";
    const std::string from_file = test::error_of([&] {
      labels ? load_labels(path, "--train-labels") : load_features(path, "--train-features");
    });
    const std::string from_array = test::error_of([&] {
      labels ? labels_from_array(bad, path, "--train-labels")
             : features_from_array(bad, path, "--train-features");
    });
    EXPECT_FALSE(from_file.empty());
    EXPECT_EQ(from_array, from_file);
  };
  auto nan = torch::randn({5, 3});
  nan[2][1] = NAN;
  check(nan, false);
  check(torch::randn({5}), false);                   // rank
  check(torch::ones({4, 2}, torch::kInt32), false);  // not floats
  check(torch::zeros({0, 3}), false);                // empty
  check(torch::tensor({1, -2, 3}), true);            // negative
  check(torch::tensor({1.0, 2.5}), true);            // not whole
  check(torch::tensor({true, false}), true);         // booleans
  check(torch::ones({2, 2}, torch::kInt64), true);   // rank
}

TEST(Arrays, LabelsAsContiguousInt64) {
  auto y = torch::tensor({3, 1, 4, 1, 5, 9}, torch::kInt32).slice(0, 0, 6, 2);
  auto t = labels_from_array(y, "y", "--train-labels");
  EXPECT_EQ(t.scalar_type(), torch::kInt64);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(torch::equal(t, torch::tensor({3, 4, 5}, torch::kInt64)));
}

}  // namespace
}  // namespace iis::io
