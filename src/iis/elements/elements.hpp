// `iis elements`: cuts concept candidates (superpixel segments or grid patches) out of a
// dataset's images and writes them as PNGs with a manifest, labels and a skip list.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
ElementsSummary run_elements(const ElementsOptions& options);

}  // namespace iis::elements
