// The concept atlas of a fit: every concept of its interpretable head at one ratio, drawn by
// what it is made of, and per class the concepts of the largest weights (docs/design.md §7).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iis/predict/fit_heads.hpp"

namespace iis::predict {

struct AtlasOptions {
  std::string fit;        // the fit folder (results.json, seeds/)
  HeadChoice choice;      // the ratio (default rule) and seed (the first)
  std::string out_dir;    // where index.html goes; element images are linked relative to it
  std::string title;      // the page's heading
  std::string back_link;  // a link back (relative to out_dir), e.g. "../../../index.html"; "" none
  int64_t top_per_class = 5;  // concepts listed per class
  int64_t per_concept = 5;    // elements drawn per concept (prototype: its one element)
};

struct AtlasResult {
  std::string html;                   // the page written
  std::string ratio_reason;           // which ratio and why
  std::vector<std::string> warnings;  // element images that are missing
};

// Writes out_dir/index.html (no image is copied: the elements are linked where `iis elements`
// wrote them, relative to the page, so a run folder moved whole keeps its atlas).
AtlasResult write_atlas(const AtlasOptions& options);

}  // namespace iis::predict
