// Unicode helpers of the text cleaning: strict UTF-8 decoding and encoding, Python's notion of
// whitespace, and Python's str.lower().
#pragma once

#include <string>

namespace iis::text::detail {

// The code points of UTF-8 `text`; throws iis::Error naming `what` (e.g. the text) on invalid
// UTF-8: a stray or missing continuation byte, an overlong form, a surrogate, a value above
// U+10FFFF. Python refuses the same bytes when it reads a file as UTF-8.
std::u32string decode_utf8(const std::string& text, const std::string& what);

// The UTF-8 encoding of `code_points` (each a valid scalar value).
std::string encode_utf8(const std::u32string& code_points);
void append_utf8(std::string& out, char32_t c);

// Python's str.isspace(): Unicode whitespace (bidirectional class WS, B or S, or category Zs),
// which includes the separators U+001C..U+001F and U+0085. Python's `\s` and strip() use it.
bool is_space(char32_t c);

// Python's str.lower(): the Unicode lower-case mapping of each code point (glibc's C.UTF-8
// tables), plus the two rules beyond it that Python applies: U+0130 (İ) becomes "i̇" (i and a
// combining dot), and Σ at the end of a word becomes ς (final sigma). Which letters count as
// cased or as ignorable around a final sigma is Unicode's Cased and Case_Ignorable (PCRE2's
// tables).
std::u32string to_lower(const std::u32string& text);

}  // namespace iis::text::detail
