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

// Runs gnuplot (its path) with `args` in `folder`; on failure throws with gnuplot's own
// message (from `log`).
void run_gnuplot(const std::string& gnuplot, const std::string& folder,
                 const std::vector<std::string>& args, const std::string& log) {
  // Everything the child needs is prepared before fork: after it only system calls are safe.
  const std::string program = fs::absolute(gnuplot).string();
  std::vector<char*> argv{const_cast<char*>(program.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  IIS_CHECK(pid >= 0, "cannot start gnuplot: fork failed");
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    if (::chdir(folder.c_str()) != 0) ::_exit(126);
    ::execv(program.c_str(), argv.data());
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
    IIS_FAIL("gnuplot failed on " << (fs::path(folder) / args.back()).string() << ": " << message,
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

// The script as kept: run as `gnuplot NAME.gp` in its folder, it writes NAME.png and
// NAME.svg from NAME.dat; `iis report` sets png_output and svg_output to temporary names.
std::string standalone_script(const std::string& name, const std::string& body,
                              double height_scale) {
  std::ostringstream script;
  script << "# Generated by iis report. Redraw with `gnuplot " << name
         << ".gp` in this folder:\n# it rewrites " << name << ".png and " << name << ".svg from "
         << name << ".dat.\n";
  for (const auto& t : kTerminals)
    script << "if (!exists('" << t.ext << "_output')) " << t.ext
           << "_output = " << literal(name + "." + t.ext) << "\n";
  script << "set encoding utf8\n";
  for (const auto& t : kTerminals) {
    script << "set terminal " << t.name << " size " << t.width << ","
           << static_cast<int>(std::lround(t.height * height_scale)) << " " << t.options
           << "\nset output " << t.ext << "_output\n"
           << body << "unset output\nreset\n";
  }
  return script.str();
}

std::vector<std::string> draw(const std::string& gnuplot, const std::string& stem,
                              const std::string& body, double height_scale) {
  const std::string folder = fs::path(stem).parent_path().string();
  const std::string name = fs::path(stem).filename().string();
  core::write_text_atomic(stem + ".gp", standalone_script(name, body, height_scale));
  std::string outputs;
  for (const auto& t : kTerminals)
    outputs += std::string(t.ext) + "_output = " + literal(name + "." + t.ext + ".tmp") + "; ";
  run_gnuplot(gnuplot, folder.empty() ? "." : folder, {"-e", outputs, name + ".gp"}, stem + ".log");
  const auto images = move_images_into_place(stem);
  std::error_code ec;
  fs::remove(stem + ".log", ec);
  return images;
}

}  // namespace iis::report::detail
