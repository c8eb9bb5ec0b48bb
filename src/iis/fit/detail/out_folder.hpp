// The output folder of `iis fit`: resuming in it, refusing one of other inputs or settings,
// and what --force removes.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "iis/fit/fit.hpp"

namespace iis::fit::detail {

// OUT may be new, empty, or an earlier `iis fit` output of the same inputs and settings (which
// resumes). An earlier output of other inputs or settings is refused unless `force`; returns
// true when it is to be replaced. Writes nothing.
bool check_out_folder(const FitOptions& options, const std::string& key,
                      const nlohmann::json& settings);

// Removes what an earlier run wrote into OUT: everything when it is replaced, else (--force on
// the same settings) the seed folders this run does not list.
void clear_out_folder(const FitOptions& options, bool replace);

}  // namespace iis::fit::detail
