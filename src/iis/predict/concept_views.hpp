// What each concept of a fit's head is made of, for the pages of `iis explain` and the report's
// concept atlas: prototype, the element it is; cluster, the elements nearest its centre;
// end2end, elements assigned to it; text, its phrase (docs/design.md §7).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iis/predict/fit_heads.hpp"

namespace iis::predict {

// One visual element: its row in the element features and what the elements manifest says.
struct ElementRef {
  int64_t element = 0;        // row of the element features (the fit's --concepts)
  std::string image;          // the element's PNG (absolute), "" when unknown
  std::string source;         // the image it was cut from (a file, or an IDX file#index)
  std::string class_name;     // the class of that image
  std::vector<int64_t> bbox;  // x, y, w, h in the source image, when recorded
};

// One concept of the head: a phrase (text) or elements (the others).
struct ConceptView {
  int64_t concept_index = 0;  // position k in the head's K concepts
  std::string phrase;         // text concepts only
  std::vector<ElementRef> elements;
};

// The concepts of `heads`, each with at most `per_concept` elements (cluster: the nearest to its
// centre by cosine; end2end: its assigned elements nearest to its vector). Elements are found
// through the fit's --concepts file: PREFIX.paths.txt beside it names each element's PNG, and the
// manifest.jsonl of the elements folder (PREFIX.embed.json's data) its source and class. Where
// those files are missing the elements carry their row only.
std::vector<ConceptView> concept_views(const FitHeads& heads, int64_t per_concept = 5);

}  // namespace iis::predict
