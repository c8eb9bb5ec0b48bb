// The text cleaning CLIP applies before tokenizing: HTML unescaping, whitespace, lower case.
#pragma once

#include <string>

namespace iis::text {

// Python's html.unescape on UTF-8 `text`: numeric references (&#39; &#x27;, with HTML5's
// replacements for 0, surrogates, controls and the Windows-1252 range 0x80..0x9F) and named
// ones, also without the semicolon for the names HTML5 allows so (&amp, and "&ampx" is "&x").
// Named references: HTML 4's 252 and &apos; (detail/html_entities.inc); HTML5's other
// names (&NotNestedLessLess; ...) are left as written. Throws iis::Error on invalid UTF-8.
std::string html_unescape(const std::string& text);

// CLIP's cleaning of a text before tokenizing (its simple_tokenizer's basic_clean,
// whitespace_clean and lower()): HTML-unescaped twice, whitespace runs (Python's str.isspace,
// so tabs, line breaks and no-break spaces too) made one space and stripped at both ends, then
// lower-cased as Python's str.lower() does. Throws iis::Error naming the text if it is not
// valid UTF-8.
//
// Not reproduced: the ftfy.fix_text pass the reference runs first. It repairs mojibake and
// normalises (curly quotes to straight ones, ligatures and full-width forms to letters, NFC),
// so a text that needs such a repair may be tokenized differently; clean UTF-8 text (every
// concept and class list in data/) is unchanged by it, except that it may unescape HTML once
// more (only "&amp;amp;amp;..." three deep tells the difference).
std::string clean_text(const std::string& text);

}  // namespace iis::text
