// Turns a command's option table (core/options.hpp) into CLI11 flags: one flag per option,
// its default shown, lists comma-separated, booleans as plain flags.
#pragma once

#include <CLI/CLI.hpp>

#include <type_traits>
#include <variant>
#include <vector>

#include "iis/core/options.hpp"

namespace iis::tool {

inline void add_options(CLI::App* app, const core::Options& options) {
  for (const auto& o : options) {
    const std::string flag = core::flag_name(o.key);
    std::visit(
        [&](auto* field) {
          using T = std::remove_pointer_t<decltype(field)>;
          if constexpr (std::is_same_v<T, bool>) {
            app->add_flag(flag, *field, o.help);
          } else {
            auto* opt = app->add_option(flag, *field, o.help);
            if (o.required) {
              opt->required();
            } else {
              opt->capture_default_str();
            }
            if constexpr (!std::is_same_v<T, std::string> && std::is_class_v<T>)
              opt->delimiter(',');
          }
        },
        o.value);
  }
}

}  // namespace iis::tool
