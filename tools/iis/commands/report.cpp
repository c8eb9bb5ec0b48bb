// `iis report RUN_DIR`: summary table, correlations, figures and index.html of a run.
#include <iostream>

#include "commands.hpp"
#include "iis/report/report.hpp"

namespace iis::tool {

// Prints the rows and correlations of a report as an aligned table on stdout.
void print_report(const report::ReportResult& result) {
  std::cout << report::terminal_summary(result);
}

void add_report_command(CLI::App& root, Commands& commands) {
  auto options = std::make_shared<report::ReportOptions>();
  auto no_figures = std::make_shared<bool>(false);
  auto* app = root.add_subcommand(
      "report",
      "Summarise the results.json files under RUN_DIR: summary.csv, summary.json, "
      "figures (gnuplot) and index.html");
  app->add_option("run_dir", options->run_dir, "Folder searched recursively for results.json")
      ->required();
  app->add_option("--out", options->out_dir, "Where the report goes (default: RUN_DIR)");
  app->add_flag("--no-figures", *no_figures, "Only the table and index.html, no gnuplot");
  app->add_option("--gnuplot", options->gnuplot, "The gnuplot executable (default: gnuplot)");
  commands.push_back({app, [options, no_figures] {
                        options->figures = !*no_figures;
                        auto result = report::run_report(*options);
                        print_report(result);
                        std::cout << "wrote " << result.files.size() << " files into "
                                  << (options->out_dir.empty() ? options->run_dir
                                                               : options->out_dir)
                                  << " (open index.html)\n";
                      }});
}

}  // namespace iis::tool
