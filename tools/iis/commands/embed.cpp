// `iis embed`: representations of a dataset's images from a backbone, written as .npy.
#include <iostream>

#include "commands.hpp"
#include "iis/embed/embed.hpp"
#include "preprocess_flags.hpp"

namespace iis::tool {

void add_embed_command(CLI::App& root, Commands& commands) {
  auto* app = root.add_subcommand(
      "embed",
      "Embed a dataset with a backbone: PREFIX.features.npy (N×D), PREFIX.labels.npy (N), "
      "PREFIX.paths.txt, in dataset order; undecodable images are skipped and listed in "
      "PREFIX.skipped.txt");
  auto options = std::make_shared<embed::EmbedOptions>();
  auto shard = std::make_shared<std::string>();
  app->add_option("--backbone", options->backbone,
                  "model.ts (TorchScript, e.g. from scripts/export_backbone.py), "
                  "clip:<archive.pt> (a CLIP archive's encode_image, CLIP's preprocessing), "
                  "native:<arch>@<ckpt.pt> or native:<arch>")
      ->required();
  app->add_option("--data", options->data, "ImageFolder folder or IDX images file")->required();
  app->add_option("--out", options->out, "output prefix, e.g. feats/train")->required();
  add_preprocess_flags(app, options->preprocess);
  app->add_option("--batch-size", options->batch_size, "images per forward pass")
      ->capture_default_str();
  app->add_option("--device", options->device,
                  "cpu, cuda, cuda:N or cuda:auto (the node-local rank under mpirun, srun or "
                  "torchrun, modulo the visible GPUs)")
      ->capture_default_str();
  app->add_flag("--half", options->half, "float16 autocast (CUDA)");
  app->add_flag("--bf16", options->bf16, "bfloat16 autocast (CUDA)");
  app->add_flag("--half-storage", options->half_storage, "store the features as float16");
  app->add_option(
      "--shard", *shard,
      "i/n: embed only the i-th (0-based) of n contiguous parts into --out; auto: i and "
      "n from mpirun, srun or torchrun, into OUT.part<i>of<n>; join with iis merge");
  app->add_option("--workers", options->workers,
                  "decoding/preprocessing threads (0 = one per core)")
      ->capture_default_str();
  app->add_option("--limit", options->limit, "only the first N images (quick checks)");
  commands.push_back({app, [options, shard] {
                        if (!shard->empty()) {
                          embed::apply_shard(*options, *shard, core::process_environment());
                        }
                        const auto r = embed::run_embed(*options);
                        std::cout << "embedded " << r.embedded << " images [" << r.range_begin
                                  << ", " << r.range_end << ") into " << r.feature_dim
                                  << "-d features at " << static_cast<int64_t>(r.images_per_second)
                                  << " images/s; skipped " << r.skipped << "\n";
                        for (const auto& f : r.files) std::cout << "  " << f << "\n";
                      }});
}

}  // namespace iis::tool
