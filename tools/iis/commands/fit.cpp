// `iis fit`: train the standard and interpretable heads on feature files and report the IIS.
#include "iis/fit/fit.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli_options.hpp"
#include "commands.hpp"

namespace iis::tool {

void add_fit_command(CLI::App& root, Commands& commands) {
  auto o = std::make_shared<fit::FitOptions>();
  auto* app = root.add_subcommand(
      "fit",
      "Train the standard head and the interpretable head at every sparsity ratio on feature "
      "files, and write the IIS to OUT/results.json");
  add_options(app, fit::fit_options(*o));
  commands.push_back(
      {app, [o] {
         auto summary = fit::run_fit(*o);
         const auto& r = summary.results;
         std::printf("%-8s %6s %9s %9s %8s\n", "ratio", "kept", "top-1 %", "top-5 %", "ARR");
         for (const auto& e : r.ratios) {
           std::printf("%-8g %6lld %9.2f %9.2f %8.4f\n", e.ratio, static_cast<long long>(e.kept),
                       100 * e.top1, 100 * e.top5, e.arr);
         }
         std::printf("standard accuracy %.2f %%\n", 100 * r.standard_accuracy);
         std::printf("IIS %.4f ± %.4f", r.iis, r.iis_std);
         if (std::isfinite(r.iis_chance_corrected)) {
           std::printf(", chance-corrected %.4f", r.iis_chance_corrected);
         }
         std::printf(" (%zu seed%s)\nwrote %s\n", r.seeds.size(), r.seeds.size() == 1 ? "" : "s",
                     summary.results_path.c_str());
       }});
}

}  // namespace iis::tool
