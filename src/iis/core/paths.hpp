// Paths: keeping outputs apart from inputs, and names safe to write into line-based files.
#pragma once

#include <string>
#include <vector>

namespace iis::core {

// An input of a command, for the error message: `flag` names where it came from
// ("--data", "dataset.train", a shard prefix), `path` is a file or folder.
struct NamedPath {
  std::string flag;
  std::string path;
};

// True when `inner` is `outer` or lies inside it, comparing absolute paths with symbolic
// links resolved as far as the paths exist ("a/b" lies inside "a", "ab" does not).
bool path_within(const std::string& inner, const std::string& outer);

// Throws iis::Error naming both flags when the output `output` (a file or folder, existing
// or not) equals an input, lies inside an input folder, or contains an input: writing it
// would overwrite or mix with what the command reads. Called before anything is written.
void check_output_apart(const NamedPath& output, const std::vector<NamedPath>& inputs);

// `text` with control characters (below 0x20, and 0x7F) shown as C escapes (\n, \t, \x1b),
// for quoting a name in a message.
std::string escape_control(const std::string& text);

// True when `text` holds a control character (a newline would split a line-based file).
bool has_control_character(const std::string& text);

}  // namespace iis::core
