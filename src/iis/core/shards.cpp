// Finding and waiting for the shards of a split output (shards.hpp).
#include "iis/core/shards.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "iis/core/error.hpp"
#include "iis/core/launcher.hpp"
#include "iis/core/progress.hpp"

namespace fs = std::filesystem;

namespace iis::core {

namespace {

// A decimal number as shard_name writes it (no sign, no leading zero) at `at` in `text`;
// advances `at` past it. False when there is none.
bool read_number(const std::string& text, size_t& at, int64_t& value) {
  size_t end = at;
  while (end < text.size() && end - at < 18 && text[end] >= '0' && text[end] <= '9') ++end;
  if (end == at || (text[at] == '0' && end - at > 1)) return false;
  value = std::stoll(text.substr(at, end - at));
  at = end;
  return true;
}

// "a, b, c" of the first ten names, then how many more.
std::string name_list(const std::vector<std::string>& names) {
  std::string list;
  for (size_t k = 0; k < names.size() && k < 10; ++k) list += (k ? ", " : "") + names[k];
  if (names.size() > 10) list += " and " + std::to_string(names.size() - 10) + " more";
  return list;
}

// The shards of `found` (all of one count) not yet complete: "PATH (missing)" or
// "PATH (not finished)".
std::vector<std::string> unfinished(const std::string& out, const std::vector<FoundShard>& found,
                                    const ShardWait& wait) {
  std::map<int64_t, const FoundShard*> by_index;
  for (const FoundShard& s : found) by_index[s.index] = &s;
  const int64_t count = found.front().count;
  std::vector<std::string> left;
  for (int64_t i = 0; i < count; ++i) {
    const auto it = by_index.find(i);
    if (it == by_index.end()) {
      left.push_back(shard_name(out, i, count) + " (missing)");
    } else if (!wait.complete(*it->second)) {
      left.push_back(it->second->path + " (not finished)");
    }
  }
  return left;
}

}  // namespace

std::vector<FoundShard> find_shards(const std::string& out) {
  const fs::path path(shard_name(out, 0, 1));  // `out` without trailing separators, + ".part0of1"
  const std::string base = path.filename().string();
  const std::string stem = base.substr(0, base.size() - std::string("0of1").size());
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::map<std::pair<int64_t, int64_t>, FoundShard> found;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(stem, 0) != 0) continue;
    size_t at = stem.size();
    int64_t index = 0, count = 0;
    if (!read_number(name, at, index) || name.compare(at, 2, "of") != 0) continue;
    at += 2;
    if (!read_number(name, at, count) || index >= count) continue;
    const bool exact = at == name.size();
    if (!exact && name[at] != '.') continue;  // OUT.part1of23 is not a file of OUT.part1of2
    FoundShard& s = found[{count, index}];
    s.index = index;
    s.count = count;
    s.path = shard_name(out, index, count);
    std::error_code folder_ec;
    if (exact && it->is_directory(folder_ec)) s.folder = true;
  }
  std::vector<FoundShard> shards;
  for (auto& [key, s] : found) shards.push_back(std::move(s));
  return shards;
}

std::vector<FoundShard> wait_for_shards(const std::string& out, const ShardWait& wait) {
  IIS_ASSERT(wait.complete && wait.poll_seconds > 0 && wait.timeout_seconds >= 0,
             "wait_for_shards: bad ShardWait");
  const auto start = std::chrono::steady_clock::now();
  const std::string pattern = shard_name(out, 0, 1);
  const std::string names = pattern.substr(0, pattern.size() - 4) + "<i>of<n>";
  std::string logged;
  for (;;) {
    const std::vector<FoundShard> found = find_shards(out);
    std::set<int64_t> counts;
    for (const FoundShard& s : found) counts.insert(s.count);
    if (counts.size() > 1) {
      std::vector<std::string> splits;
      for (int64_t n : counts)
        splits.push_back(names.substr(0, names.size() - 3) + std::to_string(n));
      IIS_FAIL("shards of " << counts.size() << " different splits lie beside " << out << ": "
                            << name_list(splits),
               "remove the shards of the earlier split, or merge them by naming each shard");
    }
    const std::vector<std::string> left =
        found.empty() ? std::vector<std::string>{} : unfinished(out, found, wait);
    if (!found.empty() && left.empty()) return found;
    const std::string status = found.empty() ? "no shard found yet (" + names + ")"
                                             : std::to_string(left.size()) + " of " +
                                                   std::to_string(found.front().count) +
                                                   " shards to come: " + name_list(left);
    if (status != logged) log_info("merge --wait: " + status);
    logged = status;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    IIS_CHECK_HINT(wait.timeout_seconds == 0 || elapsed < wait.timeout_seconds,
                   "--timeout " << wait.timeout_seconds << " s passed waiting for the shards of "
                                << out << ": " << status,
                   "check that every process of the split ran and finished without an error "
                   "(its log), re-run the missing shards, or wait longer (--timeout)");
    double nap = wait.poll_seconds;
    if (wait.timeout_seconds > 0) nap = std::min(nap, wait.timeout_seconds - elapsed);
    std::this_thread::sleep_for(std::chrono::duration<double>(std::max(nap, 0.0)));
  }
}

}  // namespace iis::core
