// `iis elements`: cuts concept candidates (superpixel segments or grid patches) out of a
// dataset's images and writes them as PNGs with a manifest, labels and a skip list.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iis/core/launcher.hpp"

namespace iis::elements {

enum class ElementKind { Segments, Patches };
enum class ImageSelect { First, Random };

// "segments" | "patches", "first" | "random": the names of the flags and config keys.
const char* to_string(ElementKind kind);
const char* to_string(ImageSelect select);

// Options of run_elements(); defaults are the reference's (docs/design.md §3).
struct ElementsOptions {
  std::string data;                          // --data: ImageFolder root or IDX images file
  std::string out;                           // --out: output folder
  ElementKind kind = ElementKind::Segments;  // --kind segments|patches

  // Images used: per class, the first N in dataset order or a seeded sample of N.
  int images_per_class = 10;                // --images-per-class, >= 0 (0 = every image)
  ImageSelect select = ImageSelect::First;  // --image-select first|random
  uint64_t seed = 0;                        // --seed, for --image-select random

  // Segments.
  std::vector<int> scales = {10, 20, 30};  // --scales: SLIC n_segments per scale, each >= 1
  double compactness = 10.0;               // --compactness, > 0
  double sigma = 1.0;                      // --sigma, >= 0
  int masks_per_scale = 5;                 // --masks-per-scale, >= 1
  double min_area = 0.001;                 // --min-area, in [0, 1): masks <= this are skipped
  double jaccard = 0.5;                    // --jaccard, in [0, 1]: overlaps > this are skipped
  int fill = 117;                          // --fill, in [0, 255]: value outside the mask

  // Patches.
  int grid = 4;          // --grid, >= 1: grid×grid cells
  int patch_size = 224;  // --patch-size, >= 1: side of each resized cell

  bool force = false;  // --force: write into a non-empty folder made from other inputs
  int threads = 0;     // worker threads, 0 = core::threads()

  // --shard i/n|auto: only the i-th (0-based) of n contiguous parts of the selected images
  // (apply_shard sets them and names the folder); 1 part = the whole selection.
  int64_t shard_index = 0;
  int64_t shard_count = 1;

  // Throws iis::Error naming the flag and its valid range (validate_settings: all but the
  // paths, what `iis run`'s concepts: section sets).
  void validate() const;
  void validate_settings() const;
};

// What a run did.
struct ElementsSummary {
  int64_t images = 0;          // images selected
  int64_t images_resumed = 0;  // of those, done by an earlier run and not redone
  int64_t images_skipped = 0;  // unreadable (listed in skipped.txt)
  int64_t elements = 0;        // element images in the manifest
  double seconds = 0;          // wall time of this run
  std::string out;             // the output folder
};

// Writes, under options.out:
//   <class>/<image-stem>_<i>.png  element images (class names made file-name safe)
//   manifest.jsonl                one JSON object per element: path (relative to out),
//                                 source, class, class_name, kind, scale, bbox [x,y,w,h],
//                                 area (fraction of the image), element (i)
//   labels.npy                    int64 (N): the class of each element, in manifest order
//   skipped.txt                   "<source>\t<reason>" for every unreadable input
//   elements.json                 settings, input fingerprint, counts, timing
// The manifest is in ImageFolder order of `out` (class folder, then file name), so reading
// `out` as an ImageFolder gives the same order. Images are processed in parallel; the output
// is deterministic. An interrupted run resumes: images already done are not redone.
// A shard (options.shard_count > 1) writes the same files for its part of the selection, with
// the names the whole run gives them (so that run_merge_elements can join the shards), and
// records its part in elements.json ("shard": [i, n]). A part may be empty (more shards than
// selected images): the shard then writes a complete folder of no elements.
ElementsSummary run_elements(const ElementsOptions& options);

// Applies --shard TEXT (core::parse_shard: "i/n", or "auto" from the launcher's environment
// `env`, logging the variables read) to `options`, and points --out at the shard's folder
// OUT.part<i>of<n> (core::shard_name), which `iis merge --wait` finds. Throws naming --shard.
void apply_shard(ElementsOptions& options, const std::string& text, const core::Environment& env);

// True when `folder` holds a finished run_elements (or merge): its elements.json, written
// last, says "complete".
bool elements_complete(const std::string& folder);

// Options of `iis merge` given element folders.
struct MergeElementsOptions {
  std::vector<std::string> shards;  // shard folders (any order)
  std::string out;                  // --out folder of the merged elements
};

struct MergeElementsResult {
  int64_t shards = 0, images = 0, images_skipped = 0, elements = 0;
};

// Joins the folders of `iis elements --shard i/n` into the folder one unsharded run writes:
// the element PNGs hard-linked (copied across file systems), manifest.jsonl and labels.npy in
// the same order, skipped.txt and the journal joined in shard order, elements.json with the
// unsharded fingerprint (so `iis elements` with the same options finds --out up to date).
// Checks that the shards are complete, come from the same data, settings and split, and that
// all n are present once; throws naming the shard otherwise. --out may be empty, missing, or
// an earlier merge or run of the same selection; nothing else.
MergeElementsResult run_merge_elements(const MergeElementsOptions& options);

}  // namespace iis::elements
