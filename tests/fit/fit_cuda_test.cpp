// run_fit on CUDA against the same run on the CPU, for every concept type (label gpu; skipped
// where LibTorch sees no CUDA device).
#include <torch/cuda.h>
#include <torch/torch.h>

#include "fit_fixture.hpp"

namespace iis::fit {
namespace {

using nlohmann::json;

// The 3-class problem of the end2end tests, with 120 elements around the class directions.
class FitCudaTest : public test_fixture::GeneratedFitTest,
                    public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    GeneratedFitTest::SetUp();
    torch::manual_seed(8);
    auto dirs = torch::randn({3, 16});
    write_splits(dirs, 3, 1.0, 450, 150);
    write_elements(dirs.repeat({40, 1}) + torch::randn({120, 16}));
    options.concept_type = GetParam();
    options.num_concepts = 6;
    options.ratios = {0, 0.5};
    options.epochs = 3;
    options.batch_size = 128;
  }

  json run_on(const std::string& device) {
    options.device = device;
    options.out = dir / ("out_" + device);
    run_fit(options);
    return json::parse(core::read_text(dir / ("out_" + device + "/results.json")));
  }
};

TEST_P(FitCudaTest, MatchesTheCpuRun) {
  const json cpu = run_on("cpu");
  const json cuda = run_on("cuda");
  EXPECT_EQ(cuda["device"], "cuda");
  // One validation row is 1/150: the two runs may differ by float rounding, not by more.
  EXPECT_NEAR(cuda["standard_accuracy"].get<double>(), cpu["standard_accuracy"].get<double>(),
              0.02);
  EXPECT_NEAR(cuda["iis"].get<double>(), cpu["iis"].get<double>(), 0.03);
  ASSERT_EQ(cuda["ratios"].size(), cpu["ratios"].size());
  for (size_t i = 0; i < cpu["ratios"].size(); ++i) {
    EXPECT_NEAR(cuda["ratios"][i]["top1"].get<double>(), cpu["ratios"][i]["top1"].get<double>(),
                0.02)
        << "ratio " << cpu["ratios"][i]["ratio"];
  }
}

INSTANTIATE_TEST_SUITE_P(ConceptTypes, FitCudaTest,
                         ::testing::Values("prototype", "cluster", "end2end"));

}  // namespace
}  // namespace iis::fit
