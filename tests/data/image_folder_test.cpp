// Tests of the ImageFolder reader: torchvision's class and file order, extensions in any case,
// odd names, empty class folders, and errors.
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "iis/data/dataset.hpp"
#include "test_support.hpp"

namespace iis::data {
namespace {

namespace fs = std::filesystem;

void write_image(const std::string& path, int value) {
  fs::create_directories(fs::path(path).parent_path());
  std::vector<unsigned char> bytes;
  std::string ext = fs::path(path).extension().string();
  for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  ASSERT_TRUE(cv::imencode(ext, cv::Mat(3, 2, CV_8UC3, cv::Scalar(value, value, value)), bytes));
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

TEST(ImageFolder, TorchvisionOrderAndOddNames) {
  test::TempDir dir;
  const std::string root = dir / "data set";
  write_image(root + "/b_class/z.png", 1);
  write_image(root + "/b_class/a b.JPG", 2);
  write_image(root + "/b_class/ünï 画像.png", 3);
  write_image(root + "/b_class/C.PNG", 4);
  write_image(root + "/b_class/sub/x.png", 5);  // nested folders are walked, as torchvision does
  std::ofstream(root + "/b_class/notes.txt") << "not an image";
  write_image(root + "/a_class/y.TIFF", 6);
  write_image(root + "/a_class/x.jpeg", 7);
  write_image(root + "/a_class/q.webp", 8);
  write_image(root + "/a_class/r.Bmp", 9);
  write_image(root + "/Zeta/only.tif", 10);
  fs::create_directories(root + "/empty class");
  std::ofstream(root + "/README.md") << "files at the root are not classes";

  testing::internal::CaptureStderr();
  auto d = open_dataset(root);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("empty class"), std::string::npos) << log;

  // Byte (code point) order, as Python's sorted(): upper case before lower case.
  const std::vector<std::string> classes = {"Zeta", "a_class", "b_class", "empty class"};
  EXPECT_EQ(d->class_names(), classes);
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"Zeta/only.tif", 0},     {"a_class/q.webp", 1}, {"a_class/r.Bmp", 1},
      {"a_class/x.jpeg", 1},    {"a_class/y.TIFF", 1}, {"b_class/C.PNG", 2},
      {"b_class/a b.JPG", 2},   {"b_class/z.png", 2},  {"b_class/ünï 画像.png", 2},
      {"b_class/sub/x.png", 2},
  };
  ASSERT_EQ(d->size(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(d->source(static_cast<int64_t>(i)), root + "/" + expected[i].first) << i;
    EXPECT_EQ(d->label(static_cast<int64_t>(i)), expected[i].second) << i;
  }
  EXPECT_EQ(d->stem(8), "ünï 画像");
  // Pixels come through the decoder (value 3 was written to the unicode-named file).
  const cv::Mat m = d->image(8);
  ASSERT_EQ(m.type(), CV_8UC3);
  EXPECT_EQ(m.at<cv::Vec3b>(0, 0), cv::Vec3b(3, 3, 3));
}

TEST(ImageFolder, DamagedImagesThrowNamingTheFile) {
  test::TempDir dir;
  write_image(dir / "cls/good.png", 1);
  std::ofstream(dir / "cls/bad.png") << "";
  auto d = open_dataset(dir.str());
  ASSERT_EQ(d->size(), 2);
  EXPECT_EQ(d->source(0), dir / "cls/bad.png");
  EXPECT_IIS_ERROR(d->image(0), dir / "cls/bad.png");
  EXPECT_EQ(d->image(1).size(), cv::Size(2, 3));
}

TEST(ImageFolder, Errors) {
  test::TempDir dir;
  EXPECT_IIS_ERROR(open_dataset(dir / "missing"), "does not exist");
  EXPECT_IIS_ERROR(open_dataset(dir.str()), "no class sub-folders");
  write_image(dir / "flat.png", 1);
  EXPECT_IIS_ERROR(open_dataset(dir.str()), "no class sub-folders");
  fs::create_directories(dir / "a");
  std::ofstream(dir / "a/readme.txt") << "x";
  EXPECT_IIS_ERROR(open_dataset(dir.str()), "has no images");
}

TEST(ImageFolder, SymbolicLinkLoopIsRefusedWithItsPath) {
  test::TempDir dir;
  write_image(dir / "data/a/x.png", 1);
  write_image(dir / "data/b/y.png", 2);
  fs::create_directory_symlink("..", dir / "data/a/up");
  fs::create_directory_symlink("..", dir / "data/b/up");
  EXPECT_IIS_ERROR(open_dataset(dir / "data"),
                   "symbolic link loop in the dataset: " + (dir / "data/a/up"));
  // A link to a folder that is not above it is followed, as torchvision does.
  fs::remove(dir / "data/a/up");
  fs::remove(dir / "data/b/up");
  fs::create_directory_symlink(dir / "data/b", dir / "data/a/more");
  auto d = open_dataset(dir / "data");
  ASSERT_EQ(d->size(), 3);
  EXPECT_EQ(d->source(1), dir / "data/a/more/y.png");
}

TEST(ImageFolder, NamesWithControlCharactersAreRefused) {
  test::TempDir dir;
  write_image(dir / "data/evil\nname/x.png", 1);
  EXPECT_IIS_ERROR(open_dataset(dir / "data"), "control character: " + (dir / "data/evil\\nname"));
  test::TempDir other;
  write_image(other / "cls/two\nlines.png", 1);
  EXPECT_IIS_ERROR(open_dataset(other.str()), "two\\nlines.png");
}

}  // namespace
}  // namespace iis::data
