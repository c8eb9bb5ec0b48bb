// Internal: the settings of a results.json as the report shows and compares them.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "iis/report/report.hpp"

namespace iis::report::detail {

// Fills row.seeds, row.settings and row.settings_key from a results.json `j` (names and
// ratios already read); keys it lacks are left out.
void read_settings(const nlohmann::json& j, ReportRow& row);

// Sets row.group for every row: the concept type, plus the settings that differ when rows
// of one concept type have different settings keys.
void name_groups(std::vector<ReportRow>& rows);

}  // namespace iis::report::detail
