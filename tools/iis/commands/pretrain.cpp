// `iis pretrain`: trains a native backbone on a labelled dataset, one checkpoint per epoch.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "iis/models/native.hpp"
#include "iis/models/pretrain.hpp"

namespace iis::tool {

void add_pretrain_command(CLI::App& root, Commands& commands) {
  auto options = std::make_shared<models::PretrainOptions>();
  auto* app = root.add_subcommand(
      "pretrain",
      "Train a native backbone (e.g. on Fashion-MNIST), saving a checkpoint each epoch");
  std::string archs;
  for (const auto& a : models::native_architectures()) archs += (archs.empty() ? "" : ", ") + a;
  app->add_option("--arch", options->arch, "Architecture: " + archs)->required();
  app->add_option("--data", options->data,
                  "Training split: an IDX images file (…-images-idx3-ubyte[.gz]) or an "
                  "ImageFolder")
      ->required();
  app->add_option("--val-data", options->val_data,
                  "Test split whose accuracy is logged after each epoch");
  app->add_option("--out", options->out,
                  "Output folder: epoch_<k>.pt (k = 0 is the untrained model), last.pt, log.json")
      ->required();
  app->add_option("--epochs", options->epochs, "Epochs to train (0 keeps the initial model)")
      ->capture_default_str();
  app->add_option("--seed", options->seed, "Seed of the weights, the batch order and the subset")
      ->capture_default_str();
  app->add_option("--batch-size", options->batch_size, "Images per batch")->capture_default_str();
  app->add_option("--lr", options->lr, "Adam learning rate (constant)")->capture_default_str();
  app->add_option("--train-limit", options->train_limit,
                  "Train on a seeded random subset of N images (0: all)")
      ->capture_default_str();
  app->add_option("--device", options->device, "cpu, cuda or cuda:<i>")->capture_default_str();
  app->add_flag("--force", options->force,
                "Start afresh even if --out holds a run (made with any options)");
  commands.push_back({app, [options] {
                        auto result = models::run_pretrain(*options);
                        std::printf("epoch  train_loss  train_acc  val_acc  seconds  checkpoint\n");
                        auto cell = [](double v) {
                          char buf[16];
                          if (std::isfinite(v)) {
                            std::snprintf(buf, sizeof(buf), "%.4f", v);
                          } else {
                            std::snprintf(buf, sizeof(buf), "-");
                          }
                          return std::string(buf);
                        };
                        for (const auto& e : result.epochs) {
                          std::printf("%5lld  %10s  %9s  %7s  %7.1f  %s\n",
                                      static_cast<long long>(e.epoch), cell(e.train_loss).c_str(),
                                      cell(e.train_accuracy).c_str(), cell(e.val_accuracy).c_str(),
                                      e.seconds, e.checkpoint.c_str());
                        }
                        std::printf("trained %lld epoch(s); model: %s; log: %s\n",
                                    static_cast<long long>(result.epochs_trained),
                                    result.checkpoint.c_str(), result.log.c_str());
                      }});
}

}  // namespace iis::tool
