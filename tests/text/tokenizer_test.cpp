// Tests of CLIP's tokenizer: the ids of OpenAI's reference tokenizer for every text of
// tests/text/data/tokens.jsonl, context length, truncation, and `iis tokenize`'s function.
#include "iis/text/tokenizer.hpp"

#include <zlib.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "iis/text/lines.hpp"
#include "test_support.hpp"

namespace iis::text {
namespace {

using Ids = std::vector<int32_t>;

// The reference's ids (start and end tokens included, no padding) by text.
const std::map<std::string, Ids>& reference() {
  static const auto texts = [] {
    std::map<std::string, Ids> t;
    for (const auto& line : read_lines(test::source_dir() + "/tests/text/data/tokens.jsonl")) {
      const auto row = nlohmann::json::parse(line);
      t[row.at("text").get<std::string>()] = row.at("ids").get<Ids>();
    }
    return t;
  }();
  return texts;
}

const Tokenizer& tokenizer() {
  static const Tokenizer t;
  return t;
}

Ids body(const Ids& ids) { return Ids(ids.begin() + 1, ids.end() - 1); }

TEST(Tokenizer, MatchesTheReferenceOnEveryTestText) {
  ASSERT_EQ(reference().size(), 9292u);
  size_t matched = 0;
  for (const auto& [text, ids] : reference()) {
    const Ids got = tokenizer().tokenize(text);
    EXPECT_EQ(got, ids) << text;
    matched += got == ids;
  }
  EXPECT_EQ(matched, reference().size());
  std::cout << "[ parity ] " << matched << " of " << reference().size() << " texts match\n";
}

TEST(Tokenizer, HasClipsVocabulary) {
  EXPECT_EQ(tokenizer().vocab_size(), 49408u);
  EXPECT_EQ(tokenizer().tokenize(""), (Ids{kStartOfText, kEndOfText}));
  EXPECT_EQ(tokenizer().encode("<|startoftext|> <|endoftext|>"), (Ids{kStartOfText, kEndOfText}));
}

// The shipped lists tokenize as the reference did (the CIFAR-100 lists are not in the vectors).
TEST(Tokenizer, ShippedListsMatchTheReference) {
  const std::string data = test::source_dir() + "/data/";
  for (const std::string name :
       {"classes/imagenet_classes.txt", "classes/cifar10_classes.txt", "classes/cub_classes.txt",
        "concepts/imagenet_filtered.txt", "concepts/cifar10_filtered.txt",
        "concepts/cub_filtered.txt", "concepts/places365_filtered.txt"}) {
    for (const auto& line : read_lines(data + name)) {
      ASSERT_EQ(reference().count(line), 1u) << name << ": " << line;
      EXPECT_EQ(tokenizer().tokenize(line), reference().at(line)) << name << ": " << line;
    }
  }
}

// What cleaning does not change: case, HTML escapes, runs of whitespace.
TEST(Tokenizer, CleaningLeavesTheIdsOfCleanText) {
  const Ids& collar = reference().at("A collar");
  EXPECT_EQ(tokenizer().tokenize("a COLLAR"), collar);
  EXPECT_EQ(tokenizer().tokenize(" \tA\r\n  collar\u00A0"), collar);
  EXPECT_EQ(tokenizer().tokenize("A&#32;collar"), collar);
  EXPECT_EQ(tokenizer().tokenize("\"Police\" or \"Sheriff\" markings"),
            tokenizer().tokenize("&quot;Police&quot; or &amp;quot;Sheriff&amp;quot; markings"));
}

// Pieces are split at spaces: the ids of a text joined with another are the ids of each.
TEST(Tokenizer, IdsOfJoinedTextsAreTheIdsOfEach) {
  const Ids a = body(reference().at("Christmas decoration"));
  const Ids b = body(reference().at("4x4"));
  Ids joined = a;
  joined.insert(joined.end(), b.begin(), b.end());
  EXPECT_EQ(tokenizer().encode("Christmas decoration 4x4"), joined);
}

std::string repeated(const std::string& text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += (i ? " " : "") + text;
  return out;
}

TEST(Tokenizer, ContextLengthCountsTheStartAndEndTokens) {
  const Ids africa = body(reference().at("Africa"));
  ASSERT_EQ(africa.size(), 1u);
  const Ids ids = tokenizer().tokenize(repeated("Africa", 75));  // 77 with start and end
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(ids.front(), kStartOfText);
  EXPECT_EQ(ids.back(), kEndOfText);
  EXPECT_EQ(ids[1], africa[0]);
  EXPECT_EQ(tokenizer().tokenize("Africa", 3), reference().at("Africa"));
}

TEST(Tokenizer, TooLongIsAnErrorNamingTheTextAndTruncate) {
  const std::string text = repeated("Africa", 76);  // 78 tokens
  try {
    tokenizer().tokenize(text);
    FAIL() << "accepted 78 tokens";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("text \"Africa Africa Africa"), std::string::npos) << what;  // as written
    EXPECT_NE(what.find("...\" is too long for context length 77: 78 tokens"), std::string::npos)
        << what;
    EXPECT_NE(e.hint().find("--truncate"), std::string::npos) << e.hint();
  }
  EXPECT_THROW(tokenizer().tokenize("Africa", 2), Error);
  EXPECT_THROW(tokenizer().tokenize("", 1), Error);
}

// tokenize(truncate=True): the first context_length ids, the last made the end token.
TEST(Tokenizer, TruncateKeepsTheFirstIdsAndEndsWithTheEndToken) {
  const Ids pair = body(reference().at("A collar"));  // two ids
  ASSERT_EQ(pair.size(), 2u);
  const Ids ids = tokenizer().tokenize(repeated("A collar", 40), 77, /*truncate=*/true);
  Ids expected{kStartOfText};
  for (int i = 0; i < 38; ++i) expected.insert(expected.end(), pair.begin(), pair.end());
  expected.resize(77);
  expected.back() = kEndOfText;
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(tokenizer().tokenize("A collar", 3, true), (Ids{kStartOfText, pair[0], kEndOfText}));
  EXPECT_EQ(tokenizer().tokenize("A collar", 2, true), (Ids{kStartOfText, kEndOfText}));
  // Short enough: truncate changes nothing.
  EXPECT_EQ(tokenizer().tokenize("A collar", 4, true), reference().at("A collar"));
}

TEST(Tokenizer, FindsTheShippedVocabulary) {
  const std::string path = default_vocab_path();
  EXPECT_NE(path.find("clip/bpe_simple_vocab_16e6.txt.gz"), std::string::npos) << path;
  EXPECT_EQ(tokenizer().vocab_path(), path);
}

void write_gzip(const std::string& path, const std::string& content) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
  gzclose(f);
}

void expect_error(const std::string& vocab, const std::string& part) {
  try {
    Tokenizer t(vocab);
    ADD_FAILURE() << "read " << vocab;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(vocab), std::string::npos) << e.what();
  }
}

TEST(Tokenizer, RefusesAVocabularyThatIsNotClips) {
  test::TempDir dir;
  expect_error(dir / "missing.txt.gz", "cannot read the vocabulary");
  write_gzip(dir / "short.txt.gz", "#version: 0.2\ni n\nt h\n");
  expect_error(dir / "short.txt.gz", "holds 2 merges");
  std::string bad = "#version: 0.2\n";
  for (int i = 0; i < 49000; ++i) bad += i == 7 ? "abc\n" : "a b\n";
  write_gzip(dir / "bad.txt.gz", bad);
  expect_error(dir / "bad.txt.gz", "line 9: \"abc\" is not a merge");
}

TEST(RunTokenize, TokenizesEachLineThatIsNotBlank) {
  test::TempDir dir;
  const std::string file = dir / "concepts.txt";
  std::ofstream(file, std::ios::binary) << "A collar\r\n\r\n  \r\nAfrica\r4x4";
  const auto out = run_tokenize({file});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].text, "A collar");
  EXPECT_EQ(out[0].ids, reference().at("A collar"));
  EXPECT_EQ(out[1].text, "Africa");
  EXPECT_EQ(out[1].ids, reference().at("Africa"));
  EXPECT_EQ(out[2].ids, reference().at("4x4"));
}

TEST(RunTokenize, NamesTheFileAndLineOfATextTooLong) {
  test::TempDir dir;
  const std::string file = dir / "concepts.txt";
  std::ofstream(file, std::ios::binary) << "A collar\n" << repeated("Africa", 10) << "\n";
  TokenizeOptions options{file, /*context_length=*/6};
  try {
    run_tokenize(options);
    FAIL() << "accepted a text of 12 tokens";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file + ", line 2: text \"Africa Africa"),
              std::string::npos)
        << e.what();
  }
  options.truncate = true;
  const auto out = run_tokenize(options);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].ids.size(), 6u);
  EXPECT_EQ(out[1].ids.back(), kEndOfText);
  options.context_length = 1;
  EXPECT_THROW(run_tokenize(options), Error);
}

}  // namespace
}  // namespace iis::text
