// Text concepts through predict and explain: the standardisation `iis fit` now saves makes the
// validation accuracy the fit's to the bit, and each concept is shown by its phrase.
#include <torch/torch.h>

#include <fstream>

#include "fit/fit_fixture.hpp"
#include "iis/predict/explain.hpp"

namespace iis::predict {
namespace {

using nlohmann::json;

// As fit_text_test: classes are the largest of 4 factors; concepts z0-z3 are kept.
class TextTest : public fit::test_fixture::GeneratedFitTest {
 protected:
  void SetUp() override {
    GeneratedFitTest::SetUp();
    torch::manual_seed(11);
    const auto mix = torch::randn({4, 16});
    auto make = [&](int64_t rows, const std::string& split) {
      const auto z = torch::randn({rows, 4});
      io::save_npy(dir / (split + "_x.npy"),
                   torch::matmul(z, mix) + 0.05 * torch::randn({rows, 16}));
      io::save_npy(dir / (split + "_y.npy"), z.argmax(1));
      io::save_npy(dir / (split + "_clip.npy"), torch::cat({z, torch::randn({rows, 2})}, 1));
    };
    make(1500, "train");
    make(500, "val");
    io::save_npy(dir / "text.npy", torch::eye(6));
    std::ofstream(dir / "names.txt") << "z0\nz1\nz2\nz3\nu0\nu1\n";
    options.train_features = dir / "train_x.npy";
    options.train_labels = dir / "train_y.npy";
    options.val_features = dir / "val_x.npy";
    options.val_labels = dir / "val_y.npy";
    options.out = dir / "out";
    options.concept_type = "text";
    auto& t = options.concept_options.text;
    t.clip_train_features = dir / "train_clip.npy";
    t.clip_val_features = dir / "val_clip.npy";
    t.text_features = dir / "text.npy";
    t.concept_names = dir / "names.txt";
    t.proj_steps = 500;
    t.proj_lr = 1e-2;
    options.ratios = {0, 0.5};
    options.epochs = 5;
    options.batch_size = 256;
    options.seeds = {0};
  }
};

TEST_F(TextTest, PredictAndExplainTextConcepts) {
  fit::run_fit(options);
  const auto fit = results::read_results(dir / "out/results.json");
  for (size_t i = 0; i < fit.ratios.size(); ++i) {
    PredictOptions p;
    p.fit = options.out;
    p.choice.ratio = fit.ratios[i].ratio;
    p.source.features = options.val_features;
    p.source.labels = options.val_labels;
    p.out = dir / "preds.csv";
    EXPECT_EQ(*run_predict(p).accuracy, fit.per_seed[0].ratios[i].top1);
  }
  ExplainOptions o;
  o.fit = options.out;
  o.source.features = options.val_features;
  o.source.labels = options.val_labels;
  o.indices = {0, 1, 2, 3, 4};
  o.out = dir / "explained";
  const auto r = run_explain(o);
  const json list = json::parse(core::read_text(r.json));
  ASSERT_EQ(list.size(), 5u);
  for (const auto& x : list) {
    double sum = x["bias"].get<double>();
    for (const auto& c : x["contributions"]) sum += c["contribution"].get<double>();
    EXPECT_NEAR(sum, x["logit"].get<double>(), 1e-5);
  }
  const std::string html = core::read_text(r.html);
  EXPECT_NE(html.find("<b>z0</b>"), std::string::npos);
  const json concepts = json::parse(core::read_text(dir / "explained/concepts.json"));
  EXPECT_EQ(concepts[0]["phrase"], fit.text_concepts->kept[0]);
}

}  // namespace
}  // namespace iis::predict
