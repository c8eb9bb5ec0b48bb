// `iis report RUN_DIR`: collects the results.json files of a run into a table (summary.csv,
// summary.json), correlations across backbones, figures (gnuplot) and an index.html.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace iis::report {

// Options of run_report; defaults in the comments.
struct ReportOptions {
  // Folder searched recursively for results.json files (required).
  std::string run_dir;
  // Where summary.csv, summary.json, index.html and figures/ go (default: run_dir).
  std::string out_dir;
  // Draw the figures with gnuplot (default true). Without it only the table and the HTML
  // are written.
  bool figures = true;
  // The gnuplot executable: a name looked up on PATH or a path (default "gnuplot").
  std::string gnuplot = "gnuplot";
  // Write a concept atlas per backbone and concept type whose fit folder holds its heads
  // (default true): out_dir/atlas/<backbone>/<concept type>/index.html, linked from index.html.
  bool atlas = true;
};

// Accuracy at one sparsity ratio, means over seeds (top1_std is NaN when not recorded).
struct RatioAccuracy {
  double ratio = 0, top1 = 0, top5 = 0, top1_std = 0;
};

// One backbone × concept type: one results.json.
struct ReportRow {
  std::string backbone, concept_type;
  std::string source;  // the results.json, relative to the run folder
  double standard_accuracy = 0;
  double iis = 0, iis_std = 0;
  // NaN where undefined: `iis fit` writes null when the standard accuracy is at or below chance.
  double iis_chance_corrected = 0;
  std::vector<RatioAccuracy> ratios;  // sorted by ratio
  // What `iis fit` warned about these settings (results.json "warnings"; none if absent).
  std::vector<std::string> warnings;
  int seeds = 0;  // how many seeds the means are over (0: not recorded)
  // What the scores depend on, as (name, value) text for the page, in a fixed order: sizes,
  // K, ratios, threshold rule, epochs, seeds, selection rules (those results.json records).
  std::vector<std::pair<std::string, std::string>> settings;
  // Equal for rows fit with the same settings (concept type, ratios, every fit setting but
  // the seeds, classes): only such rows are compared with each other.
  std::string settings_key;
  // The comparison group: the concept type, followed by the settings that tell its groups
  // apart ("prototype [ratios 0, 0.5, 0.9]") when one concept type was fit with several.
  // Empty: the concept type.
  std::string group;
  // A backbone `iis run` fine-tuned from another (RUN/finetune/<backbone>/finetune.json
  // exists): shown, but left out of the correlations, where copies of one backbone would
  // count as independent backbones; finetune.csv compares it with its start and control.
  bool fine_tuned = false;

  // ARR(r) = top1(r) / standard_accuracy, aligned with `ratios`.
  std::vector<double> retention() const;
  // The group name (`group`, else the concept type).
  const std::string& group_name() const { return group.empty() ? concept_type : group; }
  // Whether a spread over seeds exists (not with a single seed).
  bool has_spread() const { return seeds != 1; }
};

// Correlation across the backbones of one group (one concept type fit with one set of
// settings), between standard accuracy and IIS (plain and chance-corrected). NaN where
// undefined (a constant series) and below kMinBackbones backbones, where any two points lie
// on a line. The chance-corrected coefficients use the n_chance_corrected backbones above
// chance.
constexpr int kMinBackbones = 3;
struct CorrelationSummary {
  int n = 0, n_chance_corrected = 0;
  int n_fine_tuned = 0;  // fine-tuned backbones of the group, not among the n
  double pearson = 0, spearman = 0;
  double pearson_chance_corrected = 0, spearman_chance_corrected = 0;
};

// What run_report found and wrote.
struct ReportResult {
  std::vector<ReportRow> rows;  // by concept type, then group, then accuracy
  std::map<std::string, CorrelationSummary> correlations;  // by group name
  std::vector<std::string> files;                          // every file written
};

// Reads results.json files under a folder. Names: the file's own "backbone" /
// "concept_type" (top level or under "settings") when present; otherwise from the path,
// RUN_DIR/[fit/]<backbone>/<concept_type>/results.json. Throws iis::Error naming the file
// for a results.json that lacks the required keys, and when none is found.
std::vector<ReportRow> collect_results(const std::string& run_dir);

// Correlations per group over `rows`.
std::map<std::string, CorrelationSummary> correlate(const std::vector<ReportRow>& rows);

// The group names of `rows` in the order they first appear (the table's order).
std::vector<std::string> groups_in_order(const std::vector<ReportRow>& rows);

// Runs the whole report: summary.csv, summary.json, figures/*.{png,svg} and index.html
// in options.out_dir, each written atomically.
ReportResult run_report(const ReportOptions& options);

// The rows and correlations of a report as aligned lines for a terminal.
std::string terminal_summary(const ReportResult& result);

// The path of an executable named `name` (PATH lookup unless it contains a '/'), or "".
std::string find_executable(const std::string& name);

}  // namespace iis::report
