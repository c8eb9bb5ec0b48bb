// run_explain on fits of every concept type: contributions plus bias are the head's logit,
// explain.json's keys, what each concept is shown by, and a page whose element images are gone.
#include "iis/predict/explain.hpp"

#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include "iis/core/error.hpp"
#include "iis/predict/concept_views.hpp"
#include "run_fixture.hpp"

namespace iis::predict {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ExplainTest : public ::testing::Test {
 protected:
  void SetUp() override { run.embed_backbone("mlp-e1", 0.6); }

  ExplainOptions options(const fit::FitOptions& f) const {
    ExplainOptions o;
    o.fit = f.out;
    o.source.features = f.val_features;
    o.source.labels = f.val_labels;
    o.indices = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    o.out = run.path("explanations/x");
    return o;
  }

  test::TempDir dir;
  test::RunFolder run{dir.str()};
};

class ExplainTypeTest : public ExplainTest, public ::testing::WithParamInterface<std::string> {};

// Σ contributions + bias = logit for every image and class explained, largest first.
void expect_sums(const json& contributions, double bias, double logit) {
  double sum = bias, last = INFINITY;
  for (const auto& c : contributions) {
    EXPECT_EQ(c.size(), 2u) << c;
    EXPECT_TRUE(c["concept"].is_number_integer()) << c;
    EXPECT_LE(c["contribution"].get<double>(), last);
    last = c["contribution"].get<double>();
    sum += last;
  }
  EXPECT_NEAR(sum, logit, 1e-5);
}

TEST_P(ExplainTypeTest, ContributionsAndBiasAddUpToTheLogit) {
  const auto f = run.fit("mlp-e1", GetParam());
  const auto r = run_explain(options(f));
  EXPECT_EQ(r.explained, 10);
  const json list = json::parse(core::read_text(r.json));
  ASSERT_EQ(list.size(), 10u);
  const auto heads = load_fit_heads(f.out, {});
  const int64_t keep = heads::kept_concepts(12, heads.ratio, heads::ThresholdRule::Strict);
  int64_t wrong = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& x = list[i];
    EXPECT_EQ(x["index"], i);
    EXPECT_EQ(x["label"], static_cast<int64_t>(i) % 4);
    EXPECT_EQ(x["contributions"].size(), static_cast<size_t>(keep));
    expect_sums(x["contributions"], x["bias"], x["logit"]);
    EXPECT_EQ(x.contains("label_contributions"), x["predicted"] != x["label"]);
    if (x.contains("label_contributions")) {
      ++wrong;
      expect_sums(x["label_contributions"], x["label_bias"], x["label_logit"]);
      EXPECT_LE(x["label_logit"].get<double>(), x["logit"].get<double>());
    }
  }
  // explain.json's predictions are predict's.
  PredictOptions p;
  p.fit = f.out;
  p.source.features = f.val_features;
  p.out = run.path("preds.csv");
  run_predict(p);
  std::ifstream csv(p.out);
  std::string line;
  std::getline(csv, line);
  for (size_t i = 0; i < list.size() && std::getline(csv, line); ++i)
    EXPECT_EQ(line.substr(0, line.find(',', line.find(',') + 1)),
              std::to_string(i) + "," + std::to_string(list[i]["predicted"].get<int64_t>()));
  const std::string html = core::read_text(r.html);
  EXPECT_NE(html.find("<img src=\"elements/e"), std::string::npos);
  EXPECT_EQ(html.find("class=\"missing\""), std::string::npos);
  EXPECT_NE(html.find("<img src=\"images/row0.png\""), std::string::npos);
  EXPECT_TRUE(fs::is_regular_file(run.path("explanations/x/images/row0.png")));
  if (GetParam() == "prototype") EXPECT_NE(html.find("<img src=\"sources/e"), std::string::npos);
  const json concepts = json::parse(core::read_text(run.path("explanations/x/concepts.json")));
  ASSERT_EQ(concepts.size(), 12u);
  for (const auto& c : concepts) {
    const size_t n = c.contains("elements") ? c["elements"].size() : 0;
    if (GetParam() == "end2end")
      EXPECT_LE(n, 5u) << c;  // 5 of its elements, or all when it has fewer
    else
      EXPECT_EQ(n, GetParam() == "prototype" ? 1u : 5u) << c;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, ExplainTypeTest,
                         ::testing::Values("prototype", "cluster", "end2end"));

TEST_F(ExplainTest, ClusterConceptsShowTheElementsNearestTheirCentre) {
  const auto f = run.fit("mlp-e1", "cluster");
  const auto heads = load_fit_heads(f.out, {});
  const auto views = concept_views(heads, 5);
  auto e = io::load_npy(f.concepts);
  e = e / e.norm(2, 1, true);
  for (const auto& v : views) {
    const auto sim = e.matmul(heads.concepts[v.concept_index]);
    const double fifth = std::get<0>(sim.topk(5)).min().item<double>();
    for (const auto& el : v.elements) EXPECT_GE(sim[el.element].item<double>(), fifth - 1e-6);
    EXPECT_EQ(v.elements[0].class_name.empty(), false);
    EXPECT_NE(v.elements[0].source.find("images/sources/"), std::string::npos);
  }
}

TEST_F(ExplainTest, MissingElementImagesBecomePlaceholdersAndAWarning) {
  const auto f = run.fit("mlp-e1", "prototype");
  core::remove_tree(run.path("elements"));
  const auto r = run_explain(options(f));
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings.back().find("placeholder"), std::string::npos) << r.warnings.back();
  const std::string html = core::read_text(r.html);
  EXPECT_NE(html.find("class=\"missing\""), std::string::npos);
  EXPECT_NE(html.find("class=\"warnings\""), std::string::npos);
  EXPECT_EQ(html.find("<img src=\"elements/"), std::string::npos);  // no broken image
  EXPECT_NE(html.find("<img src=\"images/row0.png\""), std::string::npos);
}

TEST_F(ExplainTest, ImageFilesNeedABackbone) {
  const auto f = run.fit("mlp-e1", "prototype");
  auto o = options(f);
  o.indices.clear();
  o.images = {run.path("images/val/0.png")};
  EXPECT_THROW(run_explain(o), Error);  // --features given: images would not be embedded
}

}  // namespace
}  // namespace iis::predict
