// `iis embed-text`: CLIP text features of concepts, one a line, written as .npy with their names.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "iis/embed/embed.hpp"

namespace iis::tool {

void add_embed_text_command(CLI::App& root, Commands& commands) {
  auto* app = root.add_subcommand(
      "embed-text",
      "Embed concepts (texts, one a line) with a CLIP archive's encode_text: "
      "PREFIX.features.npy (N×E float32), PREFIX.names.txt (the concepts in the same order), "
      "PREFIX.embed.json");
  auto options = std::make_shared<embed::EmbedTextOptions>();
  app->add_option("--clip", options->clip,
                  "a CLIP TorchScript archive as OpenAI publishes them (ViT-B-16.pt, RN50.pt; "
                  "scripts/make_clip_model.py makes a small random one)")
      ->required();
  app->add_option("--concepts", options->concepts,
                  "a text file, one concept a line (blank lines skipped), or a shipped set: "
                  "imagenet, cifar10, cifar100, cub, places365, or a class list such as "
                  "imagenet_classes")
      ->required();
  app->add_option("--out", options->out, "output prefix, e.g. feats/text")->required();
  app->add_option("--batch-size", options->batch_size, "concepts per encode_text call")
      ->capture_default_str();
  app->add_option("--device", options->device, "cpu, cuda or cuda:N")->capture_default_str();
  app->add_flag("--truncate", options->truncate,
                "cut a concept longer than the archive's context length (77) to it, the last "
                "token the end token, instead of refusing it");
  app->add_option("--vocab", options->vocab,
                  "CLIP's BPE vocabulary, bpe_simple_vocab_16e6.txt.gz (default: the copy "
                  "shipped with iis)");
  commands.push_back({app, [options] {
                        const auto r = embed::run_embed_text(*options);
                        std::cout << "embedded " << r.concepts << " concepts of " << r.concepts_file
                                  << " into " << r.feature_dim << "-d features (context length "
                                  << r.context_length << ")\n";
                        for (const auto& f : r.files) std::cout << "  " << f << "\n";
                      }});
}

}  // namespace iis::tool
