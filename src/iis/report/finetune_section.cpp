// The fine-tuning section of index.html: each experiment of RUN/finetune.json (written by
// `iis run` for its finetune entries) as a table of start, with the term, control and gain.
#include <cmath>
#include <filesystem>
#include <sstream>

#include "iis/core/files.hpp"
#include "iis/report/detail/outputs.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace iis::report::detail {

namespace {

double value(const json& j) { return j.is_number() ? j.get<double>() : std::nan(""); }

// A measure's value as the page prints it: accuracy in percent, IIS with four decimals.
std::string shown(const std::string& measure, double v) {
  if (std::isnan(v)) return "n/a";
  return measure == "accuracy" ? number(100 * v, "%.2f") + " %" : number(v, "%.4f");
}

// A difference of gains (mean ± sd): accuracy in percentage points.
std::string difference(const std::string& measure, const json& d) {
  const double mean = value(d["mean"]), sd = value(d["std"]);
  if (std::isnan(mean)) return "n/a";
  if (measure != "accuracy") return number(mean, "%+.4f") + " ± " + number(sd, "%.4f");
  return number(100 * mean, "%+.2f") + " ± " + number(100 * sd, "%.2f") + " points";
}

// start + gain (mean ± sd over seeds), as the fine-tuned backbones' value.
std::string after(const std::string& measure, double start, const json& gain) {
  return shown(measure, start + value(gain["mean"])) + " ± " + shown(measure, value(gain["std"]));
}

std::string experiment_table(const json& e) {
  std::ostringstream h;
  const std::string lambda = number(value(e["lambda"]), "%g");
  h << "<p>From <span class=\"nb\">" << html_escape(e.value("from", "?"))
    << "</span>: " << e["finetuned"].size() << " seeds with the term (&lambda; = " << lambda
    << "), " << e["controls"].size()
    << " without (&lambda; = 0, the control). Mean &plusmn; sd over "
    << "seeds.</p>\n<div class=\"scroll\"><table><tr><th>measure</th><th>start</th>"
    << "<th>with the term</th><th>control</th><th>gain with &minus; gain without</th>"
    << "<th>more than the spread</th></tr>\n";
  for (const auto& [measure, m] : e.items()) {
    if (!m.is_object() || !m.contains("difference")) continue;
    const double start = value(m["start"]);
    const std::string name = measure.rfind("iis ", 0) == 0 ? "IIS " + measure.substr(4) : measure;
    h << "<tr><td class=\"name\">" << html_escape(name) << "</td><td>" << shown(measure, start)
      << "</td><td>" << after(measure, start, m["with_term"]) << "</td><td>"
      << after(measure, start, m["without_term"]) << "</td><td>"
      << difference(measure, m["difference"]) << "</td><td>"
      << (m.value("rose_more_than_spread", false) ? "yes" : "no") << "</td></tr>\n";
  }
  h << "</table></div>\n";
  return h.str();
}

}  // namespace

std::string finetune_html(const std::string& run_dir, const std::string& out_dir) {
  const fs::path file = fs::path(run_dir) / "finetune.json";
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return "";
  auto link = [&](const char* name) {
    const std::string href = fs::relative(fs::path(run_dir) / name, out_dir).generic_string();
    return "<a href=\"" + html_escape(href) + "\">" + name + "</a>";
  };
  std::string h =
      "<h2>Fine-tuning with the interpretability term</h2>\n<p>Each fine-tuned backbone against "
      "its start and its control, the same fine-tuning without the term (" +
      link("finetune.csv") + ", " + link("finetune.json") +
      "). "
      "&ldquo;More than the spread&rdquo;: the gain with the term exceeds the gain without by "
      "more than the larger standard deviation over seeds.</p>\n";
  try {
    const json j = json::parse(core::read_text(file.string()));
    for (const auto& e : j.at("experiments")) h += experiment_table(e);
  } catch (const std::exception& e) {
    h += "<p>finetune.json could not be read: " + html_escape(e.what()) + "</p>\n";
  }
  return h;
}

}  // namespace iis::report::detail
