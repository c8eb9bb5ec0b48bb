// Tests of the IDX reader on small IDX files written by the test, plain and gzip, and of its
// checks on damaged files.
#include <zlib.h>

#include <fstream>

#include "iis/data/dataset.hpp"
#include "test_support.hpp"

namespace iis::data {
namespace {

using Bytes = std::vector<unsigned char>;

void put_u32(Bytes& b, uint32_t v) {
  for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<unsigned char>(v >> shift));
}

// n images of rows×cols whose pixel (r, c) of image i is (i·31 + r·7 + c) mod 256.
Bytes idx_images(uint32_t n, uint32_t rows, uint32_t cols) {
  Bytes b;
  put_u32(b, 0x803);
  put_u32(b, n);
  put_u32(b, rows);
  put_u32(b, cols);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t c = 0; c < cols; ++c)
        b.push_back(static_cast<unsigned char>(i * 31 + r * 7 + c));
  return b;
}

Bytes idx_labels(const std::vector<unsigned char>& labels) {
  Bytes b;
  put_u32(b, 0x801);
  put_u32(b, static_cast<uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

void write_plain(const std::string& path, const Bytes& b) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void write_gzip(const std::string& path, const Bytes& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, b.data(), static_cast<unsigned>(b.size())), static_cast<int>(b.size()));
  gzclose(f);
}

void check_dataset(const Dataset& d, const std::string& images_path) {
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d.label(0), 2);
  EXPECT_EQ(d.label(1), 0);
  EXPECT_EQ(d.label(2), 9);
  ASSERT_EQ(d.class_names().size(), 10u);
  EXPECT_EQ(d.source(1), images_path + "#1");
  EXPECT_EQ(d.stem(2), "t10k_2");
  for (int64_t i = 0; i < 3; ++i) {
    const cv::Mat m = d.image(i);
    ASSERT_EQ(m.type(), CV_8UC3);
    ASSERT_EQ(m.rows, 4);  // rows
    ASSERT_EQ(m.cols, 5);  // cols
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 5; ++c) {
        const auto v = static_cast<unsigned char>(i * 31 + r * 7 + c);
        EXPECT_EQ(m.at<cv::Vec3b>(r, c), cv::Vec3b(v, v, v)) << i << " " << r << " " << c;
      }
  }
}

TEST(Idx, ReadsPlainFiles) {
  test::TempDir dir;
  const std::string images = dir / "t10k-images-idx3-ubyte";
  write_plain(images, idx_images(3, 4, 5));
  write_plain(dir / "t10k-labels-idx1-ubyte", idx_labels({2, 0, 9}));
  check_dataset(*open_dataset(images), images);
}

TEST(Idx, ReadsGzipFilesAndMixedCompression) {
  test::TempDir dir;
  const std::string images = dir / "t10k-images-idx3-ubyte.gz";
  write_gzip(images, idx_images(3, 4, 5));
  write_plain(dir / "t10k-labels-idx1-ubyte", idx_labels({2, 0, 9}));  // labels not gzipped
  check_dataset(*open_dataset(images), images);
}

TEST(Idx, FashionClassNamesAndMnistDotNames) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "fashion-mnist");
  const std::string fashion = dir / "fashion-mnist/t10k-images-idx3-ubyte.gz";
  write_gzip(fashion, idx_images(3, 4, 5));
  write_gzip(dir / "fashion-mnist/t10k-labels-idx1-ubyte.gz", idx_labels({2, 0, 9}));
  auto d = open_dataset(fashion);
  EXPECT_EQ(d->class_names()[0], "T-shirt/top");
  EXPECT_EQ(d->class_names()[9], "Ankle boot");
  // MNIST's original file names use a dot.
  const std::string mnist = dir / "t10k-images.idx3-ubyte";
  write_plain(mnist, idx_images(3, 4, 5));
  write_plain(dir / "t10k-labels.idx1-ubyte", idx_labels({2, 0, 9}));
  auto m = open_dataset(mnist);
  EXPECT_EQ(m->class_names()[9], "9");
  EXPECT_EQ(m->label(2), 9);
}

TEST(Idx, DamagedFilesGiveClearErrors) {
  test::TempDir dir;
  const std::string images = dir / "train-images-idx3-ubyte";
  const std::string labels = dir / "train-labels-idx1-ubyte";
  EXPECT_IIS_ERROR(open_dataset(images), "does not exist");

  write_plain(images, idx_images(3, 4, 5));
  EXPECT_IIS_ERROR(open_dataset(images), "labels file");

  write_plain(labels, idx_labels({1, 2}));  // one label short
  EXPECT_IIS_ERROR(open_dataset(images), "has 2 labels but");

  write_plain(labels, idx_labels({1, 2, 3}));
  Bytes wrong_magic = idx_images(3, 4, 5);
  wrong_magic[3] = 0x08;  // 0x808: signed bytes
  write_plain(images, wrong_magic);
  EXPECT_IIS_ERROR(open_dataset(images), "magic number 0x808");

  Bytes short_data = idx_images(3, 4, 5);
  short_data.resize(short_data.size() - 7);
  write_plain(images, short_data);
  EXPECT_IIS_ERROR(open_dataset(images), "header promises 3 images of 4x5");

  write_plain(images, Bytes{0, 0, 8});
  EXPECT_IIS_ERROR(open_dataset(images), "too short");

  // A gzip file cut in the middle.
  const std::string gz = dir / "cut-images-idx3-ubyte.gz";
  write_gzip(gz, idx_images(300, 28, 28));
  std::filesystem::resize_file(gz, std::filesystem::file_size(gz) / 2);
  write_plain(dir / "cut-labels-idx1-ubyte", idx_labels(std::vector<unsigned char>(300, 1)));
  EXPECT_IIS_ERROR(open_dataset(gz), "corrupt or truncated gzip");

  const std::string other = dir / "notes.txt";
  write_plain(other, Bytes{'h', 'i'});
  EXPECT_IIS_ERROR(open_dataset(other), "neither a folder nor an IDX");
}

TEST(Idx, FashionMnistTestSplitWhenInstalled) {
  IIS_NEEDS_FASHION_MNIST();
  auto d = open_dataset(test::fashion_mnist_file("t10k-images-idx3-ubyte.gz"));
  ASSERT_EQ(d->size(), 10000);
  EXPECT_EQ(d->class_names().size(), 10u);
  EXPECT_EQ(d->label(0), 9);  // the first test image is an ankle boot
  EXPECT_EQ(d->image(0).size(), cv::Size(28, 28));
  EXPECT_EQ(d->stem(42), "t10k_0042");  // padded to the digits of 9999
}

// Runs FashionMnistTestSplitWhenInstalled again in a child of this binary with Fashion-MNIST
// pointed at an empty folder: it is skipped, and under IIS_REQUIRE_DATA=1 (what CI sets) it
// fails naming the package. (Here because this is the cheapest binary with a test that reads the
// data.)
TEST(Idx, MissingFashionMnistFailsUnderIisRequireData) {
  test::TempDir empty;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  auto run_child = [&](const std::string& require_data) {
    return test::run_command("IIS_FASHION_MNIST_DIR='" + empty.str() +
                             "' IIS_REQUIRE_DATA=" + require_data + " '" + self +
                             "' --gtest_filter=Idx.FashionMnistTestSplitWhenInstalled 2>&1");
  };
  const test::CommandRun skipped = run_child("0");
  EXPECT_EQ(skipped.status, 0) << skipped.output;
  EXPECT_NE(skipped.output.find("[  SKIPPED ] Idx.FashionMnistTestSplitWhenInstalled"),
            std::string::npos)
      << skipped.output;
  const test::CommandRun failed = run_child("1");
  EXPECT_NE(failed.status, 0) << failed.output;
  EXPECT_NE(failed.output.find("[  FAILED  ] Idx.FashionMnistTestSplitWhenInstalled"),
            std::string::npos)
      << failed.output;
  EXPECT_NE(failed.output.find("install the Debian package dataset-fashion-mnist"),
            std::string::npos)
      << failed.output;
}

}  // namespace
}  // namespace iis::data
