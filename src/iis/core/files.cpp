// Atomic writes, reads and fingerprints of files.
#include "iis/core/files.hpp"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "iis/core/error.hpp"

namespace fs = std::filesystem;

namespace iis::core {

namespace {
int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  return std::remove(path) == 0 ? 0 : -1;
}
}  // namespace

bool remove_tree(const std::string& path) noexcept {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT;
  // Depth first (children before their folder), without following links.
  return ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0;
}

void write_atomic(const std::string& path, const std::function<void(const std::string&)>& write) {
  fs::path target(path);
  std::error_code folder_ec;
  IIS_CHECK_HINT(!fs::is_directory(target, folder_ec),
                 "cannot write " << path << ": it is a folder",
                 "give the path of a file (e.g. " << (target / "out").string() << ".npy)");
  if (target.has_parent_path()) make_dirs(target.parent_path().string());
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    write(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    IIS_FAIL("cannot write " << path << ": " << ec.message(),
             "check that the folder is writable and the disk is not full");
  }
}

void write_text_atomic(const std::string& path, const std::string& content) {
  write_atomic(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    IIS_CHECK_HINT(out.good(), "cannot open " << path << " for writing",
                   "check that the folder exists and is writable");
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    IIS_CHECK_HINT(!out.fail(), "writing " << path << " failed", "check free disk space");
  });
}

std::string read_text(const std::string& path) {
  std::error_code ec;
  IIS_CHECK_HINT(!fs::is_directory(path, ec), "cannot read " << path << ": it is a folder",
                 "give the path of a file");
  std::ifstream in(path, std::ios::binary);
  IIS_CHECK_HINT(in.good(), "cannot read " << path, "check the path");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void make_dirs(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  IIS_CHECK_HINT(!ec && fs::is_directory(dir),
                 "cannot create folder " << dir << ": " << ec.message(),
                 "check the path and its permissions");
}

uint64_t fnv1a(const void* data, size_t size, uint64_t seed) {
  auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = seed;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

namespace {
std::string hex16(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
}  // namespace

namespace {

// The fingerprint of `size` bytes whose ranges `hash_range(offset, length, h)` folds into h:
// the whole content up to 256 MiB, the size plus 64 evenly spaced 1 MiB blocks above that.
std::string fingerprint_of(
    uint64_t size, const std::function<uint64_t(uint64_t, uint64_t, uint64_t)>& hash_range) {
  uint64_t h = fnv1a(&size, sizeof(size));
  constexpr uint64_t kWhole = 256ULL << 20, kBlock = 1ULL << 20, kBlocks = 64;
  if (size <= kWhole) return hex16(hash_range(0, size, h));
  for (uint64_t b = 0; b < kBlocks; ++b)
    h = hash_range((size - kBlock) / (kBlocks - 1) * b, kBlock, h);
  return hex16(h);
}

}  // namespace

std::string fingerprint_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  IIS_CHECK_HINT(in.good(), "cannot read " << path, "check the path");
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  IIS_CHECK(!ec, "cannot stat " << path << ": " << ec.message());
  std::vector<char> buf(1 << 20);
  return fingerprint_of(size, [&](uint64_t offset, uint64_t length, uint64_t h) {
    in.seekg(static_cast<std::streamoff>(offset));
    while (length > 0) {
      uint64_t n = std::min<uint64_t>(length, buf.size());
      in.read(buf.data(), static_cast<std::streamsize>(n));
      IIS_CHECK(in.gcount() == static_cast<std::streamsize>(n), "short read in " << path);
      h = fnv1a(buf.data(), n, h);
      length -= n;
    }
    return h;
  });
}

std::string fingerprint_bytes(const void* data, uint64_t size) {
  const auto* bytes = static_cast<const char*>(data);
  return fingerprint_of(size, [&](uint64_t offset, uint64_t length, uint64_t h) {
    return fnv1a(bytes + offset, length, h);
  });
}

std::string fingerprint_text(const std::string& text) {
  return hex16(fnv1a(text.data(), text.size()));
}

}  // namespace iis::core
