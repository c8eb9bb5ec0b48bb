// Files: atomic writes (temporary name + rename), whole-file reads, content fingerprints.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace iis::core {

// Calls `write(tmp_path)` to produce the file under a temporary name beside `path`, then
// renames it to `path`. If `write` throws, the temporary is removed and `path` is untouched,
// so an interrupted run never leaves a half-written file that a later run trusts.
void write_atomic(const std::string& path, const std::function<void(const std::string&)>& write);

// Writes `content` to `path` atomically.
void write_text_atomic(const std::string& path, const std::string& content);

// Reads a whole file; throws iis::Error naming the file if it cannot be read.
std::string read_text(const std::string& path);

// Creates `dir` and its parents if missing; throws naming the directory on failure.
void make_dirs(const std::string& dir);

// Removes `path` and everything under it (symbolic links are removed, not followed); true
// when nothing is left. Never throws. Used instead of std::filesystem::remove_all, which the
// CUDA LibTorch 2.x wheels export a broken copy of (calling it there crashes).
bool remove_tree(const std::string& path) noexcept;

// 64-bit FNV-1a over bytes, chainable: seed with a previous value.
uint64_t fnv1a(const void* data, size_t size, uint64_t seed = 14695981039346656037ULL);

// A fingerprint of a file's content as 16 hex digits: the whole content for files up to
// 256 MiB, the size plus 64 evenly spaced 1 MiB blocks above that.
std::string fingerprint_file(const std::string& path);

// The same fingerprint of bytes in memory (an array handed over by the Python module): equal to
// fingerprint_file of a file holding exactly these bytes.
std::string fingerprint_bytes(const void* data, uint64_t size);

// 16 hex digits of fnv1a(text).
std::string fingerprint_text(const std::string& text);

}  // namespace iis::core
