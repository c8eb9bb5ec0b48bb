// Figures of `iis report`: gnuplot scripts and data files generated here, gnuplot run as a
// subprocess, every image written under a temporary name and renamed when complete.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/report/detail/figures.hpp"

namespace fs = std::filesystem;

namespace iis::report::detail {
namespace {

// Viridis sampled from dark (weakest backbone) to light-yellow-green (strongest), so the
// colour order of the curves mirrors the accuracy order in every figure.
std::string accuracy_colour(size_t i, size_t n) {
  static const char* kViridis[] = {"#440154", "#482878", "#3e4a89", "#31688e", "#26828e",
                                   "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#e0c800"};
  const size_t k = sizeof(kViridis) / sizeof(kViridis[0]);
  if (n <= 1) return kViridis[3];
  const size_t idx = static_cast<size_t>(
      std::lround(static_cast<double>(i) * (k - 1) / static_cast<double>(n - 1)));
  return kViridis[std::min(idx, k - 1)];
}

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

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string coefficient(double v) { return std::isnan(v) ? "n/a" : fmt("%+.2f", v); }

// The two terminals every figure is drawn with: a 1500×1000 PNG (prints at 5 in × 3.3 in
// at 300 dpi) and a vector SVG, same fonts relative to size.
struct Terminal {
  const char* ext;
  const char* spec;
};
const Terminal kTerminals[] = {
    {"png", "pngcairo size 1500,1000 font 'DejaVu Sans,22' linewidth 2.5 noenhanced"},
    {"svg",
     "svg size 900,600 dynamic font 'DejaVu Sans,13' linewidth 1.5 noenhanced "
     "background '#ffffff'"},
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

// Writes `body` framed once per terminal into `stem`.gp, runs it, renames the images into
// place; returns their paths.
std::vector<std::string> draw(const std::string& gnuplot, const std::string& stem,
                              const std::string& body) {
  std::ostringstream script;
  script << "# Generated by iis report; run `gnuplot " << fs::path(stem).filename().string()
         << ".gp` to redraw.\nset encoding utf8\n";
  for (const auto& t : kTerminals) {
    script << "set terminal " << t.spec << "\nset output " << literal(stem + "." + t.ext + ".tmp")
           << "\n"
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

// Common look: light grid behind, open top/right, tics outward.
const char* kStyle =
    "set border 3 lw 1\nset tics nomirror out\nset grid back lc rgb '#e0e0e0' lw 1 dt 1\n"
    "set key box lc rgb '#bbbbbb' opaque samplen 2 spacing 1.1\n";

std::vector<std::string> retention_figure(const std::vector<const ReportRow*>& rows,
                                          const std::string& concept_type, const std::string& stem,
                                          const std::string& gnuplot) {
  std::ostringstream data;
  double lo = 1.0;
  for (size_t i = 0; i < rows.size(); ++i) {
    data << "# " << printable(rows[i]->backbone) << ": ratio retention top1\n";
    const auto arr = rows[i]->retention();
    for (size_t k = 0; k < arr.size(); ++k) {
      data << rows[i]->ratios[k].ratio << " " << arr[k] << " " << rows[i]->ratios[k].top1 << "\n";
      lo = std::min(lo, arr[k]);
    }
    data << "\n\n";
  }
  core::write_text_atomic(stem + ".dat", data.str());

  std::ostringstream body;
  body << kStyle << "set title " << literal("Accuracy retention, " + concept_type + " concepts")
       << "\nset xlabel 'sparsity ratio r (share of concept activations set to zero)'\n"
       << "set ylabel 'accuracy retention  acc(r) / acc(standard)'\n"
       << "set xrange [0:1]\nset xtics 0.1\n"
       << "set yrange [" << fmt("%.2f", std::max(0.0, std::floor((lo - 0.03) * 20) / 20))
       << ":1.04]\n"
       << "set arrow from 0,1 to 1,1 nohead dt 2 lc rgb '#777777' lw 1 back\n"
       << "set key left bottom title 'backbone (accuracy, IIS)'\nplot ";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = *rows[i];
    const std::string title = r.backbone + " (" + fmt("%.1f %%", 100 * r.standard_accuracy) + ", " +
                              fmt("%.3f", r.iis) + ")";
    body << (i ? ", \\\n     " : "") << literal(stem + ".dat") << " index " << i
         << " using 1:2 with linespoints lw 1.5 pt " << (5 + 2 * (i % 3)) << " ps 1.1 lc rgb '"
         << accuracy_colour(i, rows.size()) << "' title " << literal(title);
  }
  body << "\n";
  return draw(gnuplot, stem, body.str());
}

std::vector<std::string> scatter_figure(const std::vector<const ReportRow*>& rows,
                                        const CorrelationSummary& c,
                                        const std::string& concept_type, const std::string& stem,
                                        const std::string& gnuplot) {
  // One block per backbone, so each gets the colour and marker it has in the retention plot
  // and a legend entry instead of a label that could print over its neighbours.
  std::ostringstream data;
  for (const auto* r : rows)
    data << "# " << printable(r->backbone)
         << ": accuracy_percent iis iis_std iis_chance_corrected\n"
         << 100 * r->standard_accuracy << " " << r->iis << " " << r->iis_std << " "
         << r->iis_chance_corrected << "\n\n\n";
  core::write_text_atomic(stem + ".dat", data.str());

  const std::string text = literal_lines(
      {"IIS: Pearson r = " + coefficient(c.pearson) + ", Spearman ρ = " + coefficient(c.spearman),
       "chance-corrected IIS: r = " + coefficient(c.pearson_chance_corrected) +
           ", ρ = " + coefficient(c.spearman_chance_corrected),
       "(n = " + std::to_string(c.n) + " backbones" +
           (c.n_chance_corrected != c.n
                ? ", " + std::to_string(c.n_chance_corrected) + " above chance)"
                : ")")});
  const std::string d = literal(stem + ".dat");
  std::ostringstream body;
  body << kStyle << "set title " << literal("IIS against accuracy, " + concept_type + " concepts")
       << "\nset xlabel 'standard linear-probe accuracy (%)'\n"
       << "set ylabel 'inherent interpretability score'\n"
       << "set offsets graph 0.06, graph 0.06, graph 0.4, graph 0.06\n"
       << "set label 1 " << text << " at graph 0.03, graph 0.95 left front\n"
       << "set key outside right center title "
       << literal_lines({"filled: IIS ± std", "open: chance-corr."}) << "\n"
       << "plot ";
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string colour = accuracy_colour(i, rows.size());
    const int filled = 5 + 2 * static_cast<int>(i % 3);  // 5 square, 7 circle, 9 triangle
    body << (i ? ", \\\n     " : "") << d << " index " << i << " using 1:2:3 with yerrorbars pt "
         << filled << " ps 2 lc rgb '" << colour << "' title " << literal(rows[i]->backbone)
         << ", \\\n     " << d << " index " << i << " using 1:4 with points pt " << filled - 1
         << " ps 2 lw 1.5 lc rgb '" << colour << "' notitle";
  }
  body << "\n";
  return draw(gnuplot, stem, body.str());
}

}  // namespace

std::string file_stem(const std::string& name) {
  std::string out;
  for (char c : name)
    out +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return out.empty() ? "_" : out;
}

std::vector<std::string> draw_figures(const ReportResult& result, const std::string& figures_dir,
                                      const std::string& gnuplot) {
  core::make_dirs(figures_dir);
  std::vector<std::string> files;
  for (const auto& [concept_type, correlation] : result.correlations) {
    std::vector<const ReportRow*> rows;  // already sorted by accuracy within the type
    for (const auto& r : result.rows)
      if (r.concept_type == concept_type) rows.push_back(&r);
    const std::string ct = file_stem(concept_type);
    for (auto& f : retention_figure(
             rows, concept_type, (fs::path(figures_dir) / ("retention_" + ct)).string(), gnuplot))
      files.push_back(f);
    for (auto& f :
         scatter_figure(rows, correlation, concept_type,
                        (fs::path(figures_dir) / ("iis_vs_accuracy_" + ct)).string(), gnuplot))
      files.push_back(f);
  }
  return files;
}

}  // namespace iis::report::detail
