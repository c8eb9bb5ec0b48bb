// Fabricated results.json files for the report tests, shaped as `iis fit` writes them.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "iis/core/files.hpp"

namespace iis::report::test_data {

using nlohmann::json;

// A results.json as `iis fit` writes it (only the keys the report reads, plus noise), with
// top1(r) = acc · (1 − drop · r) so ARR is known.
inline json fabricated(double acc, double iis, double iis_cc, double drop,
                       const std::string& ct = "") {
  json ratios = json::array();
  for (double r : {0.0, 0.5, 0.9})
    ratios.push_back({{"ratio", r}, {"top1", acc * (1 - drop * r)}, {"top5", 1.0}});
  json j = {{"standard_accuracy", acc},       {"iis", iis},       {"iis_std", 0.01},
            {"iis_chance_corrected", iis_cc}, {"ratios", ratios}, {"settings", {{"epochs", 30}}}};
  if (!ct.empty()) j["concept_type"] = ct;
  return j;
}

// `j` with the settings, sizes and seeds `iis fit` records, as it writes them.
inline json with_fit_settings(json j, const json& seeds = {0, 1, 2}) {
  json ratios = json::array();
  for (const auto& r : j["ratios"]) ratios.push_back(r["ratio"]);
  j["settings"] = {{"num_concepts", 200}, {"concept_select", "stratified"},
                   {"ratios", ratios},    {"lrs", {0.01}},
                   {"epochs", 30},        {"batch_size", 1024},
                   {"lr_decay", 0.99},    {"threshold", "strict"},
                   {"select_on", "val"},  {"holdout_fraction", 0.1},
                   {"num_classes", 0},    {"seeds", seeds}};
  j["seeds"] = seeds;
  j["num_classes"] = 10;
  j["num_concepts"] = 200;
  j["train_rows"] = 10000;
  j["val_rows"] = 2000;
  j["feature_dim"] = 64;
  j["per_seed"] = json::array();
  for (const auto& s : seeds)
    j["per_seed"].push_back(
        {{"seed", s}, {"rows", {{"train", 10000}, {"holdout", 0}, {"val", 2000}}}});
  return j;
}

inline void write(const std::string& path, const json& j) {
  core::make_dirs(std::filesystem::path(path).parent_path().string());
  core::write_text_atomic(path, j.dump());
}

// Four prototype backbones (the hand-computed case of correlation_test), one cluster pair.
inline void fabricate_run(const std::string& run) {
  write(run + "/fit/weak/prototype/results.json", fabricated(0.5, 0.80, 0.60, 0.2, "prototype"));
  write(run + "/fit/mid/prototype/results.json", fabricated(0.6, 0.85, 0.70, 0.1, "prototype"));
  write(run + "/fit/good/prototype/results.json", fabricated(0.7, 0.85, 0.75, 0.1, "prototype"));
  write(run + "/fit/best/prototype/results.json", fabricated(0.8, 0.95, 0.90, 0.0, "prototype"));
  // No concept_type in the file: taken from the path.
  write(run + "/fit/weak/cluster/results.json", fabricated(0.5, 0.70, 0.50, 0.3));
  // Names in the file's settings override a path that does not follow the layout.
  json other = fabricated(0.8, 0.90, 0.85, 0.05);
  other["settings"]["backbone"] = "best";
  other["settings"]["concept_type"] = "cluster";
  write(run + "/elsewhere/results.json", other);
}

// Runs the enclosed code with `dir` as the working folder (gnuplot's `!` commands run there).
class WorkingDir {
 public:
  explicit WorkingDir(const std::string& dir) : old_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~WorkingDir() { std::filesystem::current_path(old_); }

 private:
  std::filesystem::path old_;
};

}  // namespace iis::report::test_data
