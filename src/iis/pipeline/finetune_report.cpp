// The comparison `iis run` writes for fine-tuned backbones: each beside its start and its
// control (the same fine-tuning with lambda 0), and the gains over seeds.
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/pipeline/detail/stages.hpp"
#include "iis/report/report.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace iis::pipeline::detail {
namespace {

// Accuracy and IIS per concept type of one backbone (NaN where not fit).
struct Scores {
  double accuracy = std::nan("");
  std::map<std::string, double> iis;
};

std::map<std::string, Scores> scores_by_backbone(const std::vector<report::ReportRow>& rows) {
  std::map<std::string, Scores> out;
  for (const auto& r : rows) {
    Scores& s = out[r.backbone];
    if (std::isnan(s.accuracy)) s.accuracy = r.standard_accuracy;
    s.iis[r.group_name()] = r.iis;
  }
  return out;
}

// The settings of an entry with lambda and seed left out: entries that differ only there
// are one experiment (lambda > 0 against lambda = 0, over seeds).
std::string experiment_of(const BackboneConfig& b) {
  const auto& o = b.finetune_options;
  std::ostringstream s;
  s << b.from << '|' << o.ratio << '|' << o.epochs << '|' << o.lr << '|' << o.head_lr << '|'
    << o.batch_size << '|' << o.concept_type << '|' << o.num_concepts << '|' << o.concept_refresh
    << '|' << o.concept_grad << '|' << o.head_init << '|' << o.head_epochs << '|' << o.train_limit
    << '|' << o.val_limit;
  return s.str();
}

const BackboneConfig* control_of(const RunConfig& c, const BackboneConfig& b) {
  for (const auto& o : c.backbones) {
    if (o.finetune && o.finetune_options.lambda == 0 &&
        o.finetune_options.seed == b.finetune_options.seed && experiment_of(o) == experiment_of(b))
      return &o;
  }
  return nullptr;
}

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json mean_std(const std::vector<double>& v) {
  double mean = 0, var = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean);
  const double sd = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0;
  return {{"mean", number(mean)}, {"std", number(sd)}, {"n", v.size()}};
}

// Gains of one measure over the seeds of an experiment: with the term, without, and their
// difference; whether the difference of the means exceeds the larger spread.
json gains(const std::vector<double>& with_term, const std::vector<double>& without) {
  std::vector<double> difference;
  for (size_t i = 0; i < with_term.size(); ++i) difference.push_back(with_term[i] - without[i]);
  json j{{"with_term", mean_std(with_term)},
         {"without_term", mean_std(without)},
         {"difference", mean_std(difference)}};
  const double spread =
      std::max(j["with_term"]["std"].get<double>(), j["without_term"]["std"].get<double>());
  j["rose_more_than_spread"] = j["difference"]["mean"].get<double>() > spread;
  return j;
}

std::string cell(double v) {
  if (!std::isfinite(v)) return "";
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

// A gain as "+0.44 ± 0.06 points" (percentage points of accuracy), for the log.
std::string points(const json& mean_sd) {
  if (mean_sd["mean"].is_null()) return "n/a";
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(2);
  s << std::showpos << 100 * mean_sd["mean"].get<double>() << std::noshowpos << " ± "
    << 100 * mean_sd["std"].get<double>() << " points";
  return s.str();
}

// One experiment (entries that differ only in lambda and seed): its fine-tuned backbones and
// controls, and per measure the start's value and each seed's gain with and without the term.
struct Experiment {
  std::string from;
  double lambda = 0;
  json finetuned = json::array(), controls = json::array();
  struct Measure {
    double start = std::nan("");
    std::vector<double> with_term, without_term;
  };
  std::map<std::string, Measure> measures;
};

// An experiment as finetune.json records it, and its accuracy gains in the log.
json summary_of(const std::string& key, const Experiment& x) {
  json e{{"experiment", key},
         {"from", x.from},
         {"lambda", x.lambda},
         {"finetuned", x.finetuned},
         {"controls", x.controls}};
  for (const auto& [measure, m] : x.measures) {
    e[measure] = gains(m.with_term, m.without_term);
    e[measure]["start"] = number(m.start);
  }
  core::log_info("finetune " + x.from + ": accuracy gain with the term " +
                 points(e["accuracy"]["with_term"]) + ", without " +
                 points(e["accuracy"]["without_term"]) + " (mean ± sd over " +
                 std::to_string(x.finetuned.size()) + " seeds)");
  return e;
}

}  // namespace

void write_finetune_comparison(const RunConfig& c, const std::string& run_dir) {
  const auto scores = scores_by_backbone(report::collect_results(run_dir));
  auto at = [&](const std::string& name) {
    auto it = scores.find(name);
    return it == scores.end() ? Scores{} : it->second;
  };
  std::string csv = "backbone,start,control,measure,start_value,value,control_value\n";
  json pairs = json::array();
  std::map<std::string, Experiment> experiments;  // by experiment_of
  for (const auto& b : c.backbones) {
    if (!b.finetune || b.finetune_options.lambda == 0) continue;
    const BackboneConfig* control = control_of(c, b);
    const Scores start = at(b.from), tuned = at(b.name);
    const Scores ctrl = control ? at(control->name) : Scores{};
    std::map<std::string, std::array<double, 3>> measures{
        {"accuracy", {start.accuracy, tuned.accuracy, ctrl.accuracy}}};
    for (const auto& [type, v] : tuned.iis) {
      measures["iis " + type] = {start.iis.count(type) ? start.iis.at(type) : std::nan(""), v,
                                 ctrl.iis.count(type) ? ctrl.iis.at(type) : std::nan("")};
    }
    json pair{{"backbone", b.name},
              {"start", b.from},
              {"control", control ? json(control->name) : json(nullptr)}};
    for (const auto& [measure, v] : measures) {
      csv += b.name + "," + b.from + "," + (control ? control->name : "") + "," + measure + "," +
             cell(v[0]) + "," + cell(v[1]) + "," + cell(v[2]) + "\n";
      pair[measure] = {
          {"start", number(v[0])}, {"finetuned", number(v[1])}, {"control", number(v[2])}};
    }
    pairs.push_back(pair);
    if (!control) continue;  // nothing to compare its gains with
    Experiment& x = experiments[experiment_of(b)];
    x.from = b.from;
    x.lambda = b.finetune_options.lambda;
    x.finetuned.push_back(b.name);
    x.controls.push_back(control->name);
    for (const auto& [measure, v] : measures) {
      Experiment::Measure& m = x.measures[measure];
      m.start = v[0];
      m.with_term.push_back(v[1] - v[0]);
      m.without_term.push_back(v[2] - v[0]);
    }
  }
  json summary = json::array();
  for (const auto& [key, x] : experiments) summary.push_back(summary_of(key, x));
  core::write_text_atomic((fs::path(run_dir) / "finetune.csv").string(), csv);
  core::write_text_atomic((fs::path(run_dir) / "finetune.json").string(),
                          json{{"pairs", pairs}, {"experiments", summary}}.dump(2) + "\n");
}

}  // namespace iis::pipeline::detail
