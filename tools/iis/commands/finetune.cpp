// `iis finetune`: fine-tune a backbone through its standard and its sparse concept head.
#include "iis/finetune/finetune.hpp"

#include <cstdio>
#include <memory>

#include "commands.hpp"

namespace iis::tool {
namespace {

void add_finetune_flags(CLI::App* app, finetune::FinetuneOptions& o) {
  app->add_option("--backbone", o.backbone, "native:<arch>@ckpt.pt or a TorchScript file")
      ->required();
  app->add_option("--data", o.data, "Training split: ImageFolder or IDX images file")->required();
  app->add_option("--val-data", o.val_data, "Validation split (accuracies)")->required();
  app->add_option("--elements", o.elements,
                  "A complete `iis elements` folder cut from images of --data's classes")
      ->required();
  app->add_option("--out", o.out,
                  "Output folder: backbone.pt|.ts, epoch_<e>.*, heads/, log.json, finetune.json")
      ->required();
  app->add_option("--concept-type", o.concept_type, "prototype or cluster")->capture_default_str();
  app->add_option("--num-concepts", o.num_concepts, "K concepts")->capture_default_str();
  app->add_option("--ratio", o.ratio, "Sparsity ratio of the interpretable head, in [0, 1)")
      ->capture_default_str();
  app->add_option("--lambda", o.lambda, "Weight of CE(interpretable); 0 is the control")
      ->capture_default_str();
  app->add_option("--epochs", o.epochs, "Epochs over --data")->capture_default_str();
  app->add_option("--lr", o.lr, "Adam learning rate of the backbone")->capture_default_str();
  app->add_option("--head-lr", o.head_lr, "Adam learning rate of both heads")
      ->capture_default_str();
  app->add_option("--batch-size", o.batch_size, "Images per step")->capture_default_str();
  app->add_option("--seed", o.seed, "Data order, heads, concept sample, k-means")
      ->capture_default_str();
  app->add_option("--device", o.device, "cpu, cuda or cuda:<i>")->capture_default_str();
  app->add_option("--concept-refresh", o.concept_refresh,
                  "Steps between recomputing the concepts from the current backbone")
      ->capture_default_str();
  app->add_flag("--concept-grad", o.concept_grad,
                "Let the gradient flow through the concepts (needs --concept-refresh 1)");
  app->add_option("--head-init", o.head_init,
                  "fit: heads fitted on the frozen backbone's features; fresh: new heads")
      ->capture_default_str();
  app->add_option("--head-epochs", o.head_epochs, "Epochs of that fit")->capture_default_str();
  app->add_option("--heads", o.heads, "Start from the heads in this folder (OUT/heads of a run)");
  app->add_option("--train-limit", o.train_limit, "Only the first N training images (0: all)")
      ->capture_default_str();
  app->add_option("--val-limit", o.val_limit, "Only the first N validation images (0: all)")
      ->capture_default_str();
  app->add_flag("--force", o.force, "Start afresh over a run of other settings in --out");
}

}  // namespace

void add_finetune_command(CLI::App& root, Commands& commands) {
  auto o = std::make_shared<finetune::FinetuneOptions>();
  auto* app = root.add_subcommand(
      "finetune",
      "Fine-tune a backbone with CE(standard) + lambda * CE(interpretable), saving it in its own "
      "form (.pt or .ts) for `iis embed`");
  add_finetune_flags(app, *o);
  commands.push_back(
      {app, [o] {
         const auto r = finetune::run_finetune(*o);
         std::printf("epoch  loss_std  loss_int  acc_std  acc_int  seconds\n");
         for (const auto& e : r.epochs) {
           std::printf("%5lld  %8.4f  %8.4f  %7.4f  %7.4f  %7.1f\n",
                       static_cast<long long>(e.epoch), e.standard_loss, e.interpretable_loss,
                       e.standard_accuracy, e.interpretable_accuracy, e.seconds);
         }
         std::printf("trained %lld epoch(s); backbone: %s (spec %s)\n",
                     static_cast<long long>(r.epochs_trained), r.backbone.c_str(), r.spec.c_str());
       }});
}

}  // namespace iis::tool
