// FitResults and SeedResults with every field set, each to a value of its own (no zero, no
// empty string or list, every optional set), for round trips that must keep everything.
#pragma once

#include <string>

#include "iis/results/results.hpp"

namespace iis::results::test_data {

// Hands out distinct values: doubles 1.25, 2.25, ..., whole numbers 1, 2, ..., names "x1", ...
class Distinct {
 public:
  double real() { return ++n_ + 0.25; }
  int64_t whole() { return ++n_; }
  uint64_t seed() { return static_cast<uint64_t>(++n_); }
  std::string text(const std::string& what) { return what + std::to_string(++n_); }
  std::vector<double> reals() { return {real(), real()}; }

 private:
  int64_t n_ = 0;
};

inline FitSettings every_setting(Distinct& d, bool with_seeds) {
  FitSettings s;
  s.num_concepts = d.whole();
  s.concept_select = d.text("select");
  s.concept_type = d.text("type");
  s.ratios = d.reals();
  s.lrs = d.reals();
  s.epochs = d.whole();
  s.batch_size = d.whole();
  s.lr_decay = d.real();
  s.threshold = d.text("threshold");
  s.select_on = d.text("select_on");
  s.holdout_fraction = d.real();
  s.num_classes = d.whole();
  s.kmeans = KMeansSettings{d.whole(), d.real(), d.whole()};
  s.temperature = d.real();
  s.text = TextSettings{
      d.real(),        d.real(),
      d.whole(),       d.whole(),
      d.text("layer"), SagaSettings{d.real(), d.real(), d.real(), d.real(), d.whole(), d.whole()}};
  if (with_seeds) s.seeds = std::vector<uint64_t>{d.seed(), d.seed()};
  s.backbone = d.text("backbone");
  return s;
}

inline KMeansDetails every_kmeans(Distinct& d) {
  return KMeansDetails{d.real(), d.whole(), true, d.whole(), d.real()};
}

inline TextDetails every_text(Distinct& d) {
  TextDetails t;
  t.kept = {d.text("concept"), d.text("concept")};
  t.dropped_by_clip_cutoff = {NamedValue{d.text("concept"), d.real()}};
  t.dropped_by_interpretability_cutoff = {NamedValue{d.text("concept"), d.real()}};
  t.projection_steps = d.whole();
  t.best_val_similarity = d.real();
  t.top_concepts = {{{NamedValue{d.text("concept"), d.real()}}}};
  t.saga = {SagaSolve{d.real(), d.whole(), true, d.real(), d.real()}};
  return t;
}

inline void every_head(Distinct& d, HeadPick& h) {
  h.top1 = d.real();
  h.top5 = d.real();
  h.epoch = d.whole();
  h.top5_epoch = d.whole();
  h.lr = d.real();
  h.select_top1 = d.real();
}

inline HeadCurve every_curve(Distinct& d) {
  HeadCurve c;
  c.lr = d.real();
  c.ratio = d.real();
  c.train_loss = d.reals();
  c.val_top1 = d.reals();
  c.val_top5 = d.reals();
  c.holdout_top1 = d.reals();
  return c;
}

inline SeedResults every_seed(Distinct& d) {
  SeedResults s;
  s.seed = d.seed();
  s.settings = every_setting(d, false);
  s.concept_type = d.text("type");
  s.concept_select = d.text("select");
  s.kmeans = every_kmeans(d);
  s.end2end = End2EndDetails{d.real(),         d.text("assignment"), d.text("layout"),
                             d.text("layout"), {d.whole()},          {d.whole()}};
  s.text = every_text(d);
  every_head(d, s.standard);
  s.iis = d.real();
  s.iis_chance_corrected = d.real();
  RatioPick r;
  every_head(d, r);
  r.ratio = d.real();
  r.kept = d.whole();
  r.arr = d.real();
  r.arr_chance_corrected = d.real();
  s.ratios = {r};
  s.curves = SeedCurves{{every_curve(d)}, {every_curve(d)}};
  s.heads = HeadFiles{d.text("folder"), {d.text("file")}, d.text("layout"), d.text("concepts")};
  s.rows = SeedRows{d.whole(), d.whole(), d.whole()};
  s.timings = SeedTimings{d.real(), d.real(), d.real()};
  return s;
}

inline RatioResults every_ratio(Distinct& d) {
  RatioResults r;
  r.ratio = d.real();
  r.kept = d.whole();
  r.top1 = d.real();
  r.top1_std = d.real();
  r.top5 = d.real();
  r.top5_std = d.real();
  r.epoch = d.whole();
  r.top5_epoch = d.whole();
  r.lr = d.real();
  r.arr = d.real();
  r.arr_std = d.real();
  r.arr_chance_corrected = d.real();
  r.arr_chance_corrected_std = d.real();
  return r;
}

// The head of FitResults: names, settings, inputs and sizes.
inline void every_description(Distinct& d, FitResults& r) {
  r.schema_version = kSchemaVersion;
  r.tool = d.text("tool");
  r.version = d.text("version");
  r.libtorch = d.text("libtorch");
  r.device = d.text("device");
  r.threads = d.whole();
  r.concept_type = d.text("type");
  r.backbone = d.text("backbone");
  r.settings = every_setting(d, true);
  r.inputs = {{"concepts", InputFile{d.text("path"), d.text("fp"), {d.whole(), d.whole()}}},
              {"train_labels", InputFile{d.text("path"), d.text("fp"), {d.whole()}}}};
  r.inputs_key = d.text("key");
  r.num_classes = d.whole();
  r.num_concepts = d.whole();
  r.feature_dim = d.whole();
  r.train_rows = d.whole();
  r.val_rows = d.whole();
  r.seeds = {d.seed(), d.seed()};
  r.warnings = {d.text("warning")};
  r.kmeans = std::vector<KMeansDetails>{every_kmeans(d)};
  r.text_concepts = every_text(d);
}

inline FitResults every_field() {
  Distinct d;
  FitResults r;
  every_description(d, r);
  r.standard_accuracy = d.real();
  r.standard_accuracy_std = d.real();
  r.standard_top5 = d.real();
  r.standard_top5_std = d.real();
  r.standard_epoch = d.whole();
  r.iis = d.real();
  r.iis_std = d.real();
  r.iis_chance_corrected = d.real();
  r.iis_chance_corrected_std = d.real();
  r.ratios = {every_ratio(d), every_ratio(d)};
  r.per_seed = {every_seed(d), every_seed(d)};
  r.timings = FitTimings{
      d.real(), {SeedTiming{d.seed(), SeedTimings{d.real(), d.real(), d.real()}}}, d.real()};
  r.files = FitFiles{d.text("curve"), d.text("epochs"), d.text("concepts"), d.text("seeds")};
  return r;
}

}  // namespace iis::results::test_data
