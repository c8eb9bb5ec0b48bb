// Stamps and the stage runner of `iis run`.
#include "iis/pipeline/stage.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace iis::pipeline {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

StageKey::StageKey(const std::string& kind) {
  if (!kind.empty()) add("stage", kind).add("iis", std::string(IIS_VERSION));
}

StageKey& StageKey::add(const std::string& key, const std::string& value) {
  text_ += key + "=" + value + "\n";
  return *this;
}
StageKey& StageKey::add(const std::string& key, double value) { return add(key, exact(value)); }
StageKey& StageKey::add(const std::string& key, int64_t value) {
  return add(key, std::to_string(value));
}
StageKey& StageKey::add(const std::string& key, const std::vector<double>& values) {
  std::string s;
  for (double v : values) s += (s.empty() ? "" : ",") + exact(v);
  return add(key, s);
}
StageKey& StageKey::add(const std::string& key, const std::vector<int64_t>& values) {
  std::string s;
  for (auto v : values) s += (s.empty() ? "" : ",") + std::to_string(v);
  return add(key, s);
}
StageKey& StageKey::add_file(const std::string& key, const std::string& path) {
  IIS_CHECK_HINT(fs::is_regular_file(path), key << ": file " << path << " not found",
                 "check the path in the config");
  return add(key, path + "#" + core::fingerprint_file(path));
}
std::string StageKey::hash() const { return core::fingerprint_text(text_); }

std::string stamp_path(const std::string& output_dir) {
  return (fs::path(output_dir) / ".iis-stamp.json").string();
}

StageRunner::StageRunner(bool force, std::string journal)
    : force_(force), journal_(std::move(journal)), started_(now_seconds()) {}

bool StageRunner::up_to_date(const Stage& stage) const {
  const std::string stamp = stamp_path(stage.output_dir);
  if (!fs::exists(stamp)) return false;
  try {
    return json::parse(core::read_text(stamp)).value("hash", "") == stage.key.hash();
  } catch (const std::exception&) {
    return false;  // an unreadable stamp is no stamp
  }
}

void StageRunner::record(const StageRecord& record) {
  records_.push_back(record);
  write_journal();
}

std::string StageRunner::run(const Stage& stage) {
  StageRecord record{stage.name, stage.kind, stage.output_dir, stage.key.hash()};
  const std::string stamp = stamp_path(stage.output_dir);
  if (force_ || !up_to_date(stage)) {
    std::error_code ec;
    fs::remove(stamp, ec);  // first: from here on the folder is untrusted until re-stamped
    if (stage.clean) core::remove_tree(stage.output_dir);
    core::make_dirs(stage.output_dir);
    core::log_info("stage " + stage.name + ": running");
    const double t0 = now_seconds();
    with_context("stage " + stage.name, [&] { stage.run(force_); });
    record.seconds = now_seconds() - t0;
    record.ran = true;
    json s = {{"hash", record.hash},
              {"stage", stage.name},
              {"finished", utc_now()},
              {"seconds", record.seconds},
              {"inputs", stage.key.text()}};
    core::write_text_atomic(stamp, s.dump(2) + "\n");
  } else {
    core::log_info("stage " + stage.name + ": up to date, skipped");
  }
  this->record(record);
  return record.hash;
}

int StageRunner::ran() const {
  int n = 0;
  for (const auto& r : records_) n += r.ran;
  return n;
}
int StageRunner::skipped() const { return static_cast<int>(records_.size()) - ran(); }

void StageRunner::write_journal() const {
  if (journal_.empty()) return;
  json stages = json::array();
  for (const auto& r : records_)
    stages.push_back({{"name", r.name},
                      {"kind", r.kind},
                      {"status", r.ran ? "ran" : "skipped"},
                      {"seconds", r.seconds},
                      {"hash", r.hash},
                      {"output", r.output_dir}});
  json j = {
      {"updated", utc_now()}, {"force", force_},      {"elapsed_seconds", now_seconds() - started_},
      {"ran", ran()},         {"skipped", skipped()}, {"stages", stages}};
  core::write_text_atomic(journal_, j.dump(2) + "\n");
}

}  // namespace iis::pipeline
