// End-to-end tests of run_fit with --concept-type end2end: learned assignments per ratio.
#include <torch/torch.h>

#include "fit_fixture.hpp"

namespace iis::fit {
namespace {

using nlohmann::json;

// A 3-class problem in D = 16 with 120 elements spread around the class directions.
class FitEnd2EndTest : public test_fixture::GeneratedFitTest {
 protected:
  void SetUp() override {
    GeneratedFitTest::SetUp();
    torch::manual_seed(8);
    auto dirs = torch::randn({3, 16});
    write_splits(dirs, 3, 1.0, 450, 150);
    elements = dirs.repeat({40, 1}) + torch::randn({120, 16});
    write_elements(elements);
    options.concept_type = "end2end";
    options.num_concepts = 6;
    options.ratios = {0, 0.5};
    options.epochs = 3;
    options.batch_size = 128;
  }

  torch::Tensor elements;
};

TEST_F(FitEnd2EndTest, SavesTheLearnedConceptsAndAssignmentPerRatio) {
  run_fit(options);
  auto r = results();
  EXPECT_EQ(r["concept_type"], "end2end");
  EXPECT_EQ(r["settings"]["concept_type"], "end2end");
  EXPECT_EQ(r["settings"]["temperature"], 0.1);
  EXPECT_FALSE(r["settings"].contains("concept_select"));
  const auto& e2e = r["per_seed"][0]["end2end"];
  ASSERT_EQ(e2e["concepts_used"].size(), 2u);

  // One K×D concept set per ratio, each concept the normalised sum of its elements.
  torch::Tensor concepts = io::load_npy(dir / "out/concepts.npy");
  torch::Tensor assignment = io::load_npy(dir / "out/seeds/0/element_concept.npy");
  ASSERT_EQ(concepts.sizes(), (std::vector<int64_t>{2, 6, 16}));
  ASSERT_EQ(assignment.sizes(), (std::vector<int64_t>{2, 120}));
  auto unit = elements / elements.norm(2, 1, true);
  for (int64_t i = 0; i < 2; ++i) {
    int64_t used = 0;
    for (int64_t k = 0; k < 6; ++k) {
      auto members = (assignment[i] == k).nonzero().squeeze(1);
      if (members.numel() == 0) {
        EXPECT_EQ(concepts[i][k].abs().max().item<float>(), 0.f);
        continue;
      }
      ++used;
      auto sum = unit.index_select(0, members).sum(0);
      EXPECT_TRUE(torch::allclose(concepts[i][k], sum / sum.norm(), 1e-5, 1e-5));
    }
    EXPECT_EQ(e2e["concepts_used"][i], used);
  }
  // The saved heads read K concepts.
  EXPECT_EQ(io::load_npy(dir / "out/seeds/0/heads/weight.npy").size(2), 6);
}

TEST_F(FitEnd2EndTest, BadOptionsNameTheFlag) {
  options.concept_options.end2end.temperature = 0;
  EXPECT_IIS_ERROR(run_fit(options), "--temperature");
  options.concept_options.end2end.temperature = 0.1;
  options.num_concepts = 121;
  EXPECT_IIS_ERROR(run_fit(options), "--num-concepts");
}

}  // namespace
}  // namespace iis::fit
