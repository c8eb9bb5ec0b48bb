// The results schema: every key of results.json and seed.json, listed once per struct (the
// order is the order errors are reported in), and the API that writes and reads them.
#include "iis/results/results.hpp"

#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/results/detail/codec.hpp"

namespace iis::results {
namespace detail {

constexpr const char* kRefitHint =
    "is it a results.json written by `iis fit`? Re-run the fit that made it";

Place Place::child(const std::string& name, Need need) const {
  return Place{source, key.empty() ? name : key + "." + name, version, need != kAlways};
}

Place Place::item(size_t index) const {
  return Place{source, key + "[" + std::to_string(index) + "]", version, true};
}

void fail(const Place& at, const std::string& what) {
  IIS_FAIL(*at.source << ": \"" << at.key << "\" " << what, kRefitHint);
}

void fail_missing(const Place& at, bool present_as_null) {
  if (present_as_null) fail(at, "is null");
  IIS_FAIL(*at.source << " has no \"" << at.key << "\"", kRefitHint);
}

template <>
struct Schema<InputFile> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("path", s.path, kWritten);
    v("fingerprint", s.fingerprint, kWritten);
    v("shape", s.shape, kWritten);
  }
};

template <>
struct Schema<KMeansSettings> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("max_elements", s.max_elements, kWritten);
    v("tol", s.tol, kWritten);
    v("max_iter", s.max_iter, kWritten);
  }
};

template <>
struct Schema<FitSettings> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("num_concepts", s.num_concepts, kWritten);
    v("concept_select", s.concept_select, kWhereApplies);
    v("concept_type", s.concept_type, kWhereApplies);
    v("ratios", s.ratios, kWritten);
    v("lrs", s.lrs, kWritten);
    v("epochs", s.epochs, kWritten);
    v("batch_size", s.batch_size, kWritten);
    v("lr_decay", s.lr_decay, kWritten);
    v("threshold", s.threshold, kWritten);
    v("select_on", s.select_on, kWritten);
    v("holdout_fraction", s.holdout_fraction, kWritten);
    v("num_classes", s.num_classes, kWritten);
    v("kmeans", s.kmeans, kWhereApplies);
    v("temperature", s.temperature, kWhereApplies);
    v("seeds", s.seeds, kWhereApplies);
    v("backbone", s.backbone, kWhereApplies);
  }
};

template <>
struct Schema<KMeansDetails> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("inertia", s.inertia, kWritten);
    v("iterations", s.iterations, kWritten);
    v("converged", s.converged, kWritten);
    v("clustered_elements", s.clustered_elements, kWritten);
    v("seconds", s.seconds, kWritten);
  }
};

template <>
struct Schema<End2EndDetails> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("temperature", s.temperature, kWritten);
    v("assignment", s.assignment, kWritten);
    v("assignment_layout", s.assignment_layout, kWritten);
    v("concepts_layout", s.concepts_layout, kWritten);
    v("concepts_used", s.concepts_used, kWritten);
    v("largest_concept", s.largest_concept, kWritten);
  }
};

template <>
struct Schema<HeadPick> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("top1", s.top1, kWritten);
    v("top5", s.top5, kWritten);
    v("epoch", s.epoch, kWritten);
    v("top5_epoch", s.top5_epoch, kWritten);
    v("lr", s.lr, kWritten);
    v("select_top1", s.select_top1, kWritten);
  }
};

template <>
struct Schema<RatioPick> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    Schema<HeadPick>::fields(s, v);
    v("ratio", s.ratio, kWritten);
    v("kept", s.kept, kWritten);
    v("arr", s.arr, kWritten);
    v("arr_chance_corrected", s.arr_chance_corrected, kWritten);
  }
};

template <>
struct Schema<HeadCurve> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("lr", s.lr, kWritten);
    v("ratio", s.ratio, kWhereApplies);
    v("train_loss", s.train_loss, kWritten);
    v("val_top1", s.val_top1, kWritten);
    v("val_top5", s.val_top5, kWritten);
    v("holdout_top1", s.holdout_top1, kWhereApplies);
  }
};

template <>
struct Schema<SeedCurves> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("standard", s.standard, kWritten);
    v("ratios", s.ratios, kWritten);
  }
};

template <>
struct Schema<HeadFiles> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("folder", s.folder, kWritten);
    v("files", s.files, kWritten);
    v("layout", s.layout, kWritten);
    v("concepts", s.concepts, kWritten);
  }
};

template <>
struct Schema<SeedRows> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("train", s.train, kWritten);
    v("holdout", s.holdout, kWritten);
    v("val", s.val, kWritten);
  }
};

template <>
struct Schema<SeedTimings> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("concepts_s", s.concepts_s, kWritten);
    v("scores_s", s.scores_s, kWritten);
    v("train_s", s.train_s, kWritten);
  }
};

template <>
struct Schema<SeedResults> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("seed", s.seed, kWritten);
    v("settings", s.settings, kWritten);
    v("concept_type", s.concept_type, kWritten);
    v("concept_select", s.concept_select, kWhereApplies);
    v("kmeans", s.kmeans, kWhereApplies);
    v("end2end", s.end2end, kWhereApplies);
    v("standard", s.standard, kWritten);
    v("iis", s.iis, kWritten);
    v("iis_chance_corrected", s.iis_chance_corrected, kWritten);
    v("ratios", s.ratios, kWritten);
    v("curves", s.curves, kWritten);
    v("heads", s.heads, kWritten);
    v("rows", s.rows, kWritten);
    v("timings", s.timings, kWritten);
  }
};

template <>
struct Schema<RatioResults> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("ratio", s.ratio, kAlways);
    v("kept", s.kept, kWritten);
    v("top1", s.top1, kAlways);
    v("top1_std", s.top1_std, kWritten);
    v("top5", s.top5, kWritten);
    v("top5_std", s.top5_std, kWritten);
    v("epoch", s.epoch, kWritten);
    v("top5_epoch", s.top5_epoch, kWritten);
    v("lr", s.lr, kWritten);
    v("arr", s.arr, kWritten);
    v("arr_std", s.arr_std, kWritten);
    v("arr_chance_corrected", s.arr_chance_corrected, kWritten);
    v("arr_chance_corrected_std", s.arr_chance_corrected_std, kWritten);
  }
};

template <>
struct Schema<SeedTiming> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("seed", s.seed, kWritten);
    v("timings", s.timings, kWritten);
  }
};

template <>
struct Schema<FitTimings> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("load_s", s.load_s, kWritten);
    v("seeds", s.seeds, kWritten);
    v("total_s", s.total_s, kWritten);
  }
};

template <>
struct Schema<FitFiles> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("curve", s.curve, kWritten);
    v("epochs", s.epochs, kWritten);
    v("concepts", s.concepts, kWritten);
    v("seeds", s.seeds, kWritten);
  }
};

// schema_version is read before the rest (it decides what is required) and written by to_json.
template <>
struct Schema<FitResults> {
  template <class S, class V>
  static void fields(S& s, V& v) {
    v("tool", s.tool, kWritten);
    v("version", s.version, kWritten);
    v("libtorch", s.libtorch, kWritten);
    v("device", s.device, kWritten);
    v("threads", s.threads, kWritten);
    v("concept_type", s.concept_type, kWritten);
    v("backbone", s.backbone, kWhereApplies);
    v("settings", s.settings, kWritten);
    v("inputs", s.inputs, kWritten);
    v("inputs_key", s.inputs_key, kWritten);
    v("num_classes", s.num_classes, kWritten);
    v("num_concepts", s.num_concepts, kWritten);
    v("feature_dim", s.feature_dim, kWritten);
    v("train_rows", s.train_rows, kWritten);
    v("val_rows", s.val_rows, kWritten);
    v("seeds", s.seeds, kWritten);
    v("warnings", s.warnings, kWritten);
    v("kmeans", s.kmeans, kWhereApplies);
    v("standard_accuracy", s.standard_accuracy, kAlways);
    v("standard_accuracy_std", s.standard_accuracy_std, kWritten);
    v("standard_top5", s.standard_top5, kWritten);
    v("standard_top5_std", s.standard_top5_std, kWritten);
    v("standard_epoch", s.standard_epoch, kWritten);
    v("iis", s.iis, kAlways);
    v("iis_std", s.iis_std, kWritten);
    v("iis_chance_corrected", s.iis_chance_corrected, kWritten);
    v("iis_chance_corrected_std", s.iis_chance_corrected_std, kWritten);
    v("ratios", s.ratios, kAlways);
    v("per_seed", s.per_seed, kWritten);
    v("timings", s.timings, kWritten);
    v("files", s.files, kWritten);
  }
};

// The "schema_version" of a results.json: 0 where absent; refused above kSchemaVersion.
int64_t schema_version_of(const json& j, const std::string& source) {
  const auto it = j.find("schema_version");
  if (it == j.end()) return 0;
  int64_t version = 0;
  Codec<int64_t>::read(*it, version, Place{&source, "schema_version", 0, false});
  IIS_CHECK_HINT(version >= 0, source << ": \"schema_version\" is " << version << ", below 0",
                 kRefitHint);
  IIS_CHECK_HINT(version <= kSchemaVersion,
                 source << " has schema_version " << version
                        << ", newer than this iis reads (up to " << kSchemaVersion << ")",
                 "read it with the newer iis that wrote it, or re-run the fit with this one");
  return version;
}

}  // namespace detail

using detail::Codec;
using nlohmann::json;

json to_json(const FitResults& results) {
  json j = Codec<FitResults>::write(results);
  j["schema_version"] = results.schema_version;
  return j;
}

json to_json(const SeedResults& seed) { return Codec<SeedResults>::write(seed); }

json to_json(const FitSettings& settings) { return Codec<FitSettings>::write(settings); }

FitResults results_from_json(const json& j, const std::string& source) {
  IIS_CHECK_HINT(j.is_object(), source << " is not a JSON object", detail::kRefitHint);
  FitResults results;
  results.schema_version = detail::schema_version_of(j, source);
  Codec<FitResults>::read(j, results, detail::Place{&source, "", results.schema_version, true});
  IIS_CHECK_HINT(!results.ratios.empty(), source << " has no \"ratios\" list (it is empty)",
                 detail::kRefitHint);
  return results;
}

SeedResults seed_results_from_json(const json& j, const std::string& source,
                                   int64_t schema_version) {
  IIS_CHECK_HINT(j.is_object(), source << " is not a JSON object", detail::kRefitHint);
  SeedResults seed;
  Codec<SeedResults>::read(j, seed, detail::Place{&source, "", schema_version, true});
  return seed;
}

namespace {

json parse_json(const std::string& text, const std::string& source) {
  json j;
  with_context("reading " + source, [&] { j = json::parse(text); });
  return j;
}

std::string file_text(const std::string& path) {
  std::string text;
  with_context("reading " + path, [&] { text = core::read_text(path); });
  return text;
}

}  // namespace

FitResults parse_results(const std::string& text, const std::string& source) {
  return results_from_json(parse_json(text, source), source);
}

FitResults read_results(const std::string& path) { return parse_results(file_text(path), path); }

SeedResults read_seed_results(const std::string& path) {
  return seed_results_from_json(parse_json(file_text(path), path), path);
}

size_t seed_count(const FitResults& results) {
  return results.settings.seeds ? results.settings.seeds->size() : results.seeds.size();
}

}  // namespace iis::results
