// Internal: gnuplot for `iis report`: script text made safe, gnuplot run, images checked.
#pragma once

#include <string>
#include <vector>

namespace iis::report::detail {

// Text as a figure shows it: every control character becomes '?'.
std::string printable(const std::string& s);

// A single-quoted gnuplot string literal of printable(s): the only way text enters a script.
std::string literal(const std::string& s);

// Lines of text as one gnuplot string expression: 'first' . "\n" . 'second'.
std::string literal_lines(const std::vector<std::string>& lines);

// Writes `body` framed once per terminal (PNG 1500×1000, SVG 900×600, heights times
// `height_scale`) into `stem`.gp, a script that redraws stem.png and stem.svg when run in
// its own folder; runs `gnuplot` (its path) there onto temporary names and renames the
// images into place once complete; returns their paths. `body` names files without a folder.
std::vector<std::string> draw(const std::string& gnuplot, const std::string& stem,
                              const std::string& body, double height_scale = 1.0);

}  // namespace iis::report::detail
