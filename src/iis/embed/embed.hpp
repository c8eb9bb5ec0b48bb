// `iis embed`, `iis merge`, `iis preprocess` and `iis embed-text`: images → representations on
// disk, shards joined into one set of files, a dump of the preprocessed input for parity
// checks, and concepts (texts) → CLIP text features.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iis/core/launcher.hpp"
#include "iis/image/preprocess.hpp"

namespace iis::embed {

// Preprocessing as the user asked for it. Resolution order: the preset (--preset, else the
// backbone's YAML `preset`, else imagenet), then the backbone's YAML (only when --preset is
// not given), then --preprocess-yaml, then the single-setting flags below.
struct PreprocessFlags {
  std::string preset;         // "imagenet" | "clip" | "none" | "" (from the backbone)
  std::string yaml;           // a YAML file of preprocessing keys; "" = none
  int64_t resize_size = -1;   // --resize-size; -1 = not given
  int64_t crop_size = -1;     // --crop-size; -1 = not given
  std::string interpolation;  // --interpolation; "" = not given
  std::vector<float> mean;    // --mean; empty = not given
  std::vector<float> std;     // --std; empty = not given
  bool no_normalize = false;  // --no-normalize: drop mean/std
  int64_t channels = 0;       // --channels 1|3; 0 = not given
};

// Applies `flags` over the backbone's recorded preprocessing (`backbone_yaml`, possibly "")
// as described above, validates, and returns the settings.
image::Preprocess resolve_preprocess(const PreprocessFlags& flags, const std::string& backbone_yaml,
                                     const std::string& backbone_name);

// Options of `iis embed`.
struct EmbedOptions {
  std::string backbone;        // --backbone: model.ts | clip:<archive.pt> |
                               //   native:<arch>[@ckpt.pt] (required)
  std::string data;            // --data: ImageFolder folder or IDX images file (required)
  std::string out;             // --out PREFIX: writes PREFIX.{features.npy,labels.npy,
                               //   paths.txt,skipped.txt,embed.json} (required)
  PreprocessFlags preprocess;  // see PreprocessFlags
  int64_t batch_size = 64;     // --batch-size, 1..65536
  std::string device = "cpu";  // --device cpu | cuda | cuda:N
  bool half = false;           // --half: float16 autocast (CUDA only)
  bool bf16 = false;           // --bf16: bfloat16 autocast (CUDA only)
  bool half_storage = false;   // --half-storage: features stored as float16
  int64_t shard_index = 0;     // --shard i/n|auto: the i-th (0-based) of n contiguous parts,
  int64_t shard_count = 1;     //   whole batches each (apply_shard sets them)
  int64_t workers = 0;         // --workers: decode/preprocess threads; 0 = one per core
  int64_t limit = 0;           // --limit: only the first N images of the shard; 0 = all
  // The dataset's first N images are the whole input (0 = all): shards split them and merge
  // checks that they cover them, unlike --limit, which cuts each shard. No flag: `iis run`
  // sets it for a sharded split with dataset.train_limit / val_limit.
  int64_t first_images = 0;

  // Throws iis::Error naming the flag and its valid range.
  void validate() const;
};

// Applies --shard TEXT (core::parse_shard) to `options`: "i/n" embeds that part into the
// prefix --out names (as before: the user names each shard's prefix); "auto" takes the rank
// and size from the launcher's environment `env` (core::launch_rank), writes the prefix
// OUT.part<i>of<n> (core::shard_name) that `iis merge --wait` finds, and logs the variables
// read. Throws iis::Error naming --shard.
void apply_shard(EmbedOptions& options, const std::string& text, const core::Environment& env);

// True when the shard (or any output) under `prefix` is complete: its PREFIX.embed.json,
// which run_embed removes first and writes last, exists.
bool embed_complete(const std::string& prefix);

struct EmbedResult {
  int64_t embedded = 0;  // rows written
  int64_t skipped = 0;   // undecodable images, listed in PREFIX.skipped.txt
  int64_t feature_dim = 0;
  int64_t range_begin = 0, range_end = 0;  // dataset indices of this shard [begin, end)
  double seconds = 0;
  double images_per_second = 0;
  std::string preprocessing;       // Preprocess::describe()
  std::vector<std::string> files;  // what was written
};

// Embeds the shard's images in dataset order: decoding and preprocessing on `workers` threads
// (bounded queue, results consumed in order) overlapping with the backbone in inference mode.
// A batch is the decodable images among the dataset indices [kB, (k+1)B), and a shard is a run
// of whole batches: a row is computed in the same batch, so with the same batch size and
// thread count, by the same kernels, whether the dataset is sharded or not.
// Writes features (N×D float32, or float16 with half_storage), labels (N int64), the source
// paths (one a line) and the skipped sources with their reasons, each atomically; then
// PREFIX.embed.json (backbone, data and preprocessing fingerprints, shard range, and the
// settings a row's bytes depend on: batch size, CPU threads, device type, autocast) that merge
// checks. Undecodable images are skipped and absent from all outputs; NaN features, a wrong
// output rank or a model that fails are errors, and so is a run that embeds no image, unless
// it is a shard: a shard's range may be empty (more shards than batches) or hold only
// undecodable images, and it then writes an empty part (0×0 features, feature_dim 0).
EmbedResult run_embed(const EmbedOptions& options);

// Options of `iis merge` for features (see elements::run_merge_elements for element folders).
struct MergeOptions {
  std::vector<std::string> shards;  // shard prefixes (any order)
  std::string out;                  // --out PREFIX of the merged files
};

struct MergeResult {
  int64_t shards = 0, rows = 0, skipped = 0, feature_dim = 0;
};

// Joins shards written by run_embed into one set of files. Checks they come from the same
// backbone, data and preprocessing and were computed alike (batch size, autocast, device type,
// and on the CPU the thread count: each changes a row's last bits), that all n shards of one
// split are present once, and that their ranges are contiguous and cover the dataset; throws
// naming the shard and the setting otherwise. Empty parts join as nothing (their feature size
// is unknown and not compared); the shards together must hold at least one row.
MergeResult run_merge(const MergeOptions& options);

// Options of `iis embed-text`.
struct EmbedTextOptions {
  std::string clip;            // --clip: a CLIP archive (backbone/clip.hpp) (required)
  std::string concepts;        // --concepts: a text file, one concept a line, or the name of a
                               //   shipped set (text::resolve_text_set) (required)
  std::string out;             // --out PREFIX: writes PREFIX.{features.npy,names.txt,embed.json}
                               //   (required)
  int64_t batch_size = 256;    // --batch-size: concepts per encode_text call, 1..65536
  std::string device = "cpu";  // --device cpu | cuda | cuda:N
  bool truncate = false;       // --truncate: cut concepts longer than the context length
  std::string vocab;           // --vocab: CLIP's BPE vocabulary ("" = the shipped copy)

  // Throws iis::Error naming the flag and its valid range.
  void validate() const;
};

struct EmbedTextResult {
  int64_t concepts = 0;     // rows written
  int64_t feature_dim = 0;  // E
  int64_t context_length = 0;
  double seconds = 0;
  std::string concepts_file;       // the file --concepts resolved to
  std::vector<std::string> files;  // what was written
};

// Every line of the concepts file that is not blank, tokenized as CLIP does with the
// archive's context length (too long a concept is an error naming its line, unless
// truncate), through encode_text in batches, in inference mode. Writes PREFIX.features.npy
// (N×E float32, the raw encode_text output, not normalised), PREFIX.names.txt (the concepts as
// written, one a line, in the same order) and last PREFIX.embed.json (the archive's
// fingerprint as `iis embed --backbone clip:` writes it, the concepts file's, the context
// length). NaN features or an archive without encode_text are errors.
EmbedTextResult run_embed_text(const EmbedTextOptions& options);

// Options of `iis preprocess` (a debugging aid and the parity script's entry point).
struct PreprocessDumpOptions {
  std::vector<std::string> images;  // image files
  std::string out;                  // --out FILE.npy
  std::string backbone;             // --backbone: read its YAML for the settings; "" = none
  PreprocessFlags preprocess;
  bool uint8 = false;  // --uint8: N×H×W×C uint8 before scaling, else N×C×H×W float32
};

// Writes the preprocessed images as one .npy (all images must give the same shape).
void run_preprocess_dump(const PreprocessDumpOptions& options);

}  // namespace iis::embed
