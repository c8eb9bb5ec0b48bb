// The static HTML of `iis explain` and the concept atlas: one style sheet, escaping, and the
// figure of an element (its image, or a visible placeholder when the file is gone).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "iis/data/dataset.hpp"
#include "iis/predict/concept_views.hpp"

namespace iis::predict::detail {

std::string html_escape(const std::string& text);

// `text` escaped, each word holding a hyphen (a backbone name such as resnet8-w16_e3, not a
// path) kept on one line: browsers would otherwise break it after the hyphen.
std::string keep_names(const std::string& text);

// <!DOCTYPE html> … <body> with the shared style sheet (no scripts, nothing fetched).
std::string page_start(const std::string& title);

// The warnings box at the top of a page; "" when there are none.
std::string warnings_box(const std::vector<std::string>& warnings);

// An <img> of `href` (relative to the page) with a caption, or, when `href` is empty, a
// placeholder box saying `missing` in its place.
std::string figure(const std::string& href, const std::string& caption, const std::string& missing);

// Writes the image a manifest or paths.txt line names ("FILE#i" for an IDX row, else an image
// file) to `dest` (a PNG, or a copy of the file); false when it cannot be read. Keeps each IDX
// file it opened, as reading one decodes all of it.
class SourceImages {
 public:
  SourceImages();
  ~SourceImages();
  bool write(const std::string& source, const std::string& dest);

 private:
  std::map<std::string, std::unique_ptr<data::Dataset>> open_;
};

// The class names of the fit's training features (their PREFIX.embed.json "classes"); empty
// when unknown.
std::vector<std::string> class_names(const FitHeads& heads);

// "class 3" or its name when known.
std::string class_label(const std::vector<std::string>& names, int64_t c);

}  // namespace iis::predict::detail
