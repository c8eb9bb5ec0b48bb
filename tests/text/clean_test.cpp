// Tests of CLIP's text cleaning. Expected values are those of Python 3.11 (html.unescape,
// re.sub(r"\s+", " ", ...).strip(), str.lower()), the functions the reference tokenizer calls.
#include "iis/text/clean.hpp"

#include "iis/text/detail/unicode.hpp"
#include "test_support.hpp"

namespace iis::text {
namespace {

struct Case {
  std::string in, out;
};

TEST(HtmlUnescape, IsPythonsHtmlUnescape) {
  const std::vector<Case> cases = {
      {"&amp;", "&"},
      {"&amp", "&"},  // legacy names need no semicolon
      {"&ampx", "&x"},
      {"&amp;lt;", "&lt;"},  // one level only
      {"&#39;", "'"},
      {"&#x27;", "'"},
      {"&#X41;", "A"},
      {"&#65;b", "Ab"},  // the semicolon is optional
      {"&#0;", "\uFFFD"},
      {"&#13;", "\r"},
      {"&#128;", "\u20AC"},  // Windows-1252
      {"&#x81;", "\u0081"},
      {"&#x9f;", "\u0178"},
      {"&#1;", ""},  // a control character vanishes
      {"&#xD800;", "\uFFFD"},
      {"&#1114112;", "\uFFFD"},
      {"&#99999999999999999999;", "\uFFFD"},
      {"&#xFFFE;", ""},
      {"&#;", "&#;"},
      {"&#x;", "&#x;"},
      {"&#", "&#"},
      {"&", "&"},
      {"a & b", "a & b"},
      {"&nbsp;x", "\u00A0x"},
      {"&eacute;t&eacute", "\u00E9t\u00E9"},
      {"&hellip;", "\u2026"},
      {"&apos;", "'"},
      {"&unknown;", "&unknown;"},
      {"&notit;", "\u00ACit;"},  // the longest legacy prefix, the rest as written
      {"&notin;", "\u2209"},
      {"&lang;", "\u27E8"},  // HTML5's value, not HTML 4's U+2329
      {"&AMP;", "&"},
      {"&Amp;", "&Amp;"},
      {"&copyright", "\u00A9right"},
      {"&lt3", "<3"},
      {"&#38;amp;", "&amp;"},
      {"& amp;", "& amp;"},
      {"&amp ;", "& ;"},
      {"&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaamp;",
       "&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaamp;"},
  };
  for (const auto& c : cases) EXPECT_EQ(html_unescape(c.in), c.out) << c.in;
}

TEST(CleanText, UnescapesTwiceCollapsesWhitespaceAndLowers) {
  const std::vector<Case> cases = {
      {"  A\tB\r\nC  ", "a b c"},
      {"x\u00A0\u2003y\u3000", "x y"},  // Unicode spaces
      {"\x1C"
       "A\x1F"
       "B\u0085",
       "a b"},  // Python's isspace includes U+001C..U+001F, U+0085
      {"A&amp;amp;B", "a&b"},
      {"A&amp;amp;lt;B", "a&lt;b"},  // twice, not three times
      {"A&nbsp;&nbsp;B", "a b"},
      {"", ""},
      {"   ", ""},
      {"Stra\u00DFe", "stra\u00DFe"},
      {"\u00C0\u00C9\u00CE\u00D5\u00DC", "\u00E0\u00E9\u00EE\u00F5\u00FC"},
      {"\u0414\u041E\u041C", "\u0434\u043E\u043C"},
      {"K\u212A", "kk"},                                         // Kelvin sign
      {"\u01C5", "\u01C6"},                                      // title case
      {"\u216B", "\u217B"},                                      // Roman numeral twelve
      {"\uFF21", "\uFF41"},                                      // full-width A
      {"\uFB01", "\uFB01"},                                      // a ligature has no lower case
      {"\u0130stanbul", "i\u0307stanbul"},                       // İ: two code points
      {"\u039F\u0394\u039F\u03A3", "\u03BF\u03B4\u03BF\u03C2"},  // final sigma
      {"\u039F\u0394\u039F\u03A3.", "\u03BF\u03B4\u03BF\u03C2."},
      {"\u03A3\u0391", "\u03C3\u03B1"},
      {"\u03A3", "\u03C3"},
      {"A\u03A3'", "a\u03C2'"},
      {"A\u03A3'B", "a\u03C3'b"},
      {"A\u0301\u03A3", "a\u0301\u03C2"},
      {"A\u05B0\u03A3", "a\u05B0\u03C2"},  // a Hebrew point is case-ignorable
      {"\u1D2C\u03A3", "\u1D2C\u03C3"},    // ᴬ is cased but also case-ignorable: skipped
      {"A\u03A3\u1D2C", "a\u03C2\u1D2C"},
      {"\u24B6\u03A3", "\u24D0\u03C2"},  // Ⓐ is cased
  };
  for (const auto& c : cases) EXPECT_EQ(clean_text(c.in), c.out) << c.in;
}

TEST(CleanText, RefusesInvalidUtf8NamingTheText) {
  for (const std::string bad :
       {"caf\xE9", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "a\x80", "\xE2\x82"}) {
    try {
      clean_text(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("is not valid UTF-8"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("text \""), std::string::npos) << e.what();
    }
  }
}

TEST(Utf8, RoundTripsEveryLengthOfSequence) {
  const std::u32string text = U"a\u00E9\u20AC\U0001F600\U0010FFFF";
  const std::string utf8 = detail::encode_utf8(text);
  EXPECT_EQ(utf8, "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF");
  EXPECT_EQ(detail::decode_utf8(utf8, "t"), text);
}

}  // namespace
}  // namespace iis::text
