// run_merge_elements(): the folders of `iis elements --shard i/n` joined into the folder one
// unsharded run writes, after checking that they belong together and are all there once.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/paths.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/shards.hpp"
#include "iis/elements/detail/element_files.hpp"
#include "iis/elements/elements.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace iis::elements {

using detail::kJournal;
using detail::kManifest;
using detail::kSkipped;
using detail::kSummary;

namespace {

// One shard folder and its elements.json.
struct Shard {
  std::string folder;
  json summary;
  int64_t index = 0, count = 0;
};

Shard read_shard(const std::string& folder) {
  Shard s;
  s.folder = folder;
  const std::string path = (fs::path(folder) / kSummary).string();
  std::error_code ec;
  IIS_CHECK_HINT(fs::is_regular_file(path, ec), "shard " << folder << ": " << path << " is missing",
                 "give the folders of `iis elements --shard` runs");
  with_context("shard " + folder, [&] {
    s.summary = json::parse(core::read_text(path));
    IIS_CHECK_HINT(s.summary.value("status", "") == "complete",
                   "not complete (" << path << " says status "
                                    << s.summary.value("status", std::string("?")) << ")",
                   "wait until its `iis elements --shard` process has finished, or run it again "
                   "(it resumes)");
    IIS_CHECK_HINT(s.summary.contains("shard") && s.summary.contains("selection_fingerprint"),
                   path << " records no shard", "re-run this shard with this version of iis");
    s.index = s.summary.at("shard").at(0).get<int64_t>();
    s.count = s.summary.at("shard").at(1).get<int64_t>();
  });
  return s;
}

// The shards sorted by index, after checking that they are the n parts of one selection.
std::vector<Shard> check_shards(std::vector<Shard> shards) {
  core::check_shard_set(shards, &Shard::folder, &Shard::summary,
                        {"selection_fingerprint", "data", "settings", "class_folders"},
                        "merge only the shards of one `iis elements` command (same --data, "
                        "selection and settings)");
  const Shard& first = shards.front();
  for (int64_t i = 0; i < first.count; ++i) {
    IIS_CHECK_HINT(i < static_cast<int64_t>(shards.size()) && shards[i].index == i,
                   "got " << shards.size() << " of " << first.count << " shards: shard " << i << "/"
                          << first.count << " is missing",
                   "run it (`iis elements --shard " << i << "/" << first.count
                                                    << "` with the same options) first");
  }
  return shards;
}

// One element of a shard's manifest.
struct Element {
  std::string path;  // relative to the folder
  std::string line;  // its manifest line, as the shard wrote it (with '\n')
  int64_t label = 0;
  size_t shard = 0;
};

std::vector<Element> read_manifests(const std::vector<Shard>& shards) {
  std::vector<Element> elements;
  for (size_t k = 0; k < shards.size(); ++k) {
    const std::string path = (fs::path(shards[k].folder) / kManifest).string();
    std::istringstream in(core::read_text(path));
    int64_t count = 0;
    for (std::string line; std::getline(in, line); ++count) {
      with_context(path + " line " + std::to_string(count + 1), [&] {
        const json r = json::parse(line);
        elements.push_back(
            {r.at("path").get<std::string>(), line + "\n", r.at("class").get<int64_t>(), k});
      });
    }
    const auto expected = shards[k].summary.value("elements", int64_t{-1});
    IIS_CHECK_HINT(count == expected,
                   path << " holds " << count << " elements, its " << kSummary << " " << expected,
                   "run this shard again");
  }
  // The order run_elements writes: the ImageFolder order of the folder (paths' bytes).
  std::sort(elements.begin(), elements.end(),
            [](const Element& a, const Element& b) { return a.path < b.path; });
  for (size_t k = 1; k < elements.size(); ++k) {
    IIS_CHECK_HINT(elements[k].path != elements[k - 1].path,
                   "shards " << shards[elements[k - 1].shard].folder << " and "
                             << shards[elements[k].shard].folder << " both hold "
                             << elements[k].path,
                   "merge only the shards of one split");
  }
  return elements;
}

// Puts the file `from` at `to`: a hard link where the file system allows (no copy; rewriting
// a shard later replaces its files, never edits them in place), a copy otherwise. A new link
// appears whole; replacing a file, or copying, goes through a temporary name.
void place_file(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_hard_link(from, to, ec);
  if (!ec) return;
  IIS_CHECK_HINT(fs::is_regular_file(from, ec), from.string() << " is missing",
                 "run this shard again (it resumes and rewrites missing elements)");
  const fs::path tmp = to.string() + ".tmp." + std::to_string(::getpid());
  fs::remove(tmp, ec);
  fs::create_hard_link(from, tmp, ec);
  if (ec) fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, to, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    IIS_FAIL("cannot write " << to.string() << ": " << ec.message(),
             "check that --out is writable and the disk is not full");
  }
}

// The complete lines of each shard's file `name`, joined in shard order.
std::string join_lines(const std::vector<Shard>& shards, const char* name) {
  std::string joined;
  for (const Shard& s : shards) {
    const std::string text = core::read_text((fs::path(s.folder) / name).string());
    joined += text.substr(0, text.rfind('\n') + 1);  // a torn last line is dropped
  }
  return joined;
}

// Refuses an --out that holds anything but an earlier merge or run of the same selection.
void check_out(const std::string& out, const std::string& selection) {
  std::error_code ec;
  if (!fs::exists(out, ec) || (fs::is_directory(out, ec) && fs::is_empty(out, ec))) return;
  IIS_CHECK_HINT(fs::is_directory(out, ec), "--out " << out << " is a file, not a folder",
                 "choose a folder for the merged elements");
  const fs::path summary = fs::path(out) / kSummary;
  json previous;
  if (fs::is_regular_file(summary, ec)) {
    previous = json::parse(core::read_text(summary.string()), nullptr, false);
  }
  IIS_CHECK_HINT(previous.is_object() && previous.value("fingerprint", "") == selection,
                 "--out " << out << " is not empty and holds no elements of this selection",
                 "choose another --out, or remove it");
}

}  // namespace

MergeElementsResult run_merge_elements(const MergeElementsOptions& options) {
  IIS_CHECK_HINT(!options.shards.empty(), "no shards to merge", "iis merge --out DIR SHARD_DIR...");
  IIS_CHECK_HINT(!options.out.empty(), "--out is required", "the folder of the merged elements");
  const auto start = std::chrono::steady_clock::now();
  std::vector<core::NamedPath> inputs;
  std::vector<Shard> shards;
  for (const std::string& folder : options.shards) {
    inputs.push_back({"shard " + folder, folder});
    shards.push_back(read_shard(folder));
  }
  core::check_output_apart({"--out", options.out}, inputs);
  shards = check_shards(std::move(shards));
  const json& first = shards.front().summary;
  const std::string selection = first.at("selection_fingerprint").get<std::string>();
  check_out(options.out, selection);
  const std::vector<Element> elements = read_manifests(shards);

  // While the files are placed the folder says "running": `iis merge --wait` and a resumed
  // `iis elements` must not take it for complete.
  const fs::path out(options.out);
  core::make_dirs(options.out);
  json summary = first;
  summary["fingerprint"] = selection;
  summary["shard"] = {0, 1};
  summary["status"] = "running";
  core::write_text_atomic((out / kSummary).string(), summary.dump(2) + "\n");
  for (const json& folder : first.at("class_folders")) {
    core::make_dirs((out / folder.get<std::string>()).string());
  }
  core::Progress progress("merge (elements)", static_cast<int64_t>(elements.size()), "elements");
  std::string manifest;
  std::vector<int64_t> labels;
  for (const Element& e : elements) {
    place_file(fs::path(shards[e.shard].folder) / e.path, out / e.path);
    manifest += e.line;
    labels.push_back(e.label);
    progress.advance();
  }
  progress.finish();
  detail::write_lists(options.out, manifest, labels, join_lines(shards, kSkipped));
  core::write_text_atomic((out / kJournal).string(), join_lines(shards, kJournal));

  MergeElementsResult result;
  result.shards = static_cast<int64_t>(shards.size());
  result.elements = static_cast<int64_t>(elements.size());
  json skipped = json::array(), merged_from = json::array();
  for (const Shard& s : shards) {
    result.images += s.summary.at("images").get<int64_t>();
    result.images_skipped += s.summary.at("images_skipped").get<int64_t>();
    for (const json& entry : s.summary.at("skipped")) skipped.push_back(entry);
    merged_from.push_back({{"folder", s.folder}, {"seconds", s.summary.at("seconds")}});
  }
  summary["status"] = "complete";
  summary["images"] = result.images;
  summary["images_resumed"] = 0;
  summary["images_skipped"] = result.images_skipped;
  summary["elements"] = result.elements;
  summary["skipped"] = skipped;
  summary["seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary["merged_from"] = merged_from;
  core::write_text_atomic((out / kSummary).string(), summary.dump(2) + "\n");
  return result;
}

}  // namespace iis::elements
