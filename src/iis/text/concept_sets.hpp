// The textual concept sets and class lists that ship with iis (data/concepts/, data/classes/),
// found by name or by path.
#pragma once

#include <string>
#include <vector>

namespace iis::text {

// The names of the shipped sets, sorted: a concept set data/concepts/<name>_filtered.txt is
// called <name> ("imagenet", "cifar10", ...), a class list data/classes/<name>.txt by its stem
// ("imagenet_classes", ...). Read from the installed copy (share/iis/) when it exists, else
// from the source tree iis was built from.
std::vector<std::string> shipped_text_sets();

// `name_or_path` itself when it is a file, else the file of the shipped set of that name.
// Throws iis::Error (naming `flag`) when it is neither, listing the shipped names.
std::string resolve_text_set(const std::string& name_or_path, const std::string& flag);

}  // namespace iis::text
