// Tests the `iis run` config: defaults, every error naming its key, nearest-key suggestions.
#include "iis/pipeline/config.hpp"

#include <set>
#include <sstream>
#include <type_traits>
#include <variant>

#include "iis/pipeline/run.hpp"
#include "test_support.hpp"

namespace iis::pipeline {
namespace {

const char* kMinimal = R"(
out: runs/x
dataset:
  train: train-images-idx3-ubyte.gz
  val: t10k-images-idx3-ubyte.gz
backbones:
  - native:cnn2
  - name: cnn2_e3
    pretrain: {arch: cnn2, epochs: 3, seed: 1}
)";

TEST(Config, EditDistanceAndNearest) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("ratios", "ratios"), 0u);
  EXPECT_EQ(edit_distance("ratio", "ratios"), 1u);
  EXPECT_EQ(nearest("ratio", {"seeds", "ratios", "device"}), "ratios");
  EXPECT_EQ(nearest("backbone", {"backbones", "concepts"}), "backbones");
}

TEST(Config, MinimalConfigGetsTheDocumentedDefaults) {
  RunConfig c = parse_run_config(kMinimal, "test.yaml");
  EXPECT_EQ(c.out, "runs/x");
  EXPECT_EQ(c.device, "cpu");
  EXPECT_EQ(c.fit.seeds, (std::vector<uint64_t>{0}));
  EXPECT_EQ(c.fit.ratios, (std::vector<double>{0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.98}));
  EXPECT_EQ(c.concept_types, (std::vector<std::string>{"prototype"}));
  EXPECT_EQ(c.concepts.kind, elements::ElementKind::Segments);
  EXPECT_EQ(c.concepts.images_per_class, 10);
  EXPECT_EQ(c.fit.num_concepts, 200);
  EXPECT_EQ(c.fit.epochs, 30);
  ASSERT_EQ(c.backbones.size(), 2u);
  EXPECT_EQ(c.backbones[0].spec, "native:cnn2");
  EXPECT_EQ(c.backbones[0].name, "cnn2_untrained");
  EXPECT_FALSE(c.backbones[0].pretrain);
  EXPECT_EQ(c.backbones[1].name, "cnn2_e3");
  EXPECT_TRUE(c.backbones[1].pretrain);
  EXPECT_EQ(c.backbones[1].arch, "cnn2");
  EXPECT_EQ(c.backbones[1].epochs, 3);
  EXPECT_EQ(c.backbones[1].seed, 1);
  EXPECT_EQ(c.backbones[1].train_limit, -1);  // pretrain.train_limit applies
}

TEST(Config, ReportSectionSetsHowManyImagesAreExplained) {
  EXPECT_EQ(parse_run_config(kMinimal, "t.yaml").report_explain, 0);
  const std::string base = kMinimal;
  EXPECT_EQ(parse_run_config(base + "report: {explain: 10}\n", "t.yaml").report_explain, 10);
  EXPECT_IIS_ERROR(parse_run_config(base + "report: {explain: -1}\n", "t.yaml"),
                   "'report.explain'");
  EXPECT_IIS_ERROR(parse_run_config(base + "report: {explain: 1001}\n", "t.yaml"),
                   "'report.explain'");
  EXPECT_IIS_ERROR(parse_run_config(base + "report: {explian: 3}\n", "t.yaml"),
                   "did you mean 'report.explain'?");
  // The demo explains ten test images.
  EXPECT_EQ(parse_run_config(demo_config_text(), "demo").report_explain, 10);
}

TEST(Config, PretrainEntriesMayTrainOnASubset) {
  RunConfig c = parse_run_config(
      std::string(kMinimal) + "  - pretrain: {arch: mlp, epochs: 1, train_limit: 2000}\n",
      "test.yaml");
  ASSERT_EQ(c.backbones.size(), 3u);
  EXPECT_EQ(c.backbones[2].train_limit, 2000);
  EXPECT_IIS_ERROR(parse_run_config(std::string(kMinimal) +
                                        "  - pretrain: {arch: mlp, epochs: 1, train_limit: -5}\n",
                                    "test.yaml"),
                   "train_limit");
}

TEST(Config, FinetuneEntriesNameTheirStartAndTakeFinetunesOptions) {
  const std::string base = std::string(kMinimal);
  RunConfig c = parse_run_config(
      base + "  - name: ft\n    finetune: {from: cnn2_e3, lambda: 0, ratio: 0.3, seed: 2}\n",
      "test.yaml");
  ASSERT_EQ(c.backbones.size(), 3u);
  EXPECT_TRUE(c.backbones[2].finetune);
  EXPECT_EQ(c.backbones[2].from, "cnn2_e3");
  EXPECT_EQ(c.backbones[2].finetune_options.lambda, 0);
  EXPECT_EQ(c.backbones[2].finetune_options.ratio, 0.3);
  EXPECT_EQ(c.backbones[2].finetune_options.seed, 2u);
  EXPECT_EQ(c.backbones[2].finetune_options.epochs, 2);  // iis finetune's default
  EXPECT_IIS_ERROR(
      parse_run_config(base + "  - name: ft\n    finetune: {from: nothing}\n", "test.yaml"),
      "finetune.from 'nothing' is not the name of a spec or pretrain entry");
  EXPECT_IIS_ERROR(parse_run_config(base + "  - name: ft\n    finetune: {from: cnn2_e3}\n" +
                                        "  - name: ft2\n    finetune: {from: ft}\n",
                                    "test.yaml"),
                   "finetune.from 'ft' is not the name of a spec or pretrain entry");
  EXPECT_IIS_ERROR(
      parse_run_config(base + "  - name: ft\n    finetune: {from: cnn2_e3, ratio: 1}\n",
                       "test.yaml"),
      "--ratio must be in [0, 1), got 1");
  EXPECT_IIS_ERROR(
      parse_run_config(base + "  - name: ft\n    finetune: {from: cnn2_e3, lamda: 1}\n",
                       "test.yaml"),
      "did you mean 'backbones[2].finetune.lambda'?");
}

// An entry may fit a subset of the run's concept types (in the run's order); anything else is
// refused where it is written.
TEST(Config, AnEntryMayFitASubsetOfTheConceptTypes) {
  const std::string base = std::string(kMinimal) +
                           "  - name: ft\n    finetune: {from: cnn2_e3}\n"
                           "    concept_types: [cluster, prototype]\n";
  RunConfig c = parse_run_config(base + "concept_types: [prototype, end2end, cluster]\n", "t.yaml");
  EXPECT_EQ(c.concept_types_of(c.backbones[0]),
            (std::vector<std::string>{"prototype", "end2end", "cluster"}));
  EXPECT_EQ(c.concept_types_of(c.backbones[2]), (std::vector<std::string>{"prototype", "cluster"}));
  EXPECT_IIS_ERROR(parse_run_config(base + "concept_types: [prototype, end2end]\n", "t.yaml"),
                   "t.yaml line 12: 'backbones[2].concept_types' lists 'cluster', which the run's "
                   "concept_types does not");
  EXPECT_IIS_ERROR(
      parse_run_config(
          std::string(kMinimal) + "  - name: e\n    spec: m.ts\n    concept_types: []\n", "t.yaml"),
      "'backbones[2].concept_types' is empty");
}

TEST(Config, ScalarsStandForListsOfOne) {
  RunConfig c =
      parse_run_config(std::string(kMinimal) + "seeds: 4\nconcept_types: prototype\n", "test.yaml");
  EXPECT_EQ(c.fit.seeds, (std::vector<uint64_t>{4}));
  EXPECT_EQ(c.concept_types, (std::vector<std::string>{"prototype"}));
}

TEST(Config, UnknownKeysNameTheNearestValidOne) {
  const std::string base = kMinimal;
  EXPECT_IIS_ERROR(parse_run_config(base + "ratio: [0, 0.5]\n", "test.yaml"),
                   "test.yaml line 10: unknown key 'ratio'; did you mean 'ratios'?");
  EXPECT_IIS_ERROR(parse_run_config(base + "fit:\n  epoch: 3\n", "test.yaml"),
                   "unknown key 'fit.epoch'; did you mean 'fit.epochs'?");
  EXPECT_IIS_ERROR(parse_run_config(base + "concepts:\n  imags_per_class: 3\n", "c.yaml"),
                   "unknown key 'concepts.imags_per_class'; did you mean "
                   "'concepts.images_per_class'?");
  EXPECT_IIS_ERROR(
      parse_run_config("dataset: {train: a, val: b}\nbackbones:\n  - {name: x, spek: m.ts}\n",
                       "t.yaml"),
      "unknown key 'backbones[0].spek'; did you mean 'backbones[0].spec'?");
  EXPECT_IIS_ERROR(parse_run_config(base + "concept_types: [prototype, protoype]\n", "t.yaml"),
                   "'concept_types' is 'protoype'; did you mean 'prototype'?");
}

// A key that is a mapping or a list (YAML's "? " complex keys, or a flow collection) is a
// config error naming its line, not a yaml-cpp conversion exception.
TEST(Config, KeysThatAreNotNamesAreErrors) {
  for (const std::string& yaml :
       std::vector<std::string>{"? dataset: {t=a}\n", "? [a, b]\n: 1\n", "{[x]: 1}\n",
                                std::string(kMinimal) + "fit: {? {a: 1}: 2}\n",
                                std::string(kMinimal) + "  - {? [spec]: m.ts}\n"}) {
    SCOPED_TRACE(yaml);
    EXPECT_IIS_ERROR(parse_run_config(yaml, "test.yaml"), "test.yaml line ");
    EXPECT_IIS_ERROR(parse_run_config(yaml, "test.yaml"), "is not a name");
  }
}

TEST(Config, MissingRequiredKeys) {
  EXPECT_IIS_ERROR(parse_run_config("backbones: [native:cnn2]\n", "t.yaml"),
                   "missing required key 'dataset'");
  EXPECT_IIS_ERROR(parse_run_config("dataset: {train: a}\nbackbones: [native:cnn2]\n", "t.yaml"),
                   "missing required key 'dataset.val'");
  EXPECT_IIS_ERROR(parse_run_config("dataset: {train: a, val: b}\n", "t.yaml"),
                   "missing required key 'backbones'");
  EXPECT_IIS_ERROR(parse_run_config("dataset: {train: a, val: b}\nbackbones: []\n", "t.yaml"),
                   "'backbones' must be a non-empty list");
  EXPECT_IIS_ERROR(
      parse_run_config("dataset: {train: a, val: b}\nbackbones:\n  - name: x\n", "t.yaml"),
      "needs exactly one of 'spec', 'pretrain' and 'finetune'");
  EXPECT_IIS_ERROR(
      parse_run_config("dataset: {train: a, val: b}\nbackbones:\n  - pretrain: {epochs: 2}\n",
                       "t.yaml"),
      "missing required key 'backbones[0].pretrain.arch'");
}

TEST(Config, BadTypesAndRanges) {
  const std::string base = kMinimal;
  EXPECT_IIS_ERROR(parse_run_config(base + "fit: {epochs: many}\n", "t.yaml"),
                   "'fit.epochs' must be an integer, got 'many'");
  EXPECT_IIS_ERROR(parse_run_config(base + "ratios: [0, a]\n", "t.yaml"),
                   "'ratios' must be a list of numbers");
  EXPECT_IIS_ERROR(parse_run_config(base + "ratios: [0, 1.0]\n", "t.yaml"), "outside [0, 1)");
  EXPECT_IIS_ERROR(parse_run_config(base + "ratios: [0.5, 0.1]\n", "t.yaml"),
                   "--ratios must rise: 0.1 comes after 0.5");
  EXPECT_IIS_ERROR(parse_run_config(base + "seeds: {a: 1}\n", "t.yaml"),
                   "'seeds' must be a list of integers");
  EXPECT_IIS_ERROR(parse_run_config(base + "device: gpu\n", "t.yaml"), "'device' is 'gpu'");
  // The config's device is read by the parser every command uses: what it accepts, `iis fit`,
  // `iis embed` and `iis pretrain` accept (whether the GPU exists is checked before the run).
  EXPECT_IIS_ERROR(parse_run_config(base + "device: cuda:x\n", "t.yaml"), "'device' is 'cuda:x'");
  EXPECT_IIS_ERROR(parse_run_config(base + "device: cpu:0\n", "t.yaml"), "'device' is 'cpu:0'");
  EXPECT_EQ(parse_run_config(base + "device: cuda:1\n", "t.yaml").device, "cuda:1");
  EXPECT_IIS_ERROR(parse_run_config(base + "concept_types: [prototype, text]\n", "t.yaml"),
                   "'concept_types' lists text but the config has no 'text:' section");
  EXPECT_IIS_ERROR(parse_run_config(base + "concept_types: text\ntext: {clip: c.pt}\n", "t.yaml"),
                   "missing required key 'text.concepts'");
  EXPECT_IIS_ERROR(
      parse_run_config(base + "text: {clip: c.pt, concepts: a, truncate: 2}\n", "t.yaml"),
      "'text.truncate' must be");
  EXPECT_IIS_ERROR(parse_run_config(base + "concepts: {kind: patchs}\n", "t.yaml"),
                   "did you mean 'patches'?");
  EXPECT_IIS_ERROR(parse_run_config(base + "fit: 3\n", "t.yaml"), "'fit' must be a mapping");
  EXPECT_IIS_ERROR(parse_run_config(base + "backbones: [native:cnn2, native:cnn2]\n", "t.yaml"),
                   "'backbones' given twice");  // not silently the first or the last
  EXPECT_IIS_ERROR(
      parse_run_config("dataset: {train: a, val: b}\nbackbones: [native:cnn2, native:cnn2]\n",
                       "t.yaml"),
      "two backbones are named 'cnn2_untrained'");
  EXPECT_IIS_ERROR(parse_run_config("dataset: [a, b\n", "t.yaml"), "not valid YAML");
}

// The fit: section holds `iis fit`'s options: every key fit takes can be set, and a value is
// valid in a config exactly when `iis fit` takes it (the config runs fit's own checks), at the
// ends of each range.
TEST(Config, TextSectionNamesTheClipArchiveAndTheConcepts) {
  const RunConfig c = parse_run_config(std::string(kMinimal) +
                                           "concept_types: [prototype, text]\ntext: {clip: m.pt, "
                                           "concepts: cifar10, truncate: true}\n",
                                       "t.yaml");
  EXPECT_EQ(c.concept_types, (std::vector<std::string>{"prototype", "text"}));
  EXPECT_EQ(c.text.clip, "m.pt");
  EXPECT_EQ(c.text.concepts, "cifar10");
  EXPECT_TRUE(c.text.truncate);
  EXPECT_TRUE(parse_run_config(kMinimal, "t.yaml").text.clip.empty());
}

TEST(Config, FitSectionTakesExactlyWhatFitTakes) {
  const std::string base = kMinimal;
  RunConfig c = parse_run_config(base + R"(fit: {holdout_fraction: 0.2, select_on: holdout,
  num_classes: 12, kmeans_max_elements: 500, kmeans_tol: 0.001, kmeans_max_iter: 20,
  temperature: 0.3, concept_select: first}
)",
                                 "t.yaml");
  EXPECT_EQ(c.fit.holdout_fraction, 0.2);
  EXPECT_EQ(c.fit.num_classes, 12);
  EXPECT_EQ(c.fit.concept_options.kmeans.max_elements, 500);
  EXPECT_EQ(c.fit.concept_options.kmeans.tol, 0.001);
  EXPECT_EQ(c.fit.concept_options.kmeans.max_iter, 20);
  EXPECT_EQ(c.fit.concept_options.end2end.temperature, 0.3);
  EXPECT_EQ(c.fit.concept_options.select, "first");
  struct Case {
    const char* yaml;  // one fit: key at one value
    void (*set)(fit::FitOptions&);
  };
  const Case cases[] = {
      {"fit: {num_concepts: 1}", [](fit::FitOptions& o) { o.num_concepts = 1; }},
      {"fit: {num_concepts: 0}", [](fit::FitOptions& o) { o.num_concepts = 0; }},
      {"fit: {epochs: 0}", [](fit::FitOptions& o) { o.epochs = 0; }},
      {"fit: {batch_size: 0}", [](fit::FitOptions& o) { o.batch_size = 0; }},
      {"fit: {lrs: [0]}", [](fit::FitOptions& o) { o.lrs = {0}; }},
      {"fit: {holdout_fraction: 1}", [](fit::FitOptions& o) { o.holdout_fraction = 1; }},
      {"fit: {holdout_fraction: 0.999}", [](fit::FitOptions& o) { o.holdout_fraction = 0.999; }},
      {"fit: {num_classes: 1}", [](fit::FitOptions& o) { o.num_classes = 1; }},
      {"fit: {num_classes: 100000}", [](fit::FitOptions& o) { o.num_classes = 100000; }},
      {"fit: {num_classes: 100001}", [](fit::FitOptions& o) { o.num_classes = 100001; }},
      {"fit: {kmeans_max_iter: 0}",
       [](fit::FitOptions& o) { o.concept_options.kmeans.max_iter = 0; }},
      {"fit: {kmeans_tol: -0.1}", [](fit::FitOptions& o) { o.concept_options.kmeans.tol = -0.1; }},
      {"fit: {kmeans_max_elements: -1}",
       [](fit::FitOptions& o) { o.concept_options.kmeans.max_elements = -1; }},
      {"fit: {temperature: 0}",
       [](fit::FitOptions& o) { o.concept_options.end2end.temperature = 0; }},
      {"fit: {threshold: loose}", [](fit::FitOptions& o) { o.threshold = "loose"; }},
      {"fit: {concept_select: best}",
       [](fit::FitOptions& o) { o.concept_options.select = "best"; }},
      {"ratios: [0, 0.999999]",
       [](fit::FitOptions& o) {
         o.ratios = {0, 0.999999};
       }},
      {"ratios: [0, 1]",
       [](fit::FitOptions& o) {
         o.ratios = {0, 1};
       }},
      {"seeds: [2, 2]",
       [](fit::FitOptions& o) {
         o.seeds = {2, 2};
       }},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.yaml);
    fit::FitOptions o;
    k.set(o);
    const std::string library = test::error_of([&] { fit::validate_fit_settings(o); });
    const std::string config =
        test::error_of([&] { parse_run_config(base + k.yaml + "\n", "t.yaml"); });
    EXPECT_EQ(config.empty(), library.empty()) << "config: " << config << "; fit: " << library;
    if (!library.empty()) EXPECT_NE(config.find(library), std::string::npos) << config;
  }
}

// The concepts: section is the options of `iis elements`, checked by its own validation: at
// the ends of each of the library's ranges, the config accepts exactly what the library does
// (they had drifted: grid 10000 and patch_size 100000 passed the config, not the library).
TEST(Config, ConceptsSectionTakesExactlyWhatElementsTakes) {
  const std::string base = kMinimal;
  RunConfig c = parse_run_config(
      base + "concepts: {kind: patches, grid: 7, patch_size: 64, image_select: random, seed: 3}\n",
      "t.yaml");
  EXPECT_EQ(c.concepts.kind, elements::ElementKind::Patches);
  EXPECT_EQ(c.concepts.grid, 7);
  EXPECT_EQ(c.concepts.patch_size, 64);
  EXPECT_EQ(c.concepts.select, elements::ImageSelect::Random);
  EXPECT_EQ(c.concepts.seed, 3u);
  struct Case {
    const char* yaml;  // one concepts: key at one value
    void (*set)(elements::ElementsOptions&);
  };
  const Case cases[] = {
      {"grid: 1024", [](elements::ElementsOptions& o) { o.grid = 1024; }},
      {"grid: 1025", [](elements::ElementsOptions& o) { o.grid = 1025; }},
      {"grid: 0", [](elements::ElementsOptions& o) { o.grid = 0; }},
      {"patch_size: 8192", [](elements::ElementsOptions& o) { o.patch_size = 8192; }},
      {"patch_size: 8193", [](elements::ElementsOptions& o) { o.patch_size = 8193; }},
      {"images_per_class: 0", [](elements::ElementsOptions& o) { o.images_per_class = 0; }},
      {"images_per_class: -1", [](elements::ElementsOptions& o) { o.images_per_class = -1; }},
      {"scales: [1]", [](elements::ElementsOptions& o) { o.scales = {1}; }},
      {"scales: [0]", [](elements::ElementsOptions& o) { o.scales = {0}; }},
      {"scales: []", [](elements::ElementsOptions& o) { o.scales = {}; }},
      {"compactness: 0", [](elements::ElementsOptions& o) { o.compactness = 0; }},
      {"sigma: 0", [](elements::ElementsOptions& o) { o.sigma = 0; }},
      {"sigma: -0.5", [](elements::ElementsOptions& o) { o.sigma = -0.5; }},
      {"masks_per_scale: 0", [](elements::ElementsOptions& o) { o.masks_per_scale = 0; }},
      {"min_area: 0", [](elements::ElementsOptions& o) { o.min_area = 0; }},
      {"min_area: 1", [](elements::ElementsOptions& o) { o.min_area = 1; }},
      {"jaccard: 1", [](elements::ElementsOptions& o) { o.jaccard = 1; }},
      {"jaccard: 1.5", [](elements::ElementsOptions& o) { o.jaccard = 1.5; }},
      {"fill: 255", [](elements::ElementsOptions& o) { o.fill = 255; }},
      {"fill: 256", [](elements::ElementsOptions& o) { o.fill = 256; }},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.yaml);
    elements::ElementsOptions o;
    k.set(o);
    const std::string library = test::error_of([&] { o.validate_settings(); });
    const std::string config =
        test::error_of([&] { parse_run_config(base + "concepts: {" + k.yaml + "}\n", "t.yaml"); });
    EXPECT_EQ(config.empty(), library.empty()) << "config: " << config << "; elements: " << library;
    if (!library.empty()) EXPECT_NE(config.find(library), std::string::npos) << config;
  }
  // A whole number beyond an int is refused by the config before it could wrap around.
  EXPECT_IIS_ERROR(parse_run_config(base + "concepts: {grid: 4294967300}\n", "t.yaml"),
                   "outside the range of an int");
}

// Every option of `iis fit` a config may set is a key of fit:, and setting it to its default
// changes nothing; the flags are distinct.
TEST(Config, EveryFitOptionIsAKeyAtItsDefault) {
  fit::FitOptions defaults;
  std::set<std::string> flags;
  for (const auto& option : fit::fit_options(defaults)) {
    EXPECT_TRUE(flags.insert(core::flag_name(option.key)).second) << option.key;
    if (!option.in_config) continue;
    SCOPED_TRACE(option.key);
    std::string value = std::visit(
        [](auto* field) {
          using T = std::remove_pointer_t<decltype(field)>;
          std::ostringstream text;
          if constexpr (std::is_same_v<T, std::vector<double>>) {
            text << "[";
            for (size_t i = 0; i < field->size(); ++i) text << (i ? ", " : "") << (*field)[i];
            text << "]";
          } else if constexpr (std::is_same_v<T, std::vector<uint64_t>>) {
            text << "[]";
          } else if constexpr (std::is_same_v<T, std::string>) {
            text << "'" << *field << "'";
          } else {
            text << std::boolalpha << *field;
          }
          return text.str();
        },
        option.value);
    RunConfig c;
    EXPECT_NO_THROW(
        c = parse_run_config(std::string(kMinimal) + "fit: {" + option.key + ": " + value + "}\n",
                             "t.yaml"));
    EXPECT_EQ(fit::fit_settings(c.fit), fit::fit_settings(defaults));
  }
}

}  // namespace
}  // namespace iis::pipeline
