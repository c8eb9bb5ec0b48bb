// The settings of `iis fit` results as the report lists them, and the groups of rows that
// share them (only rows fit alike are compared).
#include "iis/report/detail/settings.hpp"

#include <cstdio>
#include <map>
#include <set>

namespace iis::report::detail {
namespace {

// Setting values as page text: one line of text, numbers as %g, lists joined by ", ".
std::string text(const std::string& v) {
  std::string s = v;
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}
std::string text(int64_t v) { return std::to_string(v); }
std::string text(uint64_t v) { return std::to_string(v); }
std::string text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}
template <class T>
std::string text(const std::vector<T>& v) {
  std::string out;
  for (const auto& e : v) out += (out.empty() ? "" : ", ") + text(e);
  return out;
}

std::string train_rows(const results::FitResults& fit) {
  std::string out = text(*fit.train_rows);
  if (fit.per_seed.empty()) return out;
  const auto& rows = fit.per_seed[0].rows;
  if (rows.holdout > 0)
    out += " (" + text(rows.train) + " fit, " + text(rows.holdout) + " held out)";
  return out;
}

std::string epoch_selection(const results::FitSettings& s) {
  if (s.select_on == "val") return "best validation epoch";
  if (s.select_on == "holdout")
    return "best epoch on held-out training rows" +
           (s.holdout_fraction ? " (" + text(*s.holdout_fraction) + ")" : std::string());
  return text(*s.select_on);
}

// The seeds the figures are over: the settings', else the file's; unset when neither says.
std::optional<std::vector<uint64_t>> seeds_of(const results::FitResults& fit) {
  if (fit.settings.seeds) return fit.settings.seeds;
  if (!fit.seeds.empty()) return fit.seeds;
  return std::nullopt;
}

// Names of the settings that identify a group (what makes two IIS comparable).
const std::set<std::string> kCompared = {
    "classes",        "concepts K", "ratios",          "threshold rule",    "epochs",
    "learning rates", "batch size", "epoch selection", "concept selection", "temperature"};

// What the group of `row` is keyed on: the concept type, every fit setting but the seeds
// (and names), the ratios and the classes.
std::string settings_key(const results::FitResults& fit, const ReportRow& row) {
  nlohmann::json key = results::to_json(fit.settings);
  for (const char* name : {"seeds", "backbone", "concept_type"}) key.erase(name);
  nlohmann::json ratios = nlohmann::json::array();
  for (const auto& r : row.ratios) ratios.push_back(r.ratio);
  const nlohmann::json classes = fit.num_classes ? nlohmann::json(*fit.num_classes) : nullptr;
  return row.concept_type + "|" + key.dump() + "|" + ratios.dump() + "|" + classes.dump();
}

}  // namespace

void read_settings(const results::FitResults& fit, ReportRow& row) {
  const results::FitSettings& s = fit.settings;
  const auto seeds = seeds_of(fit);
  if (seeds) row.seeds = static_cast<int>(seeds->size());
  std::vector<double> ratios;
  for (const auto& r : row.ratios) ratios.push_back(r.ratio);
  auto add = [&](const std::string& name, const auto& value) {
    if (value) row.settings.emplace_back(name, text(*value));
  };
  if (fit.train_rows) row.settings.emplace_back("train rows", train_rows(fit));
  add("validation rows", fit.val_rows);
  add("classes", fit.num_classes);
  add("feature dimension", fit.feature_dim);
  add("concepts K", s.num_concepts ? s.num_concepts : fit.num_concepts);
  add("ratios", std::optional<std::vector<double>>(ratios));
  add("threshold rule", s.threshold);
  add("epochs", s.epochs);
  add("learning rates", s.lrs);
  add("batch size", s.batch_size);
  add("seeds", seeds);
  if (s.select_on) row.settings.emplace_back("epoch selection", epoch_selection(s));
  add("concept selection", s.concept_select);
  add("temperature", s.temperature);
  row.settings_key = settings_key(fit, row);
}

void name_groups(std::vector<ReportRow>& rows) {
  std::map<std::string, std::map<std::string, const ReportRow*>> keys;  // type → key → a row
  for (const auto& r : rows) keys[r.concept_type].emplace(r.settings_key, &r);
  std::map<std::string, std::string> names;  // settings key → group name
  for (const auto& [type, by_key] : keys) {
    std::map<std::string, std::set<std::string>> values;  // compared setting → its values
    for (const auto& [key, r] : by_key)
      for (const auto& [name, value] : r->settings)
        if (kCompared.count(name)) values[name].insert(value);
    int index = 0;
    for (const auto& [key, r] : by_key) {
      std::string differs;
      for (const auto& [name, value] : r->settings)
        if (kCompared.count(name) && values[name].size() > 1)
          differs += (differs.empty() ? "" : "; ") + name + " " + value;
      if (differs.empty()) differs = "settings " + std::to_string(++index);
      names[key] = by_key.size() == 1 ? type : type + " [" + differs + "]";
    }
  }
  for (auto& r : rows) r.group = names[r.settings_key];
}

}  // namespace iis::report::detail
