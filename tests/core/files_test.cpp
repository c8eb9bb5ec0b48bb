// Tests atomic writes and fingerprints.
#include "iis/core/files.hpp"

#include <filesystem>

#include "test_support.hpp"

namespace iis::core {
namespace {

TEST(Files, WriteAtomicLeavesNothingWhenTheWriterFails) {
  test::TempDir dir;
  std::string path = dir / "out.txt";
  write_text_atomic(path, "old");
  EXPECT_THROW(write_atomic(path,
                            [](const std::string& tmp) {
                              write_text_atomic(tmp, "half");
                              throw std::runtime_error("killed");
                            }),
               std::runtime_error);
  EXPECT_EQ(read_text(path), "old");
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.str())) ++entries;
  EXPECT_EQ(entries, 1);  // no temporary left behind
}

TEST(Files, FoldersGivenAsFilesAreNamedAsFolders) {
  test::TempDir dir;
  EXPECT_IIS_ERROR(write_text_atomic(dir.str(), "x"),
                   "cannot write " + dir.str() + ": it is a folder");
  EXPECT_IIS_ERROR(read_text(dir.str()), "cannot read " + dir.str() + ": it is a folder");
}

TEST(Files, FingerprintChangesWithContent) {
  test::TempDir dir;
  write_text_atomic(dir / "a", "hello");
  write_text_atomic(dir / "b", "hello");
  write_text_atomic(dir / "c", "hellp");
  EXPECT_EQ(fingerprint_file(dir / "a"), fingerprint_file(dir / "b"));
  EXPECT_NE(fingerprint_file(dir / "a"), fingerprint_file(dir / "c"));
  EXPECT_EQ(fingerprint_file(dir / "a").size(), 16u);
}

TEST(Files, FingerprintOfBytesIsThatOfAFileOfThem) {
  test::TempDir dir;
  // Small (hashed whole) and above 256 MiB (sampled in 64 blocks): the same scheme for both.
  for (size_t size : {size_t{5}, (size_t{256} << 20) + 4097}) {
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; i += 4093) bytes[i] = static_cast<char>(i * 31);
    write_text_atomic(dir / "f", bytes);
    EXPECT_EQ(fingerprint_bytes(bytes.data(), bytes.size()), fingerprint_file(dir / "f")) << size;
    bytes[0] ^= 1;  // the first byte lies in the first sampled block
    EXPECT_NE(fingerprint_bytes(bytes.data(), bytes.size()), fingerprint_file(dir / "f")) << size;
  }
}

TEST(Files, Fnv1aKnownValue) {
  // FNV-1a 64 of "a" is af63dc4c8601ec8c.
  EXPECT_EQ(fnv1a("a", 1), 0xaf63dc4c8601ec8cULL);
}

TEST(Files, RemoveTreeRemovesEverythingButWhatLinksPointTo) {
  test::TempDir dir;
  make_dirs(dir / "tree/a/b");
  make_dirs(dir / "outside");
  write_text_atomic(dir / "tree/a/b/f", "x");
  write_text_atomic(dir / "tree/g", "y");
  write_text_atomic(dir / "outside/kept", "z");
  std::filesystem::create_directory_symlink(dir / "outside", dir / "tree/a/link");
  EXPECT_TRUE(remove_tree(dir / "tree"));
  EXPECT_FALSE(std::filesystem::exists(dir / "tree"));
  EXPECT_EQ(read_text(dir / "outside/kept"), "z");  // the link went, not its target
  EXPECT_TRUE(remove_tree(dir / "tree"));           // nothing there: nothing to do
  write_text_atomic(dir / "file", "w");
  EXPECT_TRUE(remove_tree(dir / "file"));
  EXPECT_FALSE(std::filesystem::exists(dir / "file"));
}

TEST(Files, ReadMissingFileNamesIt) {
  EXPECT_IIS_ERROR(read_text("/nonexistent/x"), "/nonexistent/x");
}

}  // namespace
}  // namespace iis::core
