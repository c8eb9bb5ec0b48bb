// The files one `iis embed` run (or one merge) writes under an output prefix.
#pragma once

#include <string>
#include <vector>

#include "iis/core/paths.hpp"

namespace iis::embed::detail {

// Version tag of PREFIX.embed.json.
constexpr const char* kEmbedFormat = "iis-embed-1";

// PREFIX.features.npy (N×D float32|float16), PREFIX.labels.npy (N int64), PREFIX.paths.txt
// (N lines), PREFIX.skipped.txt ("source<TAB>reason" lines) and PREFIX.embed.json (metadata).
struct EmbedFiles {
  explicit EmbedFiles(const std::string& prefix)
      : features(prefix + ".features.npy"),
        labels(prefix + ".labels.npy"),
        paths(prefix + ".paths.txt"),
        skipped(prefix + ".skipped.txt"),
        meta(prefix + ".embed.json") {}
  std::string features, labels, paths, skipped, meta;

  std::vector<std::string> all() const { return {features, labels, paths, skipped, meta}; }
};

// Throws iis::Error unless `prefix` (given as `flag`) names files: a prefix ending in a
// folder separator, or naming a folder, would write hidden files (".features.npy") into it.
void check_prefix(const std::string& prefix, const std::string& flag);

// Throws iis::Error when any file written under `prefix` (given as `flag`) equals, or lies
// inside, one of `inputs`, before anything is written.
void check_outputs_apart(const std::string& prefix, const std::string& flag,
                         const std::vector<core::NamedPath>& inputs);

// The content fingerprint of what a backbone spec loads (PREFIX.embed.json's
// backbone_fingerprint): the TorchScript or CLIP file, or a native spec's architecture and
// checkpoint. `iis embed --backbone clip:M.pt` and `iis embed-text --clip M.pt` write the same.
std::string backbone_fingerprint(const std::string& spec);

}  // namespace iis::embed::detail
