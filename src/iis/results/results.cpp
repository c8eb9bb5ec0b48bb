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

// A key of the schema: its name is the member's, so the two cannot drift apart.
#define IIS_KEY(name, need) visit(#name, s.name, need)

template <>
struct Schema<InputFile> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(path, kWritten);
    IIS_KEY(fingerprint, kWritten);
    IIS_KEY(shape, kWritten);
  }
};

template <>
struct Schema<KMeansSettings> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(max_elements, kWritten);
    IIS_KEY(tol, kWritten);
    IIS_KEY(max_iter, kWritten);
  }
};

template <>
struct Schema<FitSettings> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(num_concepts, kWhereApplies);  // not for text: K is what its filters keep
    IIS_KEY(concept_select, kWhereApplies);
    IIS_KEY(concept_type, kWhereApplies);
    IIS_KEY(ratios, kWritten);
    IIS_KEY(lrs, kWritten);
    IIS_KEY(epochs, kWritten);
    IIS_KEY(batch_size, kWritten);
    IIS_KEY(lr_decay, kWritten);
    IIS_KEY(threshold, kWritten);
    IIS_KEY(select_on, kWritten);
    IIS_KEY(holdout_fraction, kWritten);
    IIS_KEY(num_classes, kWritten);
    IIS_KEY(kmeans, kWhereApplies);
    IIS_KEY(temperature, kWhereApplies);
    IIS_KEY(text, kWhereApplies);
    IIS_KEY(seeds, kWhereApplies);
    IIS_KEY(backbone, kWhereApplies);
  }
};

template <>
struct Schema<SagaSettings> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(alpha, kWritten);
    IIS_KEY(lambda, kWritten);
    IIS_KEY(step, kWritten);
    IIS_KEY(tol, kWritten);
    IIS_KEY(max_epochs, kWritten);
    IIS_KEY(batch_size, kWritten);
  }
};

template <>
struct Schema<SagaSolve> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(ratio, kWritten);
    IIS_KEY(epochs, kWritten);
    IIS_KEY(converged, kWritten);
    IIS_KEY(objective, kWritten);
    IIS_KEY(nonzero_share, kWritten);
  }
};

template <>
struct Schema<TextSettings> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(clip_cutoff, kWritten);
    IIS_KEY(interpretability_cutoff, kWritten);
    IIS_KEY(proj_steps, kWritten);
    IIS_KEY(proj_batch_size, kWritten);
    IIS_KEY(final_layer, kWritten);
    IIS_KEY(saga, kWhereApplies);
  }
};

template <>
struct Schema<NamedValue> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(name, kWritten);
    IIS_KEY(value, kWritten);
  }
};

template <>
struct Schema<TextDetails> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(kept, kWritten);
    IIS_KEY(dropped_by_clip_cutoff, kWritten);
    IIS_KEY(dropped_by_interpretability_cutoff, kWritten);
    IIS_KEY(projection_steps, kWritten);
    IIS_KEY(best_val_similarity, kWritten);
    IIS_KEY(top_concepts, kWritten);
    IIS_KEY(saga, kWhereApplies);
  }
};

template <>
struct Schema<KMeansDetails> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(inertia, kWritten);
    IIS_KEY(iterations, kWritten);
    IIS_KEY(converged, kWritten);
    IIS_KEY(clustered_elements, kWritten);
    IIS_KEY(seconds, kWritten);
  }
};

template <>
struct Schema<End2EndDetails> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(temperature, kWritten);
    IIS_KEY(assignment, kWritten);
    IIS_KEY(assignment_layout, kWritten);
    IIS_KEY(concepts_layout, kWritten);
    IIS_KEY(concepts_used, kWritten);
    IIS_KEY(largest_concept, kWritten);
  }
};

template <>
struct Schema<HeadPick> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(top1, kWritten);
    IIS_KEY(top5, kWritten);
    IIS_KEY(epoch, kWritten);
    IIS_KEY(top5_epoch, kWritten);
    IIS_KEY(lr, kWritten);
    IIS_KEY(select_top1, kWritten);
  }
};

template <>
struct Schema<RatioPick> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    Schema<HeadPick>::fields(s, visit);
    IIS_KEY(ratio, kWritten);
    IIS_KEY(kept, kWritten);
    IIS_KEY(arr, kWritten);
    IIS_KEY(arr_chance_corrected, kWritten);
  }
};

template <>
struct Schema<HeadCurve> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(lr, kWritten);
    IIS_KEY(ratio, kWhereApplies);
    IIS_KEY(train_loss, kWritten);
    IIS_KEY(val_top1, kWritten);
    IIS_KEY(val_top5, kWritten);
    IIS_KEY(holdout_top1, kWhereApplies);
  }
};

template <>
struct Schema<SeedCurves> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(standard, kWritten);
    IIS_KEY(ratios, kWritten);
  }
};

template <>
struct Schema<HeadFiles> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(folder, kWritten);
    IIS_KEY(files, kWritten);
    IIS_KEY(layout, kWritten);
    IIS_KEY(concepts, kWritten);
  }
};

template <>
struct Schema<SeedRows> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(train, kWritten);
    IIS_KEY(holdout, kWritten);
    IIS_KEY(val, kWritten);
  }
};

template <>
struct Schema<SeedTimings> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(concepts_s, kWritten);
    IIS_KEY(scores_s, kWritten);
    IIS_KEY(train_s, kWritten);
  }
};

template <>
struct Schema<SeedResults> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(seed, kWritten);
    IIS_KEY(settings, kWritten);
    IIS_KEY(concept_type, kWritten);
    IIS_KEY(concept_select, kWhereApplies);
    IIS_KEY(kmeans, kWhereApplies);
    IIS_KEY(end2end, kWhereApplies);
    IIS_KEY(text, kWhereApplies);
    IIS_KEY(standard, kWritten);
    IIS_KEY(iis, kWritten);
    IIS_KEY(iis_chance_corrected, kWritten);
    IIS_KEY(ratios, kWritten);
    IIS_KEY(curves, kWritten);
    IIS_KEY(heads, kWritten);
    IIS_KEY(rows, kWritten);
    IIS_KEY(timings, kWritten);
  }
};

template <>
struct Schema<RatioResults> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(ratio, kAlways);
    IIS_KEY(kept, kWritten);
    IIS_KEY(top1, kAlways);
    IIS_KEY(top1_std, kWritten);
    IIS_KEY(top5, kWritten);
    IIS_KEY(top5_std, kWritten);
    IIS_KEY(epoch, kWritten);
    IIS_KEY(top5_epoch, kWritten);
    IIS_KEY(lr, kWritten);
    IIS_KEY(arr, kWritten);
    IIS_KEY(arr_std, kWritten);
    IIS_KEY(arr_chance_corrected, kWritten);
    IIS_KEY(arr_chance_corrected_std, kWritten);
  }
};

template <>
struct Schema<SeedTiming> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(seed, kWritten);
    IIS_KEY(timings, kWritten);
  }
};

template <>
struct Schema<FitTimings> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(load_s, kWritten);
    IIS_KEY(seeds, kWritten);
    IIS_KEY(total_s, kWritten);
  }
};

template <>
struct Schema<FitFiles> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(curve, kWritten);
    IIS_KEY(epochs, kWritten);
    IIS_KEY(concepts, kWritten);
    IIS_KEY(seeds, kWritten);
  }
};

// schema_version is read before the rest (it decides what is required) and written by to_json.
template <>
struct Schema<FitResults> {
  template <class S, class V>
  static void fields(S& s, V& visit) {
    IIS_KEY(tool, kWritten);
    IIS_KEY(version, kWritten);
    IIS_KEY(libtorch, kWritten);
    IIS_KEY(device, kWritten);
    IIS_KEY(threads, kWritten);
    IIS_KEY(concept_type, kWritten);
    IIS_KEY(backbone, kWhereApplies);
    IIS_KEY(settings, kWritten);
    IIS_KEY(inputs, kWritten);
    IIS_KEY(inputs_key, kWritten);
    IIS_KEY(num_classes, kWritten);
    IIS_KEY(num_concepts, kWritten);
    IIS_KEY(feature_dim, kWritten);
    IIS_KEY(train_rows, kWritten);
    IIS_KEY(val_rows, kWritten);
    IIS_KEY(seeds, kWritten);
    IIS_KEY(warnings, kWritten);
    IIS_KEY(kmeans, kWhereApplies);
    IIS_KEY(text_concepts, kWhereApplies);
    IIS_KEY(standard_accuracy, kAlways);
    IIS_KEY(standard_accuracy_std, kWritten);
    IIS_KEY(standard_top5, kWritten);
    IIS_KEY(standard_top5_std, kWritten);
    IIS_KEY(standard_epoch, kWritten);
    IIS_KEY(iis, kAlways);
    IIS_KEY(iis_std, kWritten);
    IIS_KEY(iis_chance_corrected, kWritten);
    IIS_KEY(iis_chance_corrected_std, kWritten);
    IIS_KEY(ratios, kAlways);
    IIS_KEY(per_seed, kWritten);
    IIS_KEY(timings, kWritten);
    IIS_KEY(files, kWritten);
  }
};

#undef IIS_KEY

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

json to_json(const std::map<std::string, InputFile>& inputs) {
  return Codec<std::map<std::string, InputFile>>::write(inputs);
}

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
