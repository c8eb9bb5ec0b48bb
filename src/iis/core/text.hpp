// Text helpers for messages: the nearest valid word to a misspelt one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace iis::core {

// Levenshtein distance (insertions, deletions, substitutions each cost 1).
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `word` by edit distance (first on ties); "" if none.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace iis::core
