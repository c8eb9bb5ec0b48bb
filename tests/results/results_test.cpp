// Tests of the results schema: every field round-trips with its number type, older files
// (schema version 0) are read with their gaps, newer ones are refused, bad values named.
#include "iis/results/results.hpp"

#include <cmath>

#include "every_field.hpp"
#include "test_support.hpp"

namespace iis::results {
namespace {

using nlohmann::json;

// Where `j` holds a default value (0, false, "", an empty list or object): a field the
// every_field() builder did not set, or the writer dropped.
void find_defaults(const json& j, const std::string& key, std::vector<std::string>& out) {
  const bool is_default = (j.is_number() && j.get<double>() == 0) || j == false || j == "" ||
                          (j.is_structured() && j.empty()) || j.is_null();
  if (is_default) out.push_back(key);
  if (j.is_object())
    for (const auto& [k, v] : j.items()) find_defaults(v, key + "." + k, out);
  if (j.is_array())
    for (size_t i = 0; i < j.size(); ++i)
      find_defaults(j[i], key + "[" + std::to_string(i) + "]", out);
}

TEST(Results, EveryFieldRoundTripsThroughTheFile) {
  const FitResults x = test_data::every_field();
  const json written = to_json(x);
  std::vector<std::string> defaults;
  find_defaults(written, "", defaults);
  EXPECT_TRUE(defaults.empty()) << "fields left at their default: " << json(defaults).dump();

  const FitResults back = results_from_json(json::parse(written.dump()), "x.json");
  EXPECT_EQ(to_json(back).dump(1), written.dump(1));
  EXPECT_EQ(back.schema_version, kSchemaVersion);
  EXPECT_EQ(back.seeds, x.seeds);
  EXPECT_EQ(back.settings.kmeans->max_iter, x.settings.kmeans->max_iter);
  EXPECT_EQ(back.per_seed[1].ratios[0].kept, x.per_seed[1].ratios[0].kept);
  EXPECT_EQ(back.per_seed[0].curves.ratios[0].holdout_top1,
            x.per_seed[0].curves.ratios[0].holdout_top1);
  EXPECT_EQ(back.per_seed[1].end2end->largest_concept, x.per_seed[1].end2end->largest_concept);
  EXPECT_EQ(back.inputs.at("concepts").shape, x.inputs.at("concepts").shape);
  EXPECT_EQ(back.iis_chance_corrected, x.iis_chance_corrected);
  EXPECT_EQ(back.timings.seeds[0].timings.train_s, x.timings.seeds[0].timings.train_s);

  const SeedResults seed = seed_results_from_json(to_json(x.per_seed[0]), "seed.json");
  EXPECT_EQ(to_json(seed).dump(), to_json(x.per_seed[0]).dump());
  EXPECT_EQ(to_json(x.settings).dump(), written["settings"].dump());
}

// Binds every field of each struct: a field added to a struct no longer compiles here, which
// sends whoever added it to the schema (results.cpp) and to every_field.hpp.
[[maybe_unused]] void bind_every_field(
    const FitResults& fit_results, const SeedResults& seed_results, const FitSettings& fit_settings,
    const RatioResults& ratio_results, const HeadPick& head_pick, const HeadCurve& head_curve,
    const SeedCurves& seed_curves, const HeadFiles& head_files, const SeedRows& seed_rows,
    const SeedTimings& seed_timings, const End2EndDetails& end2_end_details,
    const KMeansDetails& k_means_details, const KMeansSettings& k_means_settings,
    const InputFile& input_file, const SeedTiming& seed_timing, const FitTimings& fit_timings,
    const FitFiles& fit_files, const TextSettings& text_settings, const NamedValue& named_value,
    const TextDetails& text_details, const SagaSettings& saga_settings,
    const SagaSolve& saga_solve) {
  { [[maybe_unused]] const auto& [t0, t1, t2, t3, t4, t5] = text_settings; }
  { [[maybe_unused]] const auto& [n0, n1] = named_value; }
  { [[maybe_unused]] const auto& [t0, t1, t2, t3, t4, t5, t6] = text_details; }
  { [[maybe_unused]] const auto& [s0, s1, s2, s3, s4, s5] = saga_settings; }
  { [[maybe_unused]] const auto& [s0, s1, s2, s3, s4] = saga_solve; }
  {
    [[maybe_unused]] const auto& [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14,
                                  f15, f16, f17, f18, f19, f20, f21, f22, f23, f24, f25, f26, f27,
                                  f28, f29, f30, f31, f32] = fit_results;
  }
  {
    [[maybe_unused]] const auto& [s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14] =
        seed_results;
  }
  {
    [[maybe_unused]] const auto& [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14,
                                  f15, f16] = fit_settings;
  }
  {
    [[maybe_unused]] const auto& [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12] =
        ratio_results;
  }
  { [[maybe_unused]] const auto& [h0, h1, h2, h3, h4, h5] = head_pick; }
  { [[maybe_unused]] const auto& [h0, h1, h2, h3, h4, h5] = head_curve; }
  { [[maybe_unused]] const auto& [s0, s1] = seed_curves; }
  { [[maybe_unused]] const auto& [h0, h1, h2, h3] = head_files; }
  { [[maybe_unused]] const auto& [s0, s1, s2] = seed_rows; }
  { [[maybe_unused]] const auto& [s0, s1, s2] = seed_timings; }
  { [[maybe_unused]] const auto& [e0, e1, e2, e3, e4, e5] = end2_end_details; }
  { [[maybe_unused]] const auto& [k0, k1, k2, k3, k4] = k_means_details; }
  { [[maybe_unused]] const auto& [k0, k1, k2] = k_means_settings; }
  { [[maybe_unused]] const auto& [i0, i1, i2] = input_file; }
  { [[maybe_unused]] const auto& [s0, s1] = seed_timing; }
  { [[maybe_unused]] const auto& [f0, f1, f2] = fit_timings; }
  { [[maybe_unused]] const auto& [f0, f1, f2, f3] = fit_files; }
}

TEST(Results, EveryKeyIsWritten) {
  // One key per field, schema_version included.
  const FitResults x = test_data::every_field();
  EXPECT_EQ(to_json(x).size(), 33u);
  EXPECT_EQ(to_json(x.per_seed[0]).size(), 15u);
  EXPECT_EQ(to_json(x.settings).size(), 17u);
  EXPECT_EQ(to_json(x).at("text_concepts").size(), 7u);
  EXPECT_EQ(to_json(x).at("settings").at("text").size(), 6u);
  EXPECT_EQ(to_json(x).at("ratios")[0].size(), 13u);
  EXPECT_EQ(to_json(x).at("per_seed")[0].at("ratios")[0].size(), 6u + 4u);
}

// Whole numbers stay whole (int64 or uint64) and reals stay reals, also when they are whole:
// the file is byte for byte what `iis fit` writes.
TEST(Results, NumberTypesAreKept) {
  FitResults x = test_data::every_field();
  x.settings.lr_decay = 1.0;
  x.ratios[0].ratio = 0.0;
  const json j = to_json(x);
  EXPECT_TRUE(j["seeds"][0].is_number_unsigned());
  EXPECT_TRUE(j["ratios"][0]["kept"].is_number_integer());
  EXPECT_FALSE(j["ratios"][0]["kept"].is_number_unsigned());
  EXPECT_TRUE(j["threads"].is_number_integer());
  EXPECT_NE(j.dump().find("\"lr_decay\":1.0"), std::string::npos);
  EXPECT_NE(j.dump().find("\"ratio\":0.0"), std::string::npos);
  const json back = to_json(results_from_json(json::parse(j.dump()), "x.json"));
  EXPECT_EQ(back.dump(), j.dump());
}

// At or below chance `iis fit` writes the chance-corrected figures as null: read as NaN and
// written back as null.
TEST(Results, ChanceCorrectedNullIsNaN) {
  FitResults x = test_data::every_field();
  x.iis_chance_corrected = NAN;
  x.iis_chance_corrected_std = NAN;
  x.ratios[0].arr_chance_corrected = NAN;
  x.per_seed[0].ratios[0].arr_chance_corrected = NAN;
  const json j = to_json(x);
  EXPECT_TRUE(j["iis_chance_corrected"].is_null());
  EXPECT_TRUE(j["ratios"][0]["arr_chance_corrected"].is_null());
  EXPECT_TRUE(j["per_seed"][0]["ratios"][0]["arr_chance_corrected"].is_null());
  const FitResults back = results_from_json(json::parse(j.dump()), "x.json");
  EXPECT_TRUE(std::isnan(back.iis_chance_corrected));
  EXPECT_TRUE(std::isnan(back.ratios[0].arr_chance_corrected));
  EXPECT_TRUE(std::isnan(back.per_seed[0].ratios[0].arr_chance_corrected));
  EXPECT_EQ(to_json(back).dump(), j.dump());
}

// A results.json written by an earlier `iis fit` (no schema_version, no "warnings").
TEST(Results, ReadsAnOlderFitsFileAsVersionZero) {
  const std::string path = test::source_dir() + "/tests/results/data/fit_v0_prototype.json";
  const FitResults r = read_results(path);
  EXPECT_EQ(r.schema_version, 0);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.concept_type, "prototype");
  EXPECT_EQ(r.seeds, (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(r.settings.concept_select, "stratified");
  EXPECT_EQ(r.settings.num_classes, 0);
  ASSERT_EQ(r.per_seed.size(), 2u);
  EXPECT_EQ(r.per_seed[1].seed, 1u);
  EXPECT_EQ(r.ratios[1].ratio, 0.5);
  EXPECT_NEAR(r.iis_chance_corrected, 0.85037878787878, 1e-12);

  // Written back: the same JSON, plus what the file lacked.
  json expected = json::parse(core::read_text(path));
  expected["warnings"] = json::array();
  expected["schema_version"] = 0;
  EXPECT_EQ(to_json(r).dump(1), expected.dump(1));
  EXPECT_EQ(to_json(results_from_json(to_json(r), "again")).dump(), expected.dump());
}

// A version-0 file needs only what every reader shows; the rest reads as not recorded.
TEST(Results, VersionZeroHasGaps) {
  const json minimal = json::parse(R"({"standard_accuracy": 0.9, "iis": 0.95,
    "ratios": [{"ratio": 0, "top1": 0.9}], "settings": {"epochs": 30}})");
  const FitResults r = results_from_json(minimal, "old.json");
  EXPECT_EQ(r.schema_version, 0);
  EXPECT_TRUE(std::isnan(r.iis_std));
  EXPECT_TRUE(std::isnan(r.iis_chance_corrected));
  EXPECT_TRUE(std::isnan(r.ratios[0].top5));
  EXPECT_FALSE(r.num_classes.has_value());
  EXPECT_FALSE(r.concept_type.has_value());
  EXPECT_EQ(r.settings.epochs, 30);
  EXPECT_FALSE(r.settings.ratios.has_value());
  EXPECT_EQ(seed_count(r), 0u);
  EXPECT_EQ(to_json(r.settings), json({{"epochs", 30}}));

  json no_iis = minimal;
  no_iis.erase("iis");
  EXPECT_IIS_ERROR(results_from_json(no_iis, "old.json"), "old.json has no \"iis\"");
  json empty = minimal;
  empty["ratios"] = json::array();
  EXPECT_IIS_ERROR(results_from_json(empty, "old.json"), "old.json has no \"ratios\" list");
  json null_top1 = minimal;
  null_top1["ratios"][0]["top1"] = nullptr;
  EXPECT_IIS_ERROR(results_from_json(null_top1, "old.json"), "\"ratios[0].top1\" is not a number");
}

// From version 1 on, every key `iis fit` always writes is required.
TEST(Results, VersionOneRequiresWhatFitWrites) {
  json minimal = json::parse(R"({"standard_accuracy": 0.9, "iis": 0.95,
    "ratios": [{"ratio": 0, "top1": 0.9}], "schema_version": 1})");
  EXPECT_IIS_ERROR(results_from_json(minimal, "new.json"), "new.json has no \"tool\"");
  json full = to_json(test_data::every_field());
  full["per_seed"][1]["rows"].erase("holdout");
  EXPECT_IIS_ERROR(results_from_json(full, "new.json"), "has no \"per_seed[1].rows.holdout\"");
  full = to_json(test_data::every_field());
  full["warnings"] = nullptr;
  EXPECT_IIS_ERROR(results_from_json(full, "new.json"), "\"warnings\" is null");
  // Keys that apply only to some fits stay optional.
  full = to_json(test_data::every_field());
  full.erase("kmeans");
  full["settings"].erase("temperature");
  full["per_seed"][0].erase("end2end");
  const FitResults r = results_from_json(full, "new.json");
  EXPECT_FALSE(r.kmeans.has_value());
  EXPECT_FALSE(r.settings.temperature.has_value());
  EXPECT_FALSE(r.per_seed[0].end2end.has_value());
  EXPECT_TRUE(r.per_seed[1].end2end.has_value());
}

TEST(Results, NewerSchemaVersionIsRefused) {
  json j = to_json(test_data::every_field());
  j["schema_version"] = kSchemaVersion + 1;
  const std::string what = test::error_of([&] { results_from_json(j, "future.json"); });
  EXPECT_NE(what.find("future.json has schema_version " + std::to_string(kSchemaVersion + 1)),
            std::string::npos)
      << what;
  EXPECT_NE(what.find("up to " + std::to_string(kSchemaVersion)), std::string::npos) << what;
  j["schema_version"] = "1";
  EXPECT_IIS_ERROR(results_from_json(j, "x.json"), "\"schema_version\" is not a whole number");
  j["schema_version"] = -1;
  EXPECT_IIS_ERROR(results_from_json(j, "x.json"), "below 0");
}

// A value of the wrong type is named by file and key, with a hint; never another exception.
TEST(Results, WrongTypesNameTheKey) {
  const json good = to_json(test_data::every_field());
  auto with = [&](const json::json_pointer& at, const json& value) {
    json j = good;
    j[at] = value;
    return j;
  };
  EXPECT_IIS_ERROR(results_from_json(with("/per_seed/1/ratios/0/kept"_json_pointer, 1.5), "r.json"),
                   "r.json: \"per_seed[1].ratios[0].kept\" is not a whole number");
  EXPECT_IIS_ERROR(results_from_json(with("/seeds/0"_json_pointer, -1), "r.json"),
                   "\"seeds[0]\" is not a whole number ≥ 0");
  EXPECT_IIS_ERROR(
      results_from_json(with("/threads"_json_pointer, 18446744073709551615u), "r.json"),
      "\"threads\" is not a whole number");
  EXPECT_IIS_ERROR(results_from_json(with("/warnings"_json_pointer, "a warning"), "r.json"),
                   "\"warnings\" is not a list of strings");
  EXPECT_IIS_ERROR(results_from_json(with("/inputs/concepts/path"_json_pointer, 3), "r.json"),
                   "\"inputs.concepts.path\" is not a string");
  EXPECT_IIS_ERROR(
      results_from_json(with("/per_seed/0/kmeans/converged"_json_pointer, 1), "r.json"),
      "\"per_seed[0].kmeans.converged\" is not true or false");
  EXPECT_IIS_ERROR(results_from_json(with("/settings"_json_pointer, json::array()), "r.json"),
                   "\"settings\" is not an object");
  EXPECT_IIS_ERROR(results_from_json(json::array(), "r.json"), "r.json is not a JSON object");
  EXPECT_IIS_ERROR(parse_results("{\"iis\": ", "r.json"), "reading r.json");
  try {
    results_from_json(with("/iis"_json_pointer, "high"), "r.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.hint().find("iis fit"), std::string::npos) << e.hint();
  }
}

TEST(Results, ReadsFiles) {
  test::TempDir dir;
  const FitResults x = test_data::every_field();
  core::write_text_atomic(dir / "results.json", to_json(x).dump(1));
  core::write_text_atomic(dir / "seed.json", to_json(x.per_seed[0]).dump(1));
  EXPECT_EQ(to_json(read_results(dir / "results.json")), to_json(x));
  EXPECT_EQ(to_json(read_seed_results(dir / "seed.json")), to_json(x.per_seed[0]));
  EXPECT_IIS_ERROR(read_results(dir / "missing.json"), "missing.json");
  json seed = to_json(x.per_seed[0]);
  seed.erase("timings");
  core::write_text_atomic(dir / "seed.json", seed.dump());
  EXPECT_IIS_ERROR(read_seed_results(dir / "seed.json"), "seed.json has no \"timings\"");
}

TEST(Results, SeedCountFromSettingsOrFile) {
  FitResults r = test_data::every_field();
  EXPECT_EQ(seed_count(r), r.settings.seeds->size());
  r.settings.seeds.reset();
  r.seeds = {1, 2, 3};
  EXPECT_EQ(seed_count(r), 3u);
}

}  // namespace
}  // namespace iis::results
