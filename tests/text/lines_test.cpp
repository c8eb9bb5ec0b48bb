// Tests of text files' lines: "\n", "\r\n" and "\r" endings, byte-order marks, the shipped lists.
#include "iis/text/lines.hpp"

#include <fstream>

#include "test_support.hpp"

namespace iis::text {
namespace {

using Lines = std::vector<std::string>;

TEST(SplitLines, EveryLineEndEndsALine) {
  EXPECT_EQ(split_lines("a\nb\nc"), (Lines{"a", "b", "c"}));
  EXPECT_EQ(split_lines("a\r\nb\r\nc\r\n"), (Lines{"a", "b", "c"}));
  EXPECT_EQ(split_lines("a\rb\rc\r"), (Lines{"a", "b", "c"}));
  EXPECT_EQ(split_lines("a\r\nb\rc\nd"), (Lines{"a", "b", "c", "d"}));  // mixed
}

TEST(SplitLines, KeepsEmptyLinesButNoneAfterTheLastLineEnd) {
  EXPECT_EQ(split_lines(""), Lines{});
  EXPECT_EQ(split_lines("\n"), Lines{""});
  EXPECT_EQ(split_lines("a\n\nb\n"), (Lines{"a", "", "b"}));
  EXPECT_EQ(split_lines("a\r\rb"), (Lines{"a", "", "b"}));      // two "\r": two line ends
  EXPECT_EQ(split_lines("a\n\rb"), (Lines{"a", "", "b"}));      // "\n\r" is not one line end
  EXPECT_EQ(split_lines("a\r\n\r\nb"), (Lines{"a", "", "b"}));  // "\r\n" is
  EXPECT_EQ(split_lines(" a \t"), Lines{" a \t"});              // spaces are kept
}

TEST(ReadLines, DropsAByteOrderMarkOnlyAtTheStart) {
  test::TempDir dir;
  const std::string path = dir / "bom.txt";
  std::ofstream(path, std::ios::binary) << "\xEF\xBB\xBF"
                                           "dog\r\n\xEF\xBB\xBF"
                                           "cat\r\n";
  EXPECT_EQ(read_lines(path), (Lines{"dog",
                                     "\xEF\xBB\xBF"
                                     "cat"}));
}

TEST(ReadLines, NamesAMissingFile) {
  test::TempDir dir;
  try {
    read_lines(dir / "missing.txt");
    FAIL() << "read a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "missing.txt"), std::string::npos) << e.what();
  }
}

// The shipped lists have as many lines as classes or concepts, whatever their line ends (the
// ImageNet class list ends its lines with "\r" alone, the others with "\n", none at the end).
TEST(ReadLines, ReadsTheShippedLists) {
  const std::string data = test::source_dir() + "/data/";
  const std::vector<std::pair<std::string, size_t>> lists = {
      {"classes/imagenet_classes.txt", 1000},   {"classes/cifar10_classes.txt", 10},
      {"classes/cifar100_classes.txt", 100},    {"classes/cub_classes.txt", 200},
      {"concepts/imagenet_filtered.txt", 4751}, {"concepts/cifar10_filtered.txt", 143},
      {"concepts/cifar100_filtered.txt", 892},  {"concepts/cub_filtered.txt", 370},
      {"concepts/places365_filtered.txt", 2544}};
  for (const auto& [name, count] : lists) {
    const Lines lines = read_lines(data + name);
    EXPECT_EQ(lines.size(), count) << name;
    for (const auto& line : lines) {
      EXPECT_FALSE(line.empty()) << name;
      EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos) << name;
    }
  }
  const Lines imagenet = read_lines(data + "classes/imagenet_classes.txt");
  EXPECT_EQ(imagenet.front(), "tench");
  EXPECT_EQ(imagenet[1], "goldfish");
}

}  // namespace
}  // namespace iis::text
