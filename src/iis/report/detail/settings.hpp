// Internal: the settings of a results.json as the report shows and compares them.
#pragma once

#include <vector>

#include "iis/report/report.hpp"
#include "iis/results/results.hpp"

namespace iis::report::detail {

// Fills row.seeds, row.settings and row.settings_key from a results.json (names and ratios
// already read); settings it lacks are left out.
void read_settings(const results::FitResults& fit, ReportRow& row);

// Sets row.group for every row: the concept type, plus the settings that differ when rows
// of one concept type have different settings keys.
void name_groups(std::vector<ReportRow>& rows);

}  // namespace iis::report::detail
