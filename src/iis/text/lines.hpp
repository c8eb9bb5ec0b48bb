// Lines of a text file, whichever line ends it uses.
#pragma once

#include <string>
#include <vector>

namespace iis::text {

// The lines of `content`, ended by "\n", "\r\n" or "\r" (files may mix them: the ImageNet
// class list ends its lines with "\r" alone), without their line ends. A line end at the very
// end does not start another, empty line; empty lines elsewhere are kept. "" has no lines.
std::vector<std::string> split_lines(const std::string& content);

// split_lines of the file at `path`, without a leading UTF-8 byte-order mark (which editors
// write and which would otherwise become part of the first line). Throws iis::Error naming the
// file if it cannot be read.
std::vector<std::string> read_lines(const std::string& path);

}  // namespace iis::text
