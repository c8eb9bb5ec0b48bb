// Lines of a text file: "\n", "\r\n" and "\r" all end a line.
#include "iis/text/lines.hpp"

#include "iis/core/files.hpp"

namespace iis::text {

std::vector<std::string> split_lines(const std::string& content) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] != '\n' && content[i] != '\r') continue;
    lines.push_back(content.substr(start, i - start));
    if (content[i] == '\r' && i + 1 < content.size() && content[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < content.size()) lines.push_back(content.substr(start));
  return lines;
}

std::vector<std::string> read_lines(const std::string& path) {
  static const std::string kByteOrderMark = "\xEF\xBB\xBF";
  std::string content = core::read_text(path);
  if (content.compare(0, kByteOrderMark.size(), kByteOrderMark) == 0) {
    content.erase(0, kByteOrderMark.size());
  }
  return split_lines(content);
}

}  // namespace iis::text
