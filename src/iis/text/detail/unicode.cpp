// Strict UTF-8 and the two pieces of Python's Unicode behaviour CLIP's text cleaning relies on:
// what counts as whitespace, and lower-casing.
#include "iis/text/detail/unicode.hpp"

#include <locale.h>
#include <wctype.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>

#include "iis/core/error.hpp"
#include "iis/core/paths.hpp"

namespace iis::text::detail {

namespace {

// The length of the UTF-8 sequence a lead byte starts, 0 for a byte that cannot start one
// (a continuation byte, 0xC0/0xC1 which only start overlong forms, 0xF5 and above).
size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The smallest code point each sequence length may encode (anything below is overlong).
constexpr char32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};

}  // namespace

std::u32string decode_utf8(const std::string& text, const std::string& what) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t n = sequence_length(lead);
    bool ok = n > 0 && i + n <= text.size();
    char32_t c = n == 1 ? lead : lead & (0x7F >> n);
    for (size_t k = 1; ok && k < n; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      ok = (byte & 0xC0) == 0x80;
      c = (c << 6) | (byte & 0x3F);
    }
    ok = ok && c >= kMinimum[n] && c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF);
    IIS_CHECK_HINT(ok,
                   core::escape_control(what)
                       << " is not valid UTF-8 (byte " << i << " of " << text.size() << ")",
                   "save the text as UTF-8");
    out.push_back(c);
    i += n;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string encode_utf8(const std::u32string& code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t c : code_points) append_utf8(out, c);
  return out;
}

bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

namespace {

// glibc's built-in C.UTF-8 locale (glibc 2.35 and later): its case tables are Unicode's, the
// same whatever locale the process runs in.
locale_t unicode_locale() {
  static const locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
  IIS_CHECK_HINT(locale != locale_t{}, "the C.UTF-8 locale is not available",
                 "use glibc 2.35 or later (Debian 12), which has it built in");
  return locale;
}

char32_t simple_lower(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
  return static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), unicode_locale()));
}

// Whether `c` has the Unicode property `name` (a PCRE2 \p{...} name), by PCRE2's tables.
class UnicodeProperty {
 public:
  explicit UnicodeProperty(const std::string& name) {
    const std::string pattern = "\\p{" + name + "}";
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &error, &offset, nullptr);
    IIS_ASSERT(code_ != nullptr, "PCRE2 knows no property " << name << " (error " << error << ")");
  }
  ~UnicodeProperty() { pcre2_code_free(code_); }

  bool operator()(char32_t c) const {
    std::string utf8;
    append_utf8(utf8, c);
    pcre2_match_data* match = pcre2_match_data_create(1, nullptr);
    IIS_ASSERT(match != nullptr, "out of memory for a PCRE2 match");
    const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(utf8.data()), utf8.size(), 0,
                               PCRE2_NO_UTF_CHECK, match, nullptr);
    pcre2_match_data_free(match);
    return rc > 0;
  }

 private:
  pcre2_code* code_ = nullptr;
};

// Cased: letters with case, and the few other characters Unicode counts (ᴬ, ⓐ, ...).
bool is_cased(char32_t c) {
  static const UnicodeProperty cased("Cased");
  return cased(c);
}

// Case_Ignorable: marks, format characters, modifier letters and symbols, and the apostrophes,
// dots and colons inside words.
bool is_case_ignorable(char32_t c) {
  static const UnicodeProperty ignorable("Case_Ignorable");
  return ignorable(c);
}

// Σ at `i` ends a word: a cased letter before it and none after it, skipping case-ignorable
// characters on both sides (Unicode's Final_Sigma condition).
bool is_final_sigma(const std::u32string& text, size_t i) {
  size_t before = i;
  while (before > 0 && is_case_ignorable(text[before - 1])) --before;
  if (before == 0 || !is_cased(text[before - 1])) return false;
  size_t after = i + 1;
  while (after < text.size() && is_case_ignorable(text[after])) ++after;
  return after == text.size() || !is_cased(text[after]);
}

}  // namespace

std::u32string to_lower(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == 0x130) {  // İ: the one unconditional full mapping to two code points
      out += U"i\u0307";
    } else if (c == 0x3A3) {
      out.push_back(is_final_sigma(text, i) ? 0x3C2 : 0x3C3);
    } else {
      out.push_back(simple_lower(c));
    }
  }
  return out;
}

}  // namespace iis::text::detail
