// Fuzz target: the bytes as a results.json read by `iis score`, rendered as its table, CSV
// and JSON.
#include <string>

#include "fuzz/targets.hpp"
#include "iis/fit/score_results.hpp"

namespace iis::fuzz {

void score_results_input(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  allowing_user_errors([&] {
    fit::ScoreTable table;
    table.rows.push_back(fit::read_score_row(text, "fuzz/results.json"));
    table.rows.push_back(table.rows.front());
    table.to_text();
    table.to_csv();
    table.to_json().dump();
  });
}

}  // namespace iis::fuzz
