// CLIP's text tokenizer: byte-level byte-pair encoding with CLIP's vocabulary of 49 408 tokens,
// giving the ids OpenAI's reference tokenizer (simple_tokenizer) gives; and `iis tokenize`.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace iis::text {

constexpr int32_t kStartOfText = 49406;  // <|startoftext|>
constexpr int32_t kEndOfText = 49407;    // <|endoftext|>
constexpr int kDefaultContextLength = 77;

// The vocabulary that ships with iis (data/clip/bpe_simple_vocab_16e6.txt.gz): the installed
// copy (share/iis/clip/ under the install prefix) when it exists, else the one in the source
// tree iis was built from. Throws iis::Error naming both places when neither exists.
std::string default_vocab_path();

// Encodes text as CLIP does: clean_text (HTML unescaping, whitespace, lower case), split into
// words, numbers and runs of other symbols by CLIP's pattern (letters and numbers as Unicode
// defines them, English contractions 's 't 're 've 'm 'll 'd, the two special tokens), each
// piece's UTF-8 bytes spelt as CLIP's 256 byte characters and merged by the ranked merges.
// Pieces are cached, so a tokenizer should live as long as its texts; one tokenizer may be
// used from several threads.
class Tokenizer {
 public:
  // Reads the gzipped merge list at `vocab_path` ("" = default_vocab_path()); throws
  // iis::Error naming the file if it is missing, not gzip or holds fewer than 48 894 merges.
  explicit Tokenizer(const std::string& vocab_path = "");
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // The ids of `text` without the start and end tokens, each in [0, 49408). Throws iis::Error
  // naming the text if it is not valid UTF-8.
  std::vector<int32_t> encode(const std::string& text) const;

  // kStartOfText, encode(text), kEndOfText: what CLIP's tokenize() puts in a row of its
  // [N, context_length] int tensor before padding it with zeros. More than `context_length`
  // ids throw iis::Error naming the text, unless `truncate`: then the first context_length ids
  // are kept and the last one made kEndOfText (CLIP's tokenize(truncate=True)).
  // `context_length` must be at least 2.
  std::vector<int32_t> tokenize(const std::string& text, int context_length = kDefaultContextLength,
                                bool truncate = false) const;

  // 49 408: 256 byte characters, the same with "</w>" (ending a word), 48 894 merges, the two
  // special tokens.
  size_t vocab_size() const { return vocab_size_; }

  // The path the vocabulary was read from.
  const std::string& vocab_path() const { return vocab_path_; }

 private:
  // The ids of one piece of the pattern, its bytes already spelt as byte characters.
  std::vector<int32_t> encode_piece(const std::string& piece) const;
  std::vector<std::string> merge(const std::string& piece) const;

  struct Pattern;  // the compiled PCRE2 pattern
  std::string vocab_path_;
  std::unique_ptr<Pattern> pattern_;
  std::vector<std::string> byte_characters_;  // byte -> its character, UTF-8
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<std::string, int32_t> merge_ranks_;  // "first second" -> rank
  size_t vocab_size_ = 0;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// `iis tokenize`: every line of a text file, tokenized.
struct TokenizeOptions {
  std::string file;  // a text file, one text a line ("\n", "\r\n" or "\r")
  int context_length = kDefaultContextLength;  // at least 2
  bool truncate = false;  // cut texts that are too long instead of refusing them
  std::string vocab;      // the BPE vocabulary ("" = default_vocab_path())
};

struct TokenizedText {
  std::string text;          // the line as written
  std::vector<int32_t> ids;  // Tokenizer::tokenize, no padding
};

// One entry per line of `options.file` that is not blank (only whitespace), in order. Throws
// iis::Error naming the file and line of a text that is too long or not UTF-8.
std::vector<TokenizedText> run_tokenize(const TokenizeOptions& options);

}  // namespace iis::text
