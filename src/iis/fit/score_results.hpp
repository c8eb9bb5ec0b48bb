// `iis score`: a table of IIS results read from the results.json files `iis fit` writes.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace iis::fit {

struct ScoreOptions {
  std::vector<std::string> results;  // RESULTS.json files (at least one)
};

// One results.json, as results::read_results reads it.
struct ScoreRow {
  std::string file;
  double standard_accuracy = 0, standard_accuracy_std = 0;
  double iis = 0, iis_std = 0;
  // NaN where undefined: `iis fit` writes null when the standard accuracy is at or below chance.
  double iis_chance_corrected = 0, iis_chance_corrected_std = 0;
  int64_t seeds = 0;                 // 0: not recorded
  std::vector<double> ratios, top1;  // sorted by ratio

  // Whether a spread over seeds exists (not with a single seed), as `iis report` decides.
  bool has_spread() const { return seeds != 1; }
};

// The rows drawn from one list of columns (as `iis report` does): a chance-corrected IIS at or
// below chance shows as n/a (null in JSON), a standard deviation only with a spread.
struct ScoreTable {
  std::vector<ScoreRow> rows;
  std::string to_text() const;     // aligned columns; accuracies at the union of ratios
  std::string to_csv() const;      // one line per file, a top1@<ratio> column per ratio
  nlohmann::json to_json() const;  // {"results": [...]}
};

// One row from the text of a results.json; `file` names it in the row and in errors. Throws
// iis::Error if the text is not JSON or not a results.json (results::parse_results).
ScoreRow read_score_row(const std::string& json_text, const std::string& file);

// Reads every file; throws iis::Error naming a file that is missing, not JSON, or not a
// results.json.
ScoreTable run_score(const ScoreOptions& options);

}  // namespace iis::fit
