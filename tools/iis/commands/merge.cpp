// `iis merge`: joins the shards of `iis embed --shard` (prefixes of files) or of
// `iis elements --shard` (folders) into what one process writes; --wait finds them and waits.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "iis/core/error.hpp"
#include "iis/core/shards.hpp"
#include "iis/elements/elements.hpp"
#include "iis/embed/embed.hpp"

namespace iis::tool {

namespace {

struct MergeFlags {
  std::vector<std::string> shards;
  std::string out;
  bool wait = false;
  double timeout = 0;
};

// Element shards are folders, embed shards prefixes of files (which `iis embed` refuses to be
// folders): true for folders, throws when the shards mix both.
bool are_folders(const std::vector<std::string>& shards) {
  std::error_code ec;
  const auto folders = std::count_if(shards.begin(), shards.end(), [&](const std::string& s) {
    return std::filesystem::is_directory(s, ec);
  });
  IIS_CHECK_HINT(folders == 0 || folders == static_cast<std::ptrdiff_t>(shards.size()),
                 "the shards mix folders of `iis elements` and prefixes of `iis embed` ("
                     << shards.front() << ", " << shards.back() << ")",
                 "merge the shards of one command at a time");
  return folders > 0;
}

// The shards of flags.out once all have finished (core::wait_for_shards).
std::vector<std::string> wait_for(const MergeFlags& flags) {
  core::ShardWait wait;
  wait.timeout_seconds = flags.timeout;
  wait.complete = [](const core::FoundShard& s) {
    return s.folder ? elements::elements_complete(s.path) : embed::embed_complete(s.path);
  };
  std::vector<std::string> shards;
  for (const auto& s : core::wait_for_shards(flags.out, wait)) shards.push_back(s.path);
  return shards;
}

void merge(const MergeFlags& flags) {
  const std::vector<std::string> shards = flags.wait ? wait_for(flags) : flags.shards;
  if (are_folders(shards)) {
    const auto r = elements::run_merge_elements({shards, flags.out});
    std::cout << "merged " << r.shards << " shards: " << r.elements << " elements from "
              << r.images - r.images_skipped << " of " << r.images << " images, into " << flags.out
              << "\n";
  } else {
    const auto r = embed::run_merge({shards, flags.out});
    std::cout << "merged " << r.shards << " shards: " << r.rows << " rows of " << r.feature_dim
              << " features, " << r.skipped << " skipped images, into " << flags.out << ".*\n";
  }
}

}  // namespace

void add_merge_command(CLI::App& root, Commands& commands) {
  auto* app = root.add_subcommand(
      "merge",
      "Join the shards of `iis embed --shard` (prefixes) or `iis elements --shard` (folders) into "
      "the files one process writes, checking they come from one command and cover its input "
      "exactly once; --wait finds OUT.part<i>of<n> and waits until all n have finished");
  auto flags = std::make_shared<MergeFlags>();
  auto* shards = app->add_option("shards", flags->shards,
                                 "shard prefixes (iis embed) or folders (iis elements), any order");
  app->add_option("--out", flags->out, "prefix (iis embed) or folder (iis elements) of the result")
      ->required();
  auto* wait = app->add_flag("--wait", flags->wait,
                             "instead of naming the shards: find OUT.part<i>of<n> beside --out, "
                             "wait until all n have finished, then merge");
  wait->excludes(shards);
  app->add_option("--timeout", flags->timeout,
                  "with --wait: give up after S seconds, naming the shards still missing "
                  "(0 = no limit)")
      ->needs(wait)
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app->parse_complete_callback([flags] {
    if (flags->shards.empty() && !flags->wait) throw CLI::RequiredError("shards (or --wait)");
  });
  commands.push_back({app, [flags] { merge(*flags); }});
}

}  // namespace iis::tool
