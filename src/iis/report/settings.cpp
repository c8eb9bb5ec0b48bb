// The settings of `iis fit` results as the report lists them, and the groups of rows that
// share them (only rows fit alike are compared).
#include "iis/report/detail/settings.hpp"

#include <cstdio>
#include <map>
#include <set>

using nlohmann::json;

namespace iis::report::detail {
namespace {

// A results.json value as page text: numbers as %g, lists joined by ", ".
std::string text(const json& v) {
  if (v.is_string()) {  // one line of text, whatever the file holds
    std::string s = v.get<std::string>();
    for (char& c : s)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return s;
  }
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", v.get<double>());
    return buf;
  }
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) out += (out.empty() ? "" : ", ") + text(e);
    return out;
  }
  return v.dump();
}

// `key` from "settings", else from the top level; null when neither has it.
json setting(const json& j, const std::string& key) {
  if (j.contains("settings") && j["settings"].is_object() && j["settings"].contains(key))
    return j["settings"][key];
  return j.value(key, json());
}

std::string train_rows(const json& j) {
  std::string out = text(j["train_rows"]);
  if (!j.contains("per_seed") || !j["per_seed"].is_array() || j["per_seed"].empty()) return out;
  const json rows = j["per_seed"][0].value("rows", json::object());
  if (rows.value("holdout", 0) > 0)
    out += " (" + text(rows["train"]) + " fit, " + text(rows["holdout"]) + " held out)";
  return out;
}

std::string epoch_selection(const json& j) {
  const json on = setting(j, "select_on");
  if (on == "val") return "best validation epoch";
  if (on == "holdout")
    return "best epoch on held-out training rows (" + text(setting(j, "holdout_fraction")) + ")";
  return text(on);
}

// Names of the settings that identify a group (what makes two IIS comparable).
const std::set<std::string> kCompared = {
    "classes",        "concepts K", "ratios",          "threshold rule",    "epochs",
    "learning rates", "batch size", "epoch selection", "concept selection", "temperature"};

}  // namespace

void read_settings(const json& j, ReportRow& row) {
  const json seeds = setting(j, "seeds");
  if (seeds.is_array()) row.seeds = static_cast<int>(seeds.size());
  json ratios = json::array();
  for (const auto& r : row.ratios) ratios.push_back(r.ratio);
  auto add = [&](const std::string& name, const json& value) {
    if (!value.is_null()) row.settings.emplace_back(name, text(value));
  };
  if (j.contains("train_rows")) row.settings.emplace_back("train rows", train_rows(j));
  add("validation rows", j.value("val_rows", json()));
  add("classes", j.value("num_classes", json()));
  add("feature dimension", j.value("feature_dim", json()));
  add("concepts K", setting(j, "num_concepts"));
  add("ratios", ratios);
  add("threshold rule", setting(j, "threshold"));
  add("epochs", setting(j, "epochs"));
  add("learning rates", setting(j, "lrs"));
  add("batch size", setting(j, "batch_size"));
  add("seeds", seeds);
  if (!setting(j, "select_on").is_null()) add("epoch selection", epoch_selection(j));
  add("concept selection", setting(j, "concept_select"));
  add("temperature", setting(j, "temperature"));

  json key = j.value("settings", json::object());
  if (!key.is_object()) key = json::object();
  for (const char* name : {"seeds", "backbone", "concept_type"}) key.erase(name);
  row.settings_key = row.concept_type + "|" + key.dump() + "|" + ratios.dump() + "|" +
                     j.value("num_classes", json()).dump();
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
