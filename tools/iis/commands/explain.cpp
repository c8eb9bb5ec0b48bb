// `iis explain`: a handful of images explained as sums of concepts, into explain.json and a page.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "iis/predict/explain.hpp"
#include "preprocess_flags.hpp"

namespace iis::tool {

void add_explain_command(CLI::App& root, Commands& commands) {
  auto o = std::make_shared<predict::ExplainOptions>();
  auto* app = root.add_subcommand(
      "explain",
      "Explain a fit's interpretable head on a few images: per image both heads' predictions and "
      "the kept concepts' contributions to the logit, into explain.json and a static index.html");
  app->add_option("--fit", o->fit, "the --out folder of `iis fit`")->required();
  app->add_option("--ratio", o->choice.ratio,
                  "sparsity ratio (default: the largest whose mean retention is at least 0.95)");
  app->add_option("--seed", o->choice.seed, "seed of the heads (default: the fit's first)");
  app->add_option("--features", o->source.features, "N×D float .npy written by `iis embed`");
  app->add_option("--backbone", o->source.backbone,
                  "embed --data (or the image files) with this backbone first");
  app->add_option("--data", o->source.data, "ImageFolder folder or IDX images file");
  add_preprocess_flags(app, o->source.preprocess);
  app->add_option("--labels", o->source.labels, "N integer .npy: the true classes");
  app->add_option("--indices", o->indices, "rows of --features or --data, e.g. 0,5,9")
      ->delimiter(',');
  app->add_option("images", o->images, "image files to explain (with --backbone)");
  app->add_option("--shown", o->shown, "contributions drawn with their elements per image")
      ->capture_default_str();
  app->add_flag("--no-fingerprint-check", o->source.skip_fingerprint_check,
                "accept --features without an embed.json to check the backbone by");
  app->add_option("--out", o->out, "output folder")->required();
  commands.push_back({app, [o] {
                        const auto r = predict::run_explain(*o);
                        for (const auto& w : r.warnings) std::cerr << "warning: " << w << "\n";
                        std::cout << r.ratio_reason << "\nexplained " << r.explained
                                  << " images into " << r.json << " and " << r.html << "\n";
                      }});
}

}  // namespace iis::tool
