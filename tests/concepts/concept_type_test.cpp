// Tests of the concept-type interface: the registry, and every registered type taken through
// choose, scores, keep and save as `iis fit` does.
#include "iis/concepts/concept_type.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "iis/io/npy.hpp"
#include "test_support.hpp"

namespace iis::concepts {
namespace {

namespace fs = std::filesystem;

TEST(ConceptTypes, RegistryListsEachTypeOnceInThePapersOrder) {
  EXPECT_EQ(concept_type_names(),
            (std::vector<std::string>{"prototype", "cluster", "end2end", "text"}));
  for (const auto& name : concept_type_names()) EXPECT_EQ(find_concept_type(name).name(), name);
  EXPECT_EQ(concept_type_order("prototype"), 0u);
  EXPECT_EQ(concept_type_order("end2end"), 2u);
  EXPECT_EQ(concept_type_order("text"), 3u);
  EXPECT_EQ(concept_type_order("words"), 4u);  // unknown names sort last
  EXPECT_IIS_ERROR(find_concept_type("kmeans"), "--concept-type: unknown concept type 'kmeans'");
  try {
    find_concept_type("kmeans");
  } catch (const Error& e) {
    EXPECT_EQ(e.hint(), "valid: prototype, cluster, end2end, text");
  }
}

// One seed's inputs: 4 classes of 16-dimensional features and 40 elements.
SeedInputs seed_inputs() {
  torch::manual_seed(5);
  SeedInputs in;
  in.elements = torch::randn({40, 16});
  in.element_labels = torch::arange(40, torch::kInt64) % 4;
  in.train_features = torch::randn({64, 16});
  in.val_features = torch::randn({24, 16});
  in.num_concepts = 8;
  in.ratios = {0, 0.5};
  in.lrs = {0.01};
  in.seed = 3;
  in.seed_folder = "seeds/3";
  return in;
}

// CLIP's files for the text type: 8 concepts, every one kept (cut-offs at their floor).
TextOptions text_inputs(const test::TempDir& dir, const SeedInputs& in) {
  TextOptions t;
  t.clip_train_features = dir / "clip_train.npy";
  t.clip_val_features = dir / "clip_val.npy";
  t.text_features = dir / "text.npy";
  t.concept_names = dir / "names.txt";
  io::save_npy(t.clip_train_features, torch::randn({in.train_features.size(0), 6}));
  io::save_npy(t.clip_val_features, torch::randn({in.val_features.size(0), 6}));
  io::save_npy(t.text_features, torch::randn({8, 6}));
  std::ofstream(t.concept_names) << "a\nb\nc\nd\ne\nf\ng\nh\n";
  t.clip_cutoff = -1;
  t.interpretability_cutoff = -1;
  t.proj_steps = 20;
  return t;
}

// Every type gives K scores per row, and saves concepts.npy and its own files, named in its
// files() note, and a record naming itself.
TEST(ConceptTypes, EveryTypeScoresSavesAndNamesItself) {
  for (const auto* type : concept_types()) {
    SCOPED_TRACE(type->name());
    test::TempDir dir;
    const SeedInputs in = seed_inputs();
    ConceptTypeOptions options;
    if (type->name() == "text") options.text = text_inputs(dir, in);
    auto seed = type->start(in, options);
    seed->choose();
    auto& scores = seed->scores();
    EXPECT_EQ(scores.num_concepts(), 8);
    auto s = scores.val_scores(torch::arange(5, torch::kInt64));
    EXPECT_EQ(s.size(-1), 8);
    EXPECT_EQ(s.size(-2), 5);
    scores.end_epoch();            // learned types store the assignment of epoch 1
    seed->keep({{0, 1}, {1, 1}});  // the heads reported at the two ratios, at epoch 1
    results::SeedResults record;
    seed->save(dir.str(), record);
    EXPECT_EQ(record.concept_type, type->name());
    // Exactly its own details are set.
    EXPECT_EQ(record.concept_select.has_value(), type->name() == "prototype");
    EXPECT_EQ(record.kmeans.has_value(), type->name() == "cluster");
    EXPECT_EQ(record.end2end.has_value(), type->name() == "end2end");
    EXPECT_EQ(record.text.has_value(), type->name() == "text");
    auto concepts = io::load_npy(dir / "concepts.npy");
    EXPECT_EQ(concepts.size(-1), 16);
    EXPECT_EQ(concepts.size(-2), 8);
    int files = 0;
    for (const auto& entry : fs::directory_iterator(dir.str())) {
      const auto name = entry.path().filename().string();
      if (name == "concepts.npy") continue;
      if (name == "clip_train.npy" || name == "clip_val.npy" || name == "text.npy" ||
          name == "names.txt")
        continue;  // the text type's inputs
      EXPECT_NE(type->files().find(name), std::string::npos) << name << " not in files()";
      ++files;
    }
    // text also keeps the standardisation of its scores, which predict and explain reuse
    EXPECT_EQ(files, type->name() == "text" ? 3 : 1);
  }
}

// A type's settings name what changes its numbers; prototype records the rule in force.
TEST(ConceptTypes, SettingsNameTheTypesOwnOptions) {
  ConceptTypeOptions o;
  results::FitSettings p, c, e;
  find_concept_type("prototype").add_settings(p, o, /*has_element_labels=*/true);
  EXPECT_EQ(results::to_json(p), (nlohmann::json{{"concept_select", "stratified"}}));
  find_concept_type("prototype").add_settings(p, o, false);
  EXPECT_EQ(p.concept_select, "random");
  o.kmeans.max_iter = 7;
  find_concept_type("cluster").add_settings(c, o, true);
  ASSERT_TRUE(c.kmeans.has_value());
  EXPECT_EQ(c.kmeans->max_iter, 7);
  EXPECT_EQ(c.concept_type, "cluster");
  o.end2end.temperature = 0.5;
  find_concept_type("end2end").add_settings(e, o, true);
  EXPECT_EQ(e.temperature, 0.5);
}

TEST(ConceptTypes, OptionsAreCheckedWhicheverTypeIsFit) {
  ConceptTypeOptions o;
  EXPECT_NO_THROW(validate(o, 200));
  o.select = "best";
  EXPECT_IIS_ERROR(validate(o, 200), "--concept-select");
  o = ConceptTypeOptions();
  o.kmeans.max_iter = 0;
  EXPECT_IIS_ERROR(validate(o, 200), "--kmeans-max-iter");
  o = ConceptTypeOptions();
  o.end2end.temperature = 0;
  EXPECT_IIS_ERROR(validate(o, 200), "--temperature");
  o = ConceptTypeOptions();
  o.select = "stratified";
  EXPECT_IIS_ERROR(find_concept_type("prototype").validate(o, 200, false),
                   "--concept-select stratified needs --concept-labels");
  EXPECT_NO_THROW(find_concept_type("prototype").validate(o, 200, true));
}

}  // namespace
}  // namespace iis::concepts
