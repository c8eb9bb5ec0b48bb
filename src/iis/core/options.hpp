// An option defined once, for both a command-line flag and a config key: its name, help and
// the field it sets (whose initial value is the default). Commands list their options in one
// table; the tool turns the table into flags, `iis run` into config keys.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace iis::core {

struct Option {
  // The config key, snake_case; the flag is "--" + key with '-' for '_' (flag_name).
  std::string key;
  std::string help;
  std::variant<bool*, int64_t*, uint64_t*, double*, std::string*, std::vector<double>*,
               std::vector<uint64_t>*>
      value;
  bool required = false;  // a required flag (paths)
  bool in_config = true;  // a key of `iis run`'s config section (not paths, out, device)
};

using Options = std::vector<Option>;

// "--num-concepts" for "num_concepts".
inline std::string flag_name(const std::string& key) {
  std::string flag = "--" + key;
  for (char& c : flag)
    if (c == '_') c = '-';
  return flag;
}

}  // namespace iis::core
