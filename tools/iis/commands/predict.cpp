// `iis predict`: a fit's interpretable and standard heads applied to new rows, into preds.csv.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "iis/predict/predict.hpp"
#include "preprocess_flags.hpp"

namespace iis::tool {

namespace {

void print_predict(const predict::PredictResult& r) {
  for (const auto& w : r.warnings) std::cerr << "warning: " << w << "\n";
  std::cout << "seed " << r.seed << ", " << r.ratio_reason << "\n";
  std::cout << "predicted " << r.rows << " rows into " << r.csv << " (summary: " << r.json << ")\n";
  if (r.accuracy) {
    std::printf("accuracy: interpretable %.4f, standard %.4f, retention %.4f\n", *r.accuracy,
                *r.standard_accuracy, *r.retention);
  }
}

}  // namespace

void add_predict_command(CLI::App& root, Commands& commands) {
  auto o = std::make_shared<predict::PredictOptions>();
  auto* app = root.add_subcommand(
      "predict",
      "Apply a fit's interpretable head (one ratio, one seed) and its standard head to new "
      "rows: preds.csv, and with labels both accuracies and the retention");
  app->add_option("--fit", o->fit, "the --out folder of `iis fit`")->required();
  app->add_option("--ratio", o->choice.ratio,
                  "sparsity ratio of the interpretable head (default: the largest whose mean "
                  "retention is at least 0.95)");
  app->add_option("--seed", o->choice.seed, "seed of the heads (default: the fit's first)");
  app->add_option("--features", o->source.features, "N×D float .npy written by `iis embed`");
  app->add_option("--backbone", o->source.backbone,
                  "embed --data with this backbone first (as `iis embed --backbone`)");
  app->add_option("--data", o->source.data, "ImageFolder folder or IDX images file");
  add_preprocess_flags(app, o->source.preprocess);
  app->add_option("--labels", o->source.labels, "N integer .npy: report accuracies");
  app->add_flag("--no-fingerprint-check", o->source.skip_fingerprint_check,
                "accept --features without an embed.json to check the backbone by");
  app->add_option("--out", o->out, "preds.csv (preds.json, the summary, is written beside it)")
      ->required();
  commands.push_back({app, [o] { print_predict(predict::run_predict(*o)); }});
}

}  // namespace iis::tool
