// `iis merge`: joins the shards of `iis embed --shard i/n` into one set of files.
#include <iostream>

#include "commands.hpp"
#include "iis/embed/embed.hpp"

namespace iis::tool {

void add_merge_command(CLI::App& root, Commands& commands) {
  auto* app = root.add_subcommand(
      "merge",
      "Join embed shards (the --out prefixes of `iis embed --shard i/n`) into one set of files, "
      "checking they come from one backbone and dataset and cover it exactly once");
  auto options = std::make_shared<embed::MergeOptions>();
  app->add_option("shards", options->shards, "shard prefixes, any order")->required();
  app->add_option("--out", options->out, "prefix of the merged files")->required();
  commands.push_back({app, [options] {
                        const auto r = embed::run_merge(*options);
                        std::cout << "merged " << r.shards << " shards: " << r.rows << " rows of "
                                  << r.feature_dim << " features, " << r.skipped
                                  << " skipped images, into " << options->out << ".*\n";
                      }});
}

}  // namespace iis::tool
