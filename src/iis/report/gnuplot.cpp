// gnuplot for `iis report`: text made safe for scripts, gnuplot run as a subprocess, every
// image written under a temporary name and renamed into place only when complete.
#include "iis/report/detail/gnuplot.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"

namespace fs = std::filesystem;

namespace iis::report::detail {
namespace {

// The two terminals every figure is drawn with: a 1500×1000 PNG (prints at 5 in × 3.3 in
// at 300 dpi) and a vector SVG, same fonts relative to size. A figure may be taller (its
// height scaled) to make room for a long legend.
struct Terminal {
  const char* ext;
  int width, height;
  const char* name;
  const char* options;
};
const Terminal kTerminals[] = {
    {"png", 1500, 1000, "pngcairo", "font 'DejaVu Sans,22' linewidth 2.5 noenhanced"},
    {"svg", 900, 600, "svg",
     "dynamic font 'DejaVu Sans,13' linewidth 1.5 noenhanced background '#ffffff'"},
};

// Runs `gnuplot script`; on failure throws with gnuplot's own message (from `log`).
void run_gnuplot(const std::string& gnuplot, const std::string& script, const std::string& log) {
  pid_t pid = ::fork();
  IIS_CHECK(pid >= 0, "cannot start gnuplot: fork failed");
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    ::execl(gnuplot.c_str(), gnuplot.c_str(), script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string message;
    std::error_code ec;
    if (fs::exists(log, ec)) message = core::read_text(log);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    std::replace(message.begin(), message.end(), '\n', ' ');
    IIS_FAIL("gnuplot failed on " << script << ": " << message,
             "the script and its data are kept beside the figures; run gnuplot on it to see");
  }
}

// How a complete image of a terminal ends: a PNG with its IEND chunk (length 0, type,
// CRC), an SVG with its closing tag (then perhaps a line break).
bool image_complete(const std::string& path, const std::string& ext) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  std::string data = core::read_text(path);
  if (ext == "png") {
    static const std::string kIend("\0\0\0\0IEND\xae\x42\x60\x82", 12);
    return data.size() >= 8 + kIend.size() && data.compare(1, 3, "PNG") == 0 &&
           data.compare(data.size() - kIend.size(), kIend.size(), kIend) == 0;
  }
  while (!data.empty() && std::isspace(static_cast<unsigned char>(data.back()))) data.pop_back();
  const std::string end = "</svg>";
  return data.size() >= end.size() && data.compare(data.size() - end.size(), end.size(), end) == 0;
}

// gnuplot exits 0 even when its writes fail (a full disk): each image is checked complete
// before it is renamed into place, and none is renamed unless all are.
std::vector<std::string> move_images_into_place(const std::string& stem) {
  std::vector<std::string> images;
  for (const auto& t : kTerminals) {
    const std::string image = stem + "." + t.ext;
    if (!image_complete(image + ".tmp", t.ext)) {
      std::error_code ec;
      for (const auto& u : kTerminals) fs::remove(stem + "." + u.ext + ".tmp", ec);
      IIS_FAIL(image << ": incomplete: gnuplot exited without error but did not finish the "
                     << t.ext << " file",
               "is the disk full? Free some space and run `iis report` again (gnuplot's "
               "messages are in "
                   << stem << ".log)");
    }
    images.push_back(image);
  }
  for (const auto& image : images) fs::rename(image + ".tmp", image);
  return images;
}

}  // namespace

// Text as a figure shows it: every control character becomes '?'. A newline would end the
// gnuplot command and let the rest run as a new one (a `!` line runs a shell command).
std::string printable(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

// The only way text enters a script: a single-quoted gnuplot literal of printable text.
// Single quotes have one escape ('' for ') and no backquote or macro substitution, so with
// no line break inside, nothing in the text can end the literal or start a command.
std::string literal(const std::string& s) {
  std::string out = "'";
  for (char c : printable(s)) out += (c == '\'') ? std::string("''") : std::string(1, c);
  return out + "'";
}

// Lines of text as one gnuplot string expression: 'first' . "\n" . 'second'.
std::string literal_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? " . \"\\n\" . " : "") + literal(lines[i]);
  return out;
}

// Writes `body` framed once per terminal into `stem`.gp, runs it, renames the images into
// place; returns their paths.
std::vector<std::string> draw(const std::string& gnuplot, const std::string& stem,
                              const std::string& body, double height_scale) {
  std::ostringstream script;
  script << "# Generated by iis report; run `gnuplot " << fs::path(stem).filename().string()
         << ".gp` to redraw.\nset encoding utf8\n";
  for (const auto& t : kTerminals) {
    script << "set terminal " << t.name << " size " << t.width << ","
           << static_cast<int>(std::lround(t.height * height_scale)) << " " << t.options
           << "\nset output " << literal(stem + "." + t.ext + ".tmp") << "\n"
           << body << "unset output\nreset\n";
  }
  const std::string path = stem + ".gp";
  core::write_text_atomic(path, script.str());
  run_gnuplot(gnuplot, path, stem + ".log");
  const auto images = move_images_into_place(stem);
  std::error_code ec;
  fs::remove(stem + ".log", ec);
  return images;
}

}  // namespace iis::report::detail
