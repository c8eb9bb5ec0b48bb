// Paths: keeping outputs apart from inputs, and names safe to write into line-based files.
#include "iis/core/paths.hpp"

#include <cstdio>
#include <filesystem>

#include "iis/core/error.hpp"

namespace fs = std::filesystem;

namespace iis::core {

namespace {

// Absolute, with symbolic links resolved in the part that exists and "." / ".." removed.
fs::path resolved(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) p = fs::absolute(path, ec).lexically_normal();
  // "a/b/" and "a/b" name the same folder.
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p;
}

bool within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // a trailing separator
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

}  // namespace

bool path_within(const std::string& inner, const std::string& outer) {
  return within(resolved(inner), resolved(outer));
}

void check_output_apart(const NamedPath& output, const std::vector<NamedPath>& inputs) {
  const fs::path out = resolved(output.path);
  for (const auto& input : inputs) {
    if (input.path.empty()) continue;
    const fs::path in = resolved(input.path);
    const char* relation = out == in         ? "is"
                           : within(out, in) ? "lies inside"
                           : within(in, out) ? "contains"
                                             : nullptr;
    if (relation == nullptr) continue;
    IIS_FAIL(output.flag << " " << output.path << " " << relation << " the input " << input.flag
                         << " " << input.path
                         << ": writing there would overwrite or mix with what is read",
             "choose an output path outside every input (and no input inside the output)");
  }
}

std::string escape_control(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool has_control_character(const std::string& text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

}  // namespace iis::core
