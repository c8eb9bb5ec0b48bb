// The files one `iis embed` run (or one merge) writes under an output prefix.
#pragma once

#include <string>

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
};

}  // namespace iis::embed::detail
