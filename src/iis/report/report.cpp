// `iis report`: results.json files → summary table, correlations, figures and index.html.
#include "iis/report/report.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <sstream>

#include "iis/concepts/registry.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/report/correlation.hpp"
#include "iis/report/detail/figures.hpp"
#include "iis/report/detail/outputs.hpp"
#include "iis/report/detail/settings.hpp"
#include "iis/results/results.hpp"

namespace fs = std::filesystem;

namespace iis::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool has_control_character(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// `s` with its control characters written out (\n, \x01), for an error message.
std::string visible(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (!has_control_character(std::string(1, c))) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out;
}

// Names end up in table cells, terminal lines and figure scripts, where a line break could
// forge a row or, in a script, a command: a name with a control character is refused.
void check_name(const std::string& name, const std::string& what, const std::string& file) {
  IIS_CHECK_HINT(!has_control_character(name),
                 visible(file) << ": the " << what << " '" << visible(name)
                               << "' contains a control character (a line break, a tab, ...)",
                 "rename it: names are shown in tables and figures and must be one line of text");
}

// The numbers of one results.json: accuracy, IIS and the accuracy at each ratio.
void read_numbers(const results::FitResults& fit, ReportRow& row) {
  row.standard_accuracy = fit.standard_accuracy;
  row.iis = fit.iis;
  row.iis_chance_corrected = fit.iis_chance_corrected;  // NaN at or below chance
  row.iis_std = std::isnan(fit.iis_std) ? 0 : fit.iis_std;
  for (const auto& r : fit.ratios) row.ratios.push_back({r.ratio, r.top1, r.top5, r.top1_std});
  std::sort(row.ratios.begin(), row.ratios.end(),
            [](const RatioAccuracy& a, const RatioAccuracy& b) { return a.ratio < b.ratio; });
}

// The fit's warnings, each made one line of text.
std::vector<std::string> one_line_warnings(const results::FitResults& fit) {
  std::vector<std::string> out = fit.warnings;
  for (auto& text : out)
    for (char& c : text)
      if (has_control_character(std::string(1, c))) c = ' ';
  return out;
}

// A name from the file: at its top level, else in its settings; "" where neither has it.
std::string name_in_file(const std::optional<std::string>& top,
                         const std::optional<std::string>& in_settings) {
  return top ? *top : in_settings.value_or("");
}

// Names from the file itself, else from RUN_DIR/[fit/]<backbone>/<concept_type>/.
void read_names(const results::FitResults& fit, const fs::path& file, const fs::path& run_dir,
                ReportRow& row) {
  const std::string name = file.string();
  std::vector<std::string> parts;
  for (const auto& p : fs::relative(file.parent_path(), run_dir))
    if (p != ".") parts.push_back(p.string());
  row.concept_type = name_in_file(fit.concept_type, fit.settings.concept_type);
  if (row.concept_type.empty()) row.concept_type = parts.size() >= 2 ? parts.back() : "prototype";
  if (!parts.empty() && parts.back() == row.concept_type) parts.pop_back();
  if (parts.size() > 1 && parts.front() == "fit") parts.erase(parts.begin());
  row.backbone = name_in_file(fit.backbone, fit.settings.backbone);
  if (row.backbone.empty()) {
    for (size_t i = 0; i < parts.size(); ++i) row.backbone += (i ? "/" : "") + parts[i];
    if (row.backbone.empty()) row.backbone = fs::absolute(run_dir).filename().string();
  }
  check_name(row.backbone, "backbone name", name);
  check_name(row.concept_type, "concept type", name);
}

ReportRow read_row(const fs::path& file, const fs::path& run_dir) {
  const std::string name = file.string();
  for (const auto& p : fs::relative(file, run_dir)) check_name(p.string(), "folder name", name);
  const results::FitResults fit = results::read_results(name);
  ReportRow row;
  row.source = fs::relative(file, run_dir).generic_string();
  read_numbers(fit, row);
  row.warnings = one_line_warnings(fit);
  read_names(fit, file, run_dir, row);
  detail::read_settings(fit, row);
  return row;
}

}  // namespace

std::vector<double> ReportRow::retention() const {
  std::vector<double> arr;
  for (const auto& r : ratios)
    arr.push_back(standard_accuracy > 0 ? r.top1 / standard_accuracy : kNaN);
  return arr;
}

std::vector<ReportRow> collect_results(const std::string& run_dir) {
  IIS_CHECK_HINT(fs::is_directory(run_dir), "run folder " << run_dir << " does not exist",
                 "pass the folder `iis run` or `iis fit` wrote");
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(run_dir);
       it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && !name.empty() && name[0] == '.') {
      it.disable_recursion_pending();  // hidden folders hold temporaries, never results
      continue;
    }
    if (it->is_regular_file() && name == "results.json") files.push_back(it->path());
  }
  IIS_CHECK_HINT(!files.empty(), "no results.json under " << run_dir,
                 "run `iis fit --out DIR` or `iis run CONFIG` first, then report on its folder");
  std::sort(files.begin(), files.end());
  std::vector<ReportRow> rows;
  for (const auto& f : files) rows.push_back(read_row(f, run_dir));
  for (auto& r : rows)
    r.fine_tuned =
        fs::is_regular_file(fs::path(run_dir) / "finetune" / r.backbone / "finetune.json");

  // Two files resolving to the same names keep both, told apart by their folder.
  std::map<std::pair<std::string, std::string>, int> seen;
  for (const auto& r : rows) ++seen[{r.backbone, r.concept_type}];
  for (auto& r : rows)
    if (seen[{r.backbone, r.concept_type}] > 1)
      r.backbone += " (" + fs::path(r.source).parent_path().generic_string() + ")";

  detail::name_groups(rows);
  std::stable_sort(rows.begin(), rows.end(), [](const ReportRow& a, const ReportRow& b) {
    // The registry's order (prototype, cluster, end2end: the paper's), then others by name.
    const size_t ta = concepts::concept_type_order(a.concept_type),
                 tb = concepts::concept_type_order(b.concept_type);
    if (ta != tb) return ta < tb;
    if (a.concept_type != b.concept_type) return a.concept_type < b.concept_type;
    if (a.group != b.group) return a.group < b.group;
    if (a.standard_accuracy != b.standard_accuracy)
      return a.standard_accuracy < b.standard_accuracy;
    return a.backbone < b.backbone;
  });
  return rows;
}

namespace {

// The correlations of one group's rows; NaN below kMinBackbones.
CorrelationSummary correlate_group(const std::vector<const ReportRow*>& group) {
  std::vector<double> acc, iis, acc_above_chance, cc;
  int fine_tuned = 0;
  for (const auto* r : group) {
    if (r->fine_tuned) {
      ++fine_tuned;
      continue;
    }
    acc.push_back(r->standard_accuracy);
    iis.push_back(r->iis);
    if (std::isnan(r->iis_chance_corrected)) continue;
    acc_above_chance.push_back(r->standard_accuracy);
    cc.push_back(r->iis_chance_corrected);
  }
  CorrelationSummary c;
  c.n = static_cast<int>(acc.size());
  c.n_chance_corrected = static_cast<int>(cc.size());
  c.n_fine_tuned = fine_tuned;
  const bool enough = c.n >= kMinBackbones, enough_cc = c.n_chance_corrected >= kMinBackbones;
  c.pearson = enough ? pearson(acc, iis) : kNaN;
  c.spearman = enough ? spearman(acc, iis) : kNaN;
  c.pearson_chance_corrected = enough_cc ? pearson(acc_above_chance, cc) : kNaN;
  c.spearman_chance_corrected = enough_cc ? spearman(acc_above_chance, cc) : kNaN;
  return c;
}

}  // namespace

std::map<std::string, CorrelationSummary> correlate(const std::vector<ReportRow>& rows) {
  std::map<std::string, std::vector<const ReportRow*>> groups;
  for (const auto& r : rows) groups[r.group_name()].push_back(&r);
  std::map<std::string, CorrelationSummary> out;
  for (const auto& [name, group] : groups) out[name] = correlate_group(group);
  return out;
}

std::vector<std::string> groups_in_order(const std::vector<ReportRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows)
    if (std::find(out.begin(), out.end(), r.group_name()) == out.end())
      out.push_back(r.group_name());
  return out;
}

std::string find_executable(const std::string& name) {
  auto runnable = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) return runnable(name) ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const fs::path candidate = fs::path(dir) / name;
    if (runnable(candidate)) return candidate.string();
  }
  return "";
}

ReportResult run_report(const ReportOptions& options) {
  IIS_CHECK_HINT(!options.run_dir.empty(), "no run folder given", "usage: iis report RUN_DIR");
  const std::string out_dir = options.out_dir.empty() ? options.run_dir : options.out_dir;
  std::string gnuplot;
  if (options.figures) {
    gnuplot = find_executable(options.gnuplot);
    IIS_CHECK_HINT(!gnuplot.empty(), "gnuplot not found (looked for '" << options.gnuplot << "')",
                   "install Debian's gnuplot-nox (sudo apt-get install gnuplot-nox), or pass "
                   "--no-figures for the table alone");
  }
  ReportResult result;
  result.rows = collect_results(options.run_dir);
  result.correlations = correlate(result.rows);

  core::make_dirs(out_dir);
  auto out = [&](const std::string& name) { return (fs::path(out_dir) / name).string(); };
  std::vector<std::string> figures;
  if (options.figures) figures = detail::draw_figures(result, out("figures"), gnuplot);
  core::write_text_atomic(out("summary.csv"), detail::summary_csv(result.rows));
  core::write_text_atomic(out("summary.json"),
                          detail::summary_json(result, options.run_dir).dump(2) + "\n");
  const auto pages = detail::linked_pages(result, options.run_dir, out_dir, options.atlas);
  core::write_text_atomic(out("index.html"),
                          detail::index_html(result, options.run_dir, figures, out_dir, pages));
  result.files = {out("summary.csv"), out("summary.json"), out("index.html")};
  result.files.insert(result.files.end(), figures.begin(), figures.end());
  result.files.insert(result.files.end(), pages.files.begin(), pages.files.end());
  return result;
}

}  // namespace iis::report
