// `iis tokenize --file FILE`: CLIP's token ids of every line of a text file, as JSON lines.
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "iis/text/tokenizer.hpp"

namespace iis::tool {

void add_tokenize_command(CLI::App& root, Commands& commands) {
  auto o = std::make_shared<text::TokenizeOptions>();
  auto* app = root.add_subcommand(
      "tokenize",
      "Print CLIP's token ids of every line of a text file that is not blank, as the reference "
      "tokenizer gives them (start and end tokens included, no padding): one JSON object a "
      "line, {\"text\": ..., \"ids\": [...]}");
  app->add_option("--file", o->file, "text file, one text a line (\\n, \\r\\n or \\r line ends)")
      ->required();
  app->add_option("--context-length", o->context_length,
                  "most ids a text may have, start and end tokens included; a longer text is an "
                  "error unless --truncate")
      ->capture_default_str()
      ->check(CLI::Range(2, std::numeric_limits<int>::max()));
  app->add_flag("--truncate", o->truncate,
                "cut a text that is too long to --context-length ids, the last one the end "
                "token (CLIP's tokenize(truncate=True))");
  app->add_option("--vocab", o->vocab,
                  "CLIP's BPE vocabulary, bpe_simple_vocab_16e6.txt.gz (default: the copy "
                  "shipped with iis)");
  commands.push_back({app, [o] {
                        for (const auto& t : text::run_tokenize(*o)) {
                          nlohmann::ordered_json row;
                          row["text"] = t.text;
                          row["ids"] = t.ids;
                          std::cout << row.dump() << "\n";
                        }
                      }});
}

}  // namespace iis::tool
