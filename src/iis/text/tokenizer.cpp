// CLIP's byte-level BPE tokenizer, written from the algorithm of OpenAI's simple_tokenizer.
#include "iis/text/tokenizer.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <zlib.h>

#include <filesystem>

#include "iis/core/error.hpp"
#include "iis/core/paths.hpp"
#include "iis/text/clean.hpp"
#include "iis/text/detail/unicode.hpp"
#include "iis/text/lines.hpp"

namespace iis::text {

namespace {

constexpr const char* kVocabFile = "clip/bpe_simple_vocab_16e6.txt.gz";
// CLIP uses the first 49152 - 256 - 2 merges: with the 512 byte tokens and the two special
// ones they make a vocabulary of 49 408.
constexpr size_t kMerges = 49152 - 256 - 2;
constexpr const char* kStartToken = "<|startoftext|>";
constexpr const char* kEndToken = "<|endoftext|>";
// CLIP's pre-tokenizing pattern; with PCRE2_UCP, \s, \p{L} and \p{N} are Unicode's.
constexpr const char* kPattern =
    R"(<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)";

// The whole content of a gzip file (or of a plain one: zlib reads those as they are).
std::string read_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  IIS_CHECK_HINT(file != nullptr, "cannot read the vocabulary " << path,
                 "check the path (--vocab), or reinstall iis");
  std::string content;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) content.append(buffer, n);
  int code = Z_OK;
  const std::string message = n < 0 ? gzerror(file, &code) : "";
  gzclose(file);
  IIS_CHECK_HINT(n == 0, "cannot read the vocabulary " << path << ": " << message,
                 "the file is damaged: copy data/" << kVocabFile << " from the iis sources");
  return content;
}

// CLIP's 256 byte characters, in its vocabulary's order: bytes that are printable Latin-1
// characters ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the others (controls, space,
// no-break and soft hyphen) for U+0100 onwards, so that no token holds whitespace or controls.
// Returns (byte, code point) pairs.
std::vector<std::pair<int, char32_t>> byte_characters_in_order() {
  std::vector<std::pair<int, char32_t>> order;
  std::vector<bool> printable(256, false);
  for (int b = 0; b < 256; ++b) {
    printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (printable[b]) order.emplace_back(b, static_cast<char32_t>(b));
  }
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    if (!printable[b]) order.emplace_back(b, next++);
  }
  return order;
}

// The UTF-8 characters of `s` (valid UTF-8).
std::vector<std::string> characters(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80 && !out.empty()) {
      out.back() += s[i];
    } else {
      out.emplace_back(1, s[i]);
    }
  }
  return out;
}

// `text` for a message: control characters escaped, cut after 100 bytes (on a character
// boundary).
std::string quoted(const std::string& text) {
  size_t end = std::min<size_t>(text.size(), 100);
  while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return "\"" + core::escape_control(text.substr(0, end)) + (end < text.size() ? "...\"" : "\"");
}

}  // namespace

std::string default_vocab_path() {
  namespace fs = std::filesystem;
  const std::string installed = std::string(IIS_DATA_INSTALL_DIR) + "/" + kVocabFile;
  const std::string source = std::string(IIS_DATA_SOURCE_DIR) + "/" + kVocabFile;
  std::error_code ec;
  if (fs::is_regular_file(installed, ec)) return installed;
  if (fs::is_regular_file(source, ec)) return source;
  IIS_FAIL("CLIP's BPE vocabulary is neither at " << installed << " nor at " << source,
           "pass its path with --vocab (data/" << kVocabFile << " in the iis sources)");
}

struct Tokenizer::Pattern {
  pcre2_code* code = nullptr;
  ~Pattern() { pcre2_code_free(code); }
};

Tokenizer::Tokenizer(const std::string& vocab_path)
    : vocab_path_(vocab_path.empty() ? default_vocab_path() : vocab_path),
      pattern_(std::make_unique<Pattern>()) {
  const std::vector<std::string> lines = split_lines(read_gzip(vocab_path_));
  IIS_CHECK_HINT(lines.size() > kMerges,
                 "the vocabulary " << vocab_path_ << " holds "
                                   << (lines.empty() ? 0 : lines.size() - 1)
                                   << " merges, CLIP's has at least " << kMerges,
                 "pass CLIP's bpe_simple_vocab_16e6.txt.gz (data/" << kVocabFile << ")");
  std::vector<std::string> vocab;
  byte_characters_.resize(256);
  for (const auto& [byte, code_point] : byte_characters_in_order()) {
    byte_characters_[byte] = detail::encode_utf8(std::u32string(1, code_point));
    vocab.push_back(byte_characters_[byte]);
  }
  for (size_t i = 0; i < 256; ++i) vocab.push_back(vocab[i] + "</w>");
  for (size_t rank = 0; rank < kMerges; ++rank) {
    const std::string& line = lines[rank + 1];  // after the "#version" line
    const size_t space = line.find(' ');
    IIS_CHECK_HINT(space != std::string::npos && space > 0 && space + 1 < line.size() &&
                       line.find(' ', space + 1) == std::string::npos,
                   "the vocabulary " << vocab_path_ << ", line " << rank + 2 << ": " << quoted(line)
                                     << " is not a merge (two symbols)",
                   "pass CLIP's bpe_simple_vocab_16e6.txt.gz (data/" << kVocabFile << ")");
    merge_ranks_[line] = static_cast<int32_t>(rank);  // a repeated merge keeps its last rank
    vocab.push_back(line.substr(0, space) + line.substr(space + 1));
  }
  vocab.push_back(kStartToken);
  vocab.push_back(kEndToken);
  for (size_t id = 0; id < vocab.size(); ++id) ids_[vocab[id]] = static_cast<int32_t>(id);
  vocab_size_ = vocab.size();
  IIS_ASSERT(ids_.at(kStartToken) == kStartOfText && ids_.at(kEndToken) == kEndOfText,
             "special token ids " << ids_.at(kStartToken) << ", " << ids_.at(kEndToken));

  int error = 0;
  PCRE2_SIZE offset = 0;
  pattern_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPattern), PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &error, &offset, nullptr);
  IIS_ASSERT(pattern_->code != nullptr, "PCRE2 error " << error << " at " << offset);
  pcre2_jit_compile(pattern_->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter
}

Tokenizer::~Tokenizer() = default;

std::vector<std::string> Tokenizer::merge(const std::string& piece) const {
  std::vector<std::string> symbols = characters(piece);
  symbols.back() += "</w>";
  while (symbols.size() > 1) {
    // The adjacent pair merged first in CLIP's training; then every occurrence of it, left to
    // right.
    int32_t best_rank = -1;
    size_t best = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = merge_ranks_.find(symbols[i] + " " + symbols[i + 1]);
      if (it != merge_ranks_.end() && (best_rank < 0 || it->second < best_rank)) {
        best_rank = it->second;
        best = i;
      }
    }
    if (best_rank < 0) break;
    const std::string first = symbols[best], second = symbols[best + 1];
    std::vector<std::string> merged;
    merged.reserve(symbols.size());
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (i + 1 < symbols.size() && symbols[i] == first && symbols[i + 1] == second) {
        merged.push_back(first + second);
        ++i;
      } else {
        merged.push_back(symbols[i]);
      }
    }
    symbols = std::move(merged);
  }
  return symbols;
}

std::vector<int32_t> Tokenizer::encode_piece(const std::string& piece) const {
  if (piece == kStartToken) return {kStartOfText};
  if (piece == kEndToken) return {kEndOfText};
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (const auto it = cache_.find(piece); it != cache_.end()) return it->second;
  }
  std::vector<int32_t> ids;
  for (const auto& symbol : merge(piece)) {
    const auto it = ids_.find(symbol);
    IIS_ASSERT(it != ids_.end(), "BPE symbol " << quoted(symbol) << " has no id");
    ids.push_back(it->second);
  }
  std::lock_guard<std::mutex> lock(cache_mutex_);
  cache_.emplace(piece, ids);
  return ids;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  const std::string cleaned = clean_text(text);
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(pattern_->code, nullptr), &pcre2_match_data_free);
  IIS_ASSERT(match != nullptr, "out of memory for a PCRE2 match");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(cleaned.data());
  std::vector<int32_t> ids;
  for (PCRE2_SIZE at = 0; at < cleaned.size();) {
    // clean_text checked the UTF-8.
    const int rc = pcre2_match(pattern_->code, subject, cleaned.size(), at, PCRE2_NO_UTF_CHECK,
                               match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    IIS_CHECK_HINT(rc > 0,
                   "splitting " << quoted(text) << " into words failed (PCRE2 error " << rc << ")",
                   "shorten the text");
    const PCRE2_SIZE* span = pcre2_get_ovector_pointer(match.get());
    std::string piece;  // its bytes spelt as CLIP's byte characters
    for (PCRE2_SIZE i = span[0]; i < span[1]; ++i) {
      piece += byte_characters_[static_cast<unsigned char>(cleaned[i])];
    }
    const std::vector<int32_t> piece_ids = encode_piece(piece);
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
    at = span[1];  // every alternative of the pattern matches at least one character
  }
  return ids;
}

std::vector<int32_t> Tokenizer::tokenize(const std::string& text, int context_length,
                                         bool truncate) const {
  IIS_CHECK_HINT(
      context_length >= 2,
      "context length " << context_length << " leaves no room for the start and end tokens",
      "give --context-length of at least 2 (CLIP's is 77)");
  std::vector<int32_t> ids{kStartOfText};
  const std::vector<int32_t> body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(kEndOfText);
  const auto length = static_cast<size_t>(context_length);
  if (ids.size() > length) {
    IIS_CHECK_HINT(truncate,
                   "text " << quoted(text) << " is too long for context length " << context_length
                           << ": " << ids.size() << " tokens with the start and end tokens",
                   "shorten it, or pass --truncate to cut it to "
                       << context_length << " tokens (ending with the end token)");
    ids.resize(length);
    ids.back() = kEndOfText;
  }
  return ids;
}

std::vector<TokenizedText> run_tokenize(const TokenizeOptions& options) {
  IIS_CHECK_HINT(options.context_length >= 2,
                 "--context-length " << options.context_length
                                     << " leaves no room for the start and end tokens",
                 "give at least 2 (CLIP's is 77)");
  const std::vector<std::string> lines = read_lines(options.file);
  const Tokenizer tokenizer(options.vocab);
  std::vector<TokenizedText> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    with_context(options.file + ", line " + std::to_string(i + 1), [&] {
      bool blank = true;
      for (char32_t c : detail::decode_utf8(lines[i], "the line"))
        blank = blank && detail::is_space(c);
      if (!blank) {
        out.push_back(
            {lines[i], tokenizer.tokenize(lines[i], options.context_length, options.truncate)});
      }
    });
  }
  return out;
}

}  // namespace iis::text
