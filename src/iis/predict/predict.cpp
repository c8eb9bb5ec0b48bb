// `iis predict`: the rows, the fingerprint check, the heads applied, preds.csv and preds.json.
#include "iis/predict/predict.hpp"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/io/npy.hpp"
#include "iis/text/lines.hpp"

namespace iis::predict {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// PREFIX.embed.json beside PREFIX.features.npy, or "" when the name has no such prefix.
std::string embed_json_of(const std::string& features) {
  const std::string suffix = ".features.npy";
  if (features.size() <= suffix.size() ||
      features.compare(features.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  return features.substr(0, features.size() - suffix.size()) + ".embed.json";
}

json read_embed_json(const std::string& path) {
  if (path.empty() || !fs::is_regular_file(path)) return json();
  return json::parse(core::read_text(path));
}

// The prefix `iis predict --backbone` embeds into: OUT without its extension.
std::string embed_prefix(const std::string& out) {
  return (fs::path(out).parent_path() / fs::path(out).stem()).string();
}

// A CSV field in quotes, its quotes doubled (RFC 4180), so any file name survives.
std::string csv_field(const std::string& text) {
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv_text(const HeadOutputs& o, const LoadedFeatures& in) {
  std::ostringstream s;
  s.precision(6);
  s << "row,predicted,probability,standard_predicted,standard_probability,kept"
    << (in.labels.defined() ? ",label" : "") << (in.sources.empty() ? "" : ",source") << "\n";
  for (int64_t i = 0; i < o.predicted.size(0); ++i) {
    s << i << "," << o.predicted[i].item<int64_t>() << "," << o.probability[i].item<double>() << ","
      << o.standard_predicted[i].item<int64_t>() << "," << o.standard_probability[i].item<double>()
      << "," << o.kept[i].item<int64_t>();
    if (in.labels.defined()) s << "," << in.labels[i].item<int64_t>();
    if (!in.sources.empty()) s << "," << csv_field(in.sources[static_cast<size_t>(i)]);
    s << "\n";
  }
  return s.str();
}

json summary_json(const PredictOptions& o, const FitHeads& h, const PredictResult& r) {
  json j{{"tool", "iis predict"},
         {"fit", fs::absolute(o.fit).string()},
         {"concept_type", h.concept_type},
         {"seed", r.seed},
         {"ratio", r.ratio},
         {"ratio_reason", r.ratio_reason},
         {"rows", r.rows},
         {"warnings", r.warnings}};
  if (r.accuracy) {
    j["accuracy"] = *r.accuracy;
    j["standard_accuracy"] = *r.standard_accuracy;
    j["retention"] = *r.retention;
  }
  return j;
}

}  // namespace

void PredictOptions::validate() const {
  IIS_CHECK_HINT(!fit.empty(), "--fit is required", "give the --out folder of `iis fit`");
  IIS_CHECK_HINT(!out.empty(), "--out is required", "e.g. --out preds.csv");
  IIS_CHECK_HINT(fs::path(out).extension() != ".json",
                 "--out " << out << " would be overwritten by the summary written beside it",
                 "name the CSV file, e.g. --out preds.csv (preds.json is written beside it)");
  source.validate();
  IIS_CHECK_HINT(choice.ratio < 0 || choice.ratio < 1,
                 "--ratio must be one of the fit's ratios in [0, 1), got " << choice.ratio,
                 "leave it out for the largest ratio keeping 95 % of the accuracy");
}

void FeatureSource::validate() const {
  const bool by_file = !features.empty();
  const bool by_data = !backbone.empty() || !data.empty();
  IIS_CHECK_HINT(by_file != by_data, "give either --features or --backbone with --data",
                 "--features F.npy takes rows `iis embed` wrote; --backbone and --data embed them");
  IIS_CHECK_HINT(by_file || (!backbone.empty() && !data.empty()),
                 "--backbone and --data go together", "give both, or --features instead");
}

LoadedFeatures load_features(const FeatureSource& s, const std::string& out) {
  LoadedFeatures in;
  in.path = s.features;
  if (!s.backbone.empty()) {
    embed::EmbedOptions e;
    e.backbone = s.backbone;
    e.data = s.data;
    e.out = embed_prefix(out);
    e.preprocess = s.preprocess;
    e.limit = s.limit;
    if (!fs::path(out).parent_path().empty()) core::make_dirs(fs::path(out).parent_path().string());
    embed::run_embed(e);
    in.path = e.out + ".features.npy";
    if (s.labels.empty()) in.labels = io::load_labels(e.out + ".labels.npy", "--data's labels");
  }
  in.features = io::load_features(in.path, "--features");
  if (!s.labels.empty()) in.labels = io::load_labels(s.labels, "--labels");
  IIS_CHECK_HINT(!in.labels.defined() || in.labels.size(0) == in.features.size(0),
                 "--labels has " << in.labels.size(0) << " labels but the features have "
                                 << in.features.size(0) << " rows",
                 "give one label per row, in the same order");
  const std::string json_path = embed_json_of(in.path);
  const std::string paths =
      json_path.empty() ? "" : json_path.substr(0, json_path.size() - 11) + ".paths.txt";
  if (!paths.empty() && fs::is_regular_file(paths)) in.sources = text::read_lines(paths);
  if (static_cast<int64_t>(in.sources.size()) != in.features.size(0)) in.sources.clear();
  return in;
}

std::vector<std::string> check_same_representation(const FitHeads& h,
                                                   const std::string& features_path,
                                                   bool skip_check) {
  const auto train = h.results.inputs.find("train_features");
  if (train == h.results.inputs.end())
    return {
        "results.json names no training features: the "
        "backbone of --features was not checked"};
  const std::string print = core::fingerprint_file(features_path);
  for (const char* name : {"train_features", "val_features"}) {
    const auto it = h.results.inputs.find(name);
    if (it != h.results.inputs.end() && it->second.fingerprint == print) return {};
  }
  const json fit = read_embed_json(embed_json_of(train->second.path));
  const json mine = read_embed_json(embed_json_of(features_path));
  if (fit.is_null() || mine.is_null()) {
    IIS_CHECK_HINT(
        fit.is_null() || skip_check,
        "cannot tell which backbone made " << features_path << ": no PREFIX.embed.json beside it",
        "use features `iis embed` wrote (PREFIX.features.npy with PREFIX.embed.json), "
        "or pass --no-fingerprint-check if you know they come from "
            << fit.value("backbone", std::string("the fit's backbone")));
    return {"the backbone and preprocessing of " + features_path +
            " were not checked against the fit's (no embed.json beside one of them)"};
  }
  for (const char* key : {"backbone_fingerprint", "preprocessing_fingerprint"}) {
    IIS_CHECK_HINT(
        fit.value(key, std::string()) == mine.value(key, std::string()),
        features_path << " comes from backbone " << mine.value("backbone", std::string("?")) << " ("
                      << mine.value("preprocessing", std::string("?"))
                      << "), but the fit was trained on " << fit.value("backbone", std::string("?"))
                      << " (" << fit.value("preprocessing", std::string("?")) << "): " << key
                      << " differs",
        "embed the images with the fit's backbone and preprocessing (iis embed --backbone "
            << fit.value("backbone", std::string("...")) << "), or give --backbone and --data");
  }
  return {};
}

double accuracy(const torch::Tensor& predicted, const torch::Tensor& labels) {
  const int64_t hits = predicted.eq(labels.to(predicted.device())).sum().item<int64_t>();
  return static_cast<double>(hits) / static_cast<double>(labels.size(0));
}

PredictResult run_predict(const PredictOptions& o) {
  o.validate();
  const FitHeads h = load_fit_heads(o.fit, o.choice);
  const LoadedFeatures in = load_features(o.source, o.out);
  PredictResult r;
  r.warnings = check_same_representation(h, in.path, o.source.skip_fingerprint_check);
  const HeadOutputs out = apply_heads(h, in.features);
  r.ratio = h.ratio;
  r.ratio_reason = h.ratio_reason;
  r.seed = h.seed;
  r.rows = in.features.size(0);
  if (in.labels.defined() && r.rows > 0) {
    r.accuracy = accuracy(out.predicted, in.labels);
    r.standard_accuracy = accuracy(out.standard_predicted, in.labels);
    r.retention = *r.accuracy / *r.standard_accuracy;
  }
  if (!fs::path(o.out).parent_path().empty())
    core::make_dirs(fs::path(o.out).parent_path().string());
  r.csv = o.out;
  r.json = (fs::path(o.out).replace_extension(".json")).string();
  core::write_text_atomic(r.csv, csv_text(out, in));
  core::write_text_atomic(r.json, summary_json(o, h, r).dump(1) + "\n");
  return r;
}

}  // namespace iis::predict
