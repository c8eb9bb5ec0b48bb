// `iis fit`: train the standard and interpretable heads on feature files and report the IIS.
#include "iis/fit/fit.hpp"

#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "iis/concepts/concept_type.hpp"

namespace iis::tool {

namespace {

// "prototype (K of the elements) | cluster (...) | ...", from the registry.
std::string concept_type_help() {
  std::string help;
  for (const auto* t : concepts::concept_types())
    help += (help.empty() ? "" : " | ") + t->name() + " (" + t->help() + ")";
  return help;
}

}  // namespace

void add_fit_command(CLI::App& root, Commands& commands) {
  auto o = std::make_shared<fit::FitOptions>();
  auto* app = root.add_subcommand(
      "fit",
      "Train the standard head and the interpretable head at every sparsity ratio on feature "
      "files, and write the IIS to OUT/results.json");
  app->add_option("--train-features", o->train_features, "N×D float .npy")->required();
  app->add_option("--train-labels", o->train_labels, "N integer .npy")->required();
  app->add_option("--val-features", o->val_features, "Nv×D float .npy")->required();
  app->add_option("--val-labels", o->val_labels, "Nv integer .npy")->required();
  app->add_option("--concepts", o->concepts, "M×D float .npy of element vectors")->required();
  app->add_option("--concept-labels", o->concept_labels,
                  "M integer .npy: the class of each element (enables stratified selection)");
  app->add_option("--out", o->out, "Output folder")->required();
  app->add_option("--num-concepts", o->num_concepts, "Concepts K taken from the M elements")
      ->capture_default_str();
  app->add_option("--concept-type", o->concept_type, concept_type_help())->capture_default_str();
  app->add_option("--kmeans-max-elements", o->concept_options.kmeans.max_elements,
                  "cluster: k-means on at most this many elements, a seeded sample (0 = all)")
      ->capture_default_str();
  app->add_option("--kmeans-tol", o->concept_options.kmeans.tol,
                  "cluster: stop when the squared centre shift is <= tol x mean feature variance")
      ->capture_default_str();
  app->add_option("--kmeans-max-iter", o->concept_options.kmeans.max_iter,
                  "cluster: at most this many iterations")
      ->capture_default_str();
  app->add_option("--temperature", o->concept_options.end2end.temperature,
                  "end2end: Gumbel-softmax temperature (> 0)")
      ->capture_default_str();
  app->add_option("--concept-select", o->concept_options.select,
                  "first | stratified | random (default: stratified with --concept-labels, "
                  "random otherwise)");
  app->add_option("--ratios", o->ratios, "Sparsity ratios in [0,1), rising, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--lrs", o->lrs, "Learning rates (the best per ratio is reported)")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--epochs", o->epochs, "Epochs")->capture_default_str();
  app->add_option("--batch-size", o->batch_size, "Batch size")->capture_default_str();
  app->add_option("--seeds", o->seeds, "Seeds; figures are mean ± std over them")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--device", o->device, "cpu | cuda | cuda:N")->capture_default_str();
  app->add_option("--threshold", o->threshold,
                  "strict (the reference: r=0 already drops one) | exact | soft")
      ->capture_default_str();
  app->add_option("--select-on", o->select_on,
                  "val (the reference: best validation epoch) | holdout (pick on held-out "
                  "training rows, report validation accuracy there)")
      ->capture_default_str();
  app->add_option("--holdout-fraction", o->holdout_fraction,
                  "Share of training rows held out with --select-on holdout")
      ->capture_default_str();
  app->add_option("--num-classes", o->num_classes,
                  "Number of classes C (default: largest training label + 1)");
  app->add_flag("--force", o->force,
                "Replace an earlier `iis fit` output of other inputs or settings in --out");
  commands.push_back(
      {app, [o] {
         auto summary = fit::run_fit(*o);
         const auto& r = summary.results;
         std::printf("%-8s %6s %9s %9s %8s\n", "ratio", "kept", "top-1 %", "top-5 %", "ARR");
         for (const auto& e : r["ratios"]) {
           std::printf("%-8g %6lld %9.2f %9.2f %8.4f\n", e["ratio"].get<double>(),
                       static_cast<long long>(e["kept"].get<int64_t>()),
                       100 * e["top1"].get<double>(), 100 * e["top5"].get<double>(),
                       e["arr"].get<double>());
         }
         std::printf("standard accuracy %.2f %%\n", 100 * r["standard_accuracy"].get<double>());
         std::printf("IIS %.4f ± %.4f", r["iis"].get<double>(), r["iis_std"].get<double>());
         if (r["iis_chance_corrected"].is_number()) {
           std::printf(", chance-corrected %.4f", r["iis_chance_corrected"].get<double>());
         }
         std::printf(" (%zu seed%s)\nwrote %s\n", r["seeds"].size(),
                     r["seeds"].size() == 1 ? "" : "s", summary.results_path.c_str());
       }});
}

}  // namespace iis::tool
