// The output folder of `iis fit`: what an earlier run left there, and whether it may be reused.
#include "iis/fit/detail/out_folder.hpp"

#include <filesystem>
#include <set>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"

namespace iis::fit::detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kOutHint = "choose another --out, or delete the folder to start over";

// What `iis fit` writes into OUT: all that --force removes, and nothing else.
const char* const kFitOutputs[] = {"fit_inputs.json", "results.json", "curve.csv",
                                   "epochs.csv",      "concepts.npy", "seeds"};

// The settings an earlier run recorded in OUT: fit_inputs.json's, or (folders written before it
// held them) results.json's; null when neither says.
json earlier_settings(const fs::path& out, const json& marker) {
  if (marker.contains("settings")) return marker["settings"];
  const auto results = (out / "results.json").string();
  if (!fs::exists(results)) return nullptr;
  json r = json::parse(core::read_text(results), nullptr, /*allow_exceptions=*/false);
  if (!r.is_object() || !r.contains("settings")) return nullptr;
  json settings = r["settings"];
  settings.erase("seeds");
  settings["concept_type"] = r.value("concept_type", "prototype");
  return settings;
}

// "key: a there, b here" for every setting that differs.
std::string setting_differences(const json& there, const json& here) {
  auto text = [](const json& v) {
    return v.is_null() ? std::string("unset") : v.is_string() ? v.get<std::string>() : v.dump();
  };
  std::set<std::string> keys;
  for (const auto& [key, value] : there.items()) keys.insert(key);
  for (const auto& [key, value] : here.items()) keys.insert(key);
  std::string out;
  for (const auto& key : keys) {
    const json a = there.value(key, json()), b = here.value(key, json());
    if (a == b) continue;
    out += (out.empty() ? "" : "; ") + key + ": " + text(a) + " there, " + text(b) + " here";
  }
  return out;
}

}  // namespace

bool check_out_folder(const FitOptions& o, const std::string& key, const json& settings) {
  if (!fs::exists(o.out)) return false;
  IIS_CHECK_HINT(fs::is_directory(o.out), "--out " << o.out << " exists and is not a folder",
                 kOutHint);
  if (fs::is_empty(o.out)) return false;
  const auto marker_path = (fs::path(o.out) / "fit_inputs.json").string();
  IIS_CHECK_HINT(fs::exists(marker_path),
                 "--out " << o.out << " is not empty and holds no earlier `iis fit` output",
                 kOutHint);
  json marker;
  with_context("reading " + marker_path,
               [&] { marker = json::parse(core::read_text(marker_path)); });
  const std::string force_hint =
      "add --force to replace it, or choose another --out (or delete the folder)";
  if (marker.value("inputs_key", "") != key) {
    IIS_CHECK_HINT(o.force,
                   "--out " << o.out << " holds results of different inputs (fingerprint "
                            << marker.value("inputs_key", "?") << ", these inputs " << key << ")",
                   force_hint);
    return true;
  }
  const json there = earlier_settings(o.out, marker);
  if (there.is_null() || there == settings) return false;
  IIS_CHECK_HINT(o.force,
                 "--out " << o.out << " holds an `iis fit` run of other settings ("
                          << setting_differences(there, settings) << ")",
                 force_hint);
  return true;
}

void clear_out_folder(const FitOptions& o, bool replace) {
  const fs::path out(o.out);
  if (replace) {
    for (const char* name : kFitOutputs) core::remove_tree((out / name).string());
    return;
  }
  if (!o.force || !fs::is_directory(out / "seeds")) return;
  std::set<std::string> listed;
  for (uint64_t seed : o.seeds) listed.insert(std::to_string(seed));
  for (const auto& entry : fs::directory_iterator(out / "seeds")) {
    if (!listed.count(entry.path().filename().string())) core::remove_tree(entry.path().string());
  }
}

}  // namespace iis::fit::detail
