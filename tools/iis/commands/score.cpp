// `iis score RESULTS.json...`: one row per results file, as a table, JSON or CSV.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "iis/fit/score_results.hpp"

namespace iis::tool {

void add_score_command(CLI::App& root, Commands& commands) {
  auto o = std::make_shared<fit::ScoreOptions>();
  auto as_json = std::make_shared<bool>(false);
  auto as_csv = std::make_shared<bool>(false);
  auto* app = root.add_subcommand(
      "score",
      "Print standard accuracy, IIS ± std, chance-corrected IIS and the accuracy at "
      "each ratio of results.json files");
  app->add_option("results", o->results, "results.json files written by `iis fit`")->required();
  auto* j = app->add_flag("--json", *as_json, "JSON on stdout");
  app->add_flag("--csv", *as_csv, "CSV on stdout")->excludes(j);
  commands.push_back({app, [o, as_json, as_csv] {
                        auto table = fit::run_score(*o);
                        if (*as_json) {
                          std::cout << table.to_json().dump(2) << "\n";
                        } else if (*as_csv) {
                          std::cout << table.to_csv();
                        } else {
                          std::cout << table.to_text();
                        }
                      }});
}

}  // namespace iis::tool
