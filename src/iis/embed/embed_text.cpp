// `iis embed-text`: concepts, one a line, through a CLIP archive's encode_text into features
// and the list of their names.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "iis/backbone/clip.hpp"
#include "iis/core/device.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/paths.hpp"
#include "iis/core/progress.hpp"
#include "iis/embed/detail/embed_files.hpp"
#include "iis/embed/embed.hpp"
#include "iis/io/npy.hpp"
#include "iis/text/concept_sets.hpp"
#include "iis/text/tokenizer.hpp"

namespace iis::embed {

namespace {

// Version tag of the PREFIX.embed.json of text features.
constexpr const char* kEmbedTextFormat = "iis-embed-text-1";

// CLIP's tokenizer gives ids below 49 408; an archive with another vocabulary reads others.
constexpr int64_t kClipVocabSize = text::kEndOfText + 1;

struct TextFiles {
  explicit TextFiles(const std::string& prefix)
      : features(prefix + ".features.npy"),
        names(prefix + ".names.txt"),
        meta(prefix + ".embed.json") {}
  std::string features, names, meta;
};

// The rows of `concepts` as one N×context_length int64 tensor, zero-padded as CLIP's tokenize.
torch::Tensor id_matrix(const std::vector<text::TokenizedText>& concepts, int64_t context_length) {
  torch::Tensor ids =
      torch::zeros({static_cast<int64_t>(concepts.size()), context_length}, torch::kInt64);
  auto rows = ids.accessor<int64_t, 2>();
  for (size_t i = 0; i < concepts.size(); ++i) {
    for (size_t j = 0; j < concepts[i].ids.size(); ++j) rows[i][j] = concepts[i].ids[j];
  }
  return ids;
}

}  // namespace

void EmbedTextOptions::validate() const {
  IIS_CHECK_HINT(!clip.empty(), "--clip is required",
                 "a CLIP archive such as ViT-B-16.pt (scripts/make_clip_model.py makes a small "
                 "random one)");
  IIS_CHECK_HINT(!concepts.empty(), "--concepts is required",
                 "a text file, one concept a line, or a shipped set such as imagenet");
  IIS_CHECK_HINT(!out.empty(), "--out is required", "a prefix such as feats/text");
  IIS_CHECK_HINT(batch_size >= 1 && batch_size <= 65536,
                 "--batch-size must be in [1, 65536], got " << batch_size,
                 "256 suits most models; lower it if memory runs out");
}

EmbedTextResult run_embed_text(const EmbedTextOptions& options) {
  options.validate();
  const TextFiles files(options.out);
  detail::check_prefix(options.out, "--out");
  EmbedTextResult result;
  result.concepts_file = text::resolve_text_set(options.concepts, "--concepts");
  for (const std::string& file : {files.features, files.names, files.meta}) {
    core::check_output_apart({"--out", file},
                             {{"--clip", options.clip}, {"--concepts", result.concepts_file}});
  }
  const torch::Device device = core::check_device(options.device);
  backbone::ClipModel model(options.clip, device, backbone::ClipModel::Tower::Text);
  IIS_CHECK_HINT(model.vocab_size() == 0 || model.vocab_size() == kClipVocabSize,
                 "the CLIP archive " << options.clip << " records vocab_size " << model.vocab_size()
                                     << ", but CLIP's tokenizer has " << kClipVocabSize
                                     << " tokens",
                 "give a CLIP archive that uses CLIP's BPE vocabulary");
  result.context_length = model.context_length();
  IIS_CHECK_HINT(
      result.context_length <= (1 << 20),
      "the CLIP archive " << options.clip << " records context_length " << result.context_length,
      "give one of OpenAI's CLIP archives (context length 77)");

  text::TokenizeOptions tokenize;
  tokenize.file = result.concepts_file;
  tokenize.context_length = static_cast<int>(result.context_length);
  tokenize.truncate = options.truncate;
  tokenize.vocab = options.vocab;
  const std::vector<text::TokenizedText> concepts = text::run_tokenize(tokenize);
  const auto n = static_cast<int64_t>(concepts.size());
  IIS_CHECK_HINT(n > 0, "--concepts " << result.concepts_file << " holds no concept",
                 "write one concept a line");
  core::log_info("embedding " + std::to_string(n) + " concepts of " + result.concepts_file +
                 " with " + options.clip + " on " + device.str());

  const torch::Tensor ids = id_matrix(concepts, result.context_length);
  std::vector<torch::Tensor> parts;
  core::Progress progress("embed-text", n, "concepts");
  for (int64_t begin = 0; begin < n; begin += options.batch_size) {
    const int64_t end = std::min(n, begin + options.batch_size);
    const torch::Tensor f = model.encode_text(ids.slice(0, begin, end)).to(torch::kCPU);
    IIS_CHECK_HINT(f.dim() == 2 && f.size(0) == end - begin,
                   "CLIP archive " << options.clip << ": encode_text returned " << f.sizes()
                                   << " for " << end - begin << " concepts",
                   "encode_text must return one row per text");
    const torch::Tensor bad = ~torch::isfinite(f).all(1);
    if (bad.any().item<bool>()) {
      const int64_t row = begin + bad.nonzero()[0][0].item<int64_t>();
      IIS_FAIL("CLIP archive " << options.clip << " gave NaN or infinite features for concept "
                               << row + 1 << " (\"" << concepts[row].text << "\")",
               "check the archive: CLIP's text features are finite");
    }
    parts.push_back(f.contiguous());
    progress.advance(end - begin);
  }
  progress.finish();
  result.seconds = progress.elapsed_seconds();
  const torch::Tensor features = torch::cat(parts);
  result.concepts = n;
  result.feature_dim = features.size(1);

  // Data first, the metadata last.
  io::save_npy(files.features, features);
  std::ostringstream names;
  for (const auto& c : concepts) names << c.text << "\n";
  core::write_text_atomic(files.names, names.str());
  const std::string spec = "clip:" + options.clip;
  const nlohmann::json meta = {
      {"format", kEmbedTextFormat},
      {"backbone", spec},
      {"backbone_fingerprint", detail::backbone_fingerprint(spec)},
      {"concepts", result.concepts_file},
      {"concepts_fingerprint", core::fingerprint_file(result.concepts_file)},
      {"rows", n},
      {"feature_dim", result.feature_dim},
      {"dtype", "float32"},
      {"context_length", result.context_length},
      {"truncate", options.truncate},
      {"device", device.str()},
  };
  core::write_text_atomic(files.meta, meta.dump(2) + "\n");
  result.files = {files.features, files.names, files.meta};
  return result;
}

}  // namespace iis::embed
