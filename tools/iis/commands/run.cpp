// `iis run CONFIG` and `iis demo`: the whole pipeline from one YAML config.
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "iis/core/launcher.hpp"
#include "iis/core/progress.hpp"
#include "iis/pipeline/run.hpp"

namespace iis::tool {

void print_report(const report::ReportResult& result);  // commands/report.cpp

namespace {

// `with_report`: the run went as far as the report (no --stage, or --stage report).
void print_run(const pipeline::RunResult& result, bool with_report = true) {
  int ran = 0;
  for (const auto& s : result.stages) ran += s.ran;
  if (with_report) print_report(result.report);
  std::cout << "stages: " << ran << " ran, " << result.stages.size() - ran << " up to date; "
            << core::format_duration(result.seconds) << " in all\n";
  if (with_report) std::cout << "report: " << result.run_dir << "/index.html\n";
}

}  // namespace

void add_run_command(CLI::App& root, Commands& commands) {
  auto options = std::make_shared<pipeline::RunOptions>();
  auto no_figures = std::make_shared<bool>(false);
  auto* app = root.add_subcommand(
      "run",
      "Run the pipeline of a YAML config: elements, embed, fit, report (unchanged "
      "stages are skipped)");
  // No CLI::ExistingFile check: a missing config is an input error (exit 1, with a hint) like
  // every other missing input, not a command-line error.
  app->add_option("config", options->config, "The YAML config (see configs/demo.yaml)")->required();
  app->add_option("--out", options->out, "The run folder (overrides the config's out)");
  app->add_flag("--force", options->force, "Recompute every stage");
  app->add_flag("--no-figures", *no_figures, "Report without gnuplot figures");
  app->add_option("--stage", options->stage,
                  "Run only the stages of this kind and those they need, then stop: pretrain, "
                  "elements, embed (with pretrain and elements), fit, report");
  app->add_option("--shard", options->shard,
                  "With --stage elements|embed: compute only shard i/n of each such stage (auto: "
                  "i and n from mpirun, srun or torchrun); a later run without --shard merges "
                  "the shards and goes on");
  commands.push_back({app, [options, no_figures] {
                        options->figures = !*no_figures;
                        options->environment = core::process_environment();
                        const bool to_report = options->stage.empty() || options->stage == "report";
                        print_run(pipeline::run_pipeline(*options), to_report);
                      }});

  auto demo = std::make_shared<pipeline::DemoOptions>();
  auto* demo_app = root.add_subcommand(
      "demo",
      "The embedded default: backbones of different accuracy trained on Fashion-MNIST, "
      "their IIS and its correlation with accuracy (iis run on configs/demo.yaml)");
  demo_app->add_option("--out", demo->out, "The run folder (default: runs/demo)");
  demo_app->add_flag("--force", demo->force, "Recompute every stage");
  commands.push_back({demo_app, [demo] { print_run(pipeline::run_demo(*demo)); }});
}

}  // namespace iis::tool
