// Tests keeping outputs apart from inputs and escaping control characters in names.
#include "iis/core/paths.hpp"

#include <filesystem>

#include "test_support.hpp"

namespace iis::core {
namespace {

TEST(Paths, WithinComparesWholeComponents) {
  test::TempDir dir;
  EXPECT_TRUE(path_within(dir / "a/b", dir / "a"));
  EXPECT_TRUE(path_within(dir / "a/", dir / "a"));
  EXPECT_TRUE(path_within(dir / "a/./c/../b", dir / "a"));
  EXPECT_FALSE(path_within(dir / "ab", dir / "a"));
  EXPECT_FALSE(path_within(dir / "a", dir / "a/b"));
}

TEST(Paths, WithinFollowsSymbolicLinks) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "data/cls");
  std::filesystem::create_directory_symlink(dir / "data", dir / "link");
  EXPECT_TRUE(path_within(dir / "link/cls/out", dir / "data"));
}

TEST(Paths, OutputEqualInsideOrContainingAnInputIsRefused) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "data/cls");
  const NamedPath data{"--data", dir / "data"};
  EXPECT_IIS_ERROR(check_output_apart({"--out", dir / "data"}, {data}), "is the input --data");
  EXPECT_IIS_ERROR(check_output_apart({"--out", dir / "data/"}, {data}), "is the input");
  EXPECT_IIS_ERROR(check_output_apart({"--out", dir / "data/.features.npy"}, {data}),
                   "lies inside the input --data");
  EXPECT_IIS_ERROR(check_output_apart({"--out", dir.str()}, {data}), "contains the input");
  EXPECT_NO_THROW(check_output_apart({"--out", dir / "elements"}, {data}));
  EXPECT_NO_THROW(check_output_apart({"--out", dir / "data2"}, {data, {"--x", ""}}));
}

TEST(Paths, ControlCharactersAreEscaped) {
  EXPECT_EQ(escape_control("evil\n!touch X\t\x1b"), "evil\\n!touch X\\t\\x1b");
  EXPECT_TRUE(has_control_character("a\nb"));
  EXPECT_TRUE(has_control_character("a\x7f"));
  EXPECT_FALSE(has_control_character("T-shirt top é"));
}

}  // namespace
}  // namespace iis::core
