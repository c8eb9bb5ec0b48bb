// CLIP's text cleaning: Python's html.unescape (twice), whitespace_clean and str.lower().
#include "iis/text/clean.hpp"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "iis/text/detail/unicode.hpp"

namespace iis::text {

namespace {

using detail::append_utf8;
using detail::decode_utf8;

struct NamedReference {
  const char* name;
  char32_t value;
  bool legacy;  // also without the semicolon
};

constexpr NamedReference kNamedReferences[] = {
#include "iis/text/detail/html_entities.inc"
};

// Name (with its ";" unless a legacy name written without one) to value.
const std::unordered_map<std::u32string, char32_t>& named_references() {
  static const auto table = [] {
    std::unordered_map<std::u32string, char32_t> t;
    for (const auto& r : kNamedReferences) {
      const std::u32string name(r.name, r.name + std::char_traits<char>::length(r.name));
      t[name + U";"] = r.value;
      if (r.legacy) t[name] = r.value;
    }
    return t;
  }();
  return table;
}

// What HTML5 makes of a numeric reference to `n` (clamped above U+10FFFF): 0 and the Windows-1252
// range 0x80..0x9F are mapped, surrogates and values beyond Unicode become U+FFFD, and
// non-characters and most controls vanish (empty string).
std::u32string numeric_reference(uint32_t n) {
  static constexpr char16_t kWindows1252[32] = {
      0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021, 0x2C6,  0x2030, 0x160,
      0x2039, 0x152,  0x8D,   0x17D,  0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178};
  if (n == 0) return U"\uFFFD";
  if (n == 0x0D) return U"\r";
  if (n >= 0x80 && n <= 0x9F) return std::u32string(1, kWindows1252[n - 0x80]);
  if ((n >= 0xD800 && n <= 0xDFFF) || n > 0x10FFFF) return U"\uFFFD";
  const bool control =
      (n >= 0x01 && n <= 0x08) || n == 0x0B || (n >= 0x0E && n <= 0x1F) || (n >= 0x7F && n <= 0x9F);
  const bool noncharacter = (n >= 0xFDD0 && n <= 0xFDEF) || (n & 0xFFFE) == 0xFFFE;
  if (control || noncharacter) return U"";
  return std::u32string(1, static_cast<char32_t>(n));
}

bool is_digit(char32_t c, int base) {
  if (c >= '0' && c <= '9') return true;
  return base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
}

uint32_t digit_value(char32_t c) {
  if (c <= '9') return c - '0';
  return (c | 0x20) - 'a' + 10;
}

constexpr size_t kNoReference = std::u32string::npos;

// The reference starting after "&#" at `i` ("39;", "x27"): appends its value, returns where the
// text goes on; kNoReference when no digit follows (then the "&" stays as written).
size_t unescape_numeric(const std::u32string& s, size_t i, std::u32string& out) {
  int base = 10;
  if (i < s.size() && (s[i] == 'x' || s[i] == 'X')) base = 16, ++i;
  const size_t start = i;
  uint32_t n = 0;
  for (; i < s.size() && is_digit(s[i], base); ++i) {
    n = std::min<uint32_t>(n * base + digit_value(s[i]), 0x110000);  // past Unicode: U+FFFD
  }
  if (i == start) return kNoReference;
  if (i < s.size() && s[i] == ';') ++i;
  out += numeric_reference(n);
  return i;
}

bool is_name_character(char32_t c) {
  return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' &&
         c != ';';
}

// The named reference after "&" at `i`: up to 32 name characters and an optional ";", matched
// whole, else its longest prefix that is a legacy name (the rest kept as written). Returns
// where the text goes on, kNoReference when no name character follows the "&".
size_t unescape_named(const std::u32string& s, size_t i, std::u32string& out) {
  size_t end = i;
  while (end < s.size() && end - i < 32 && is_name_character(s[end])) ++end;
  if (end == i) return kNoReference;
  if (end < s.size() && s[end] == ';') ++end;
  const std::u32string name = s.substr(i, end - i);
  const auto& table = named_references();
  if (const auto it = table.find(name); it != table.end()) {
    out.push_back(it->second);
    return end;
  }
  for (size_t length = name.size() - 1; length >= 2; --length) {
    if (const auto it = table.find(name.substr(0, length)); it != table.end()) {
      out.push_back(it->second);
      out += name.substr(length);
      return end;
    }
  }
  out += U'&';
  out += name;
  return end;
}

std::u32string unescape(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s[i] != U'&') {
      out.push_back(s[i++]);
      continue;
    }
    const bool numeric = i + 1 < s.size() && s[i + 1] == U'#';
    const size_t next = numeric ? unescape_numeric(s, i + 2, out) : unescape_named(s, i + 1, out);
    if (next == kNoReference) {  // not a reference: the "&" stays
      out.push_back(s[i++]);
    } else {
      i = next;
    }
  }
  return out;
}

// Whitespace runs made one space, stripped at both ends.
std::u32string collapse_whitespace(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char32_t c : s) {
    if (detail::is_space(c)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out.push_back(U' ');
      pending_space = false;
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string html_unescape(const std::string& text) {
  return detail::encode_utf8(unescape(decode_utf8(text, "text \"" + text + "\"")));
}

std::string clean_text(const std::string& text) {
  const std::u32string unescaped = unescape(unescape(decode_utf8(text, "text \"" + text + "\"")));
  return detail::encode_utf8(detail::to_lower(collapse_whitespace(unescaped)));
}

}  // namespace iis::text
