// The files `iis elements` writes into its folder besides the element PNGs, shared by the run
// and the merge of its shards (which must write them byte for byte alike).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iis::elements::detail {

constexpr const char* kJournal = "elements.journal.jsonl";  // one line per finished image
constexpr const char* kSummary = "elements.json";           // settings, status, counts
constexpr const char* kManifest = "manifest.jsonl";         // one line per element
constexpr const char* kLabels = "labels.npy";               // int64 (N), manifest order
constexpr const char* kSkipped = "skipped.txt";             // "<source>\t<reason>" lines

// Writes manifest.jsonl (`manifest`: its lines, each ending in '\n'), labels.npy (`labels`,
// int64, one per manifest line) and skipped.txt (`skipped`) into `folder`, each atomically.
void write_lists(const std::string& folder, const std::string& manifest,
                 const std::vector<int64_t>& labels, const std::string& skipped);

}  // namespace iis::elements::detail
