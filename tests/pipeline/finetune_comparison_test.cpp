// Tests the comparison `iis run` writes for its finetune entries (finetune.csv, finetune.json)
// on fabricated results.json files whose gains are known.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "iis/core/files.hpp"
#include "iis/pipeline/config.hpp"
#include "iis/pipeline/detail/stages.hpp"
#include "test_support.hpp"

namespace iis::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A results.json with the two figures the comparison reads.
void fabricate_fit(const fs::path& run, const std::string& backbone, double accuracy, double iis) {
  const fs::path file = run / "fit" / backbone / "prototype" / "results.json";
  core::make_dirs(file.parent_path().string());
  json ratios = json::array({{{"ratio", 0.0}, {"top1", accuracy}}});
  core::write_text_atomic(file.string(), json{{"standard_accuracy", accuracy},
                                              {"iis", iis},
                                              {"iis_std", 0.0},
                                              {"iis_chance_corrected", iis},
                                              {"concept_type", "prototype"},
                                              {"ratios", ratios}}
                                             .dump());
}

const char* kTwoSeeds = R"(
out: runs/x
dataset: {train: train-images-idx3-ubyte.gz, val: t10k-images-idx3-ubyte.gz}
backbones:
  - name: start
    pretrain: {arch: cnn2, epochs: 1}
  - {name: ft0, finetune: {from: start, lambda: 1, seed: 0}}
  - {name: ft1, finetune: {from: start, lambda: 1, seed: 1}}
  - {name: ctrl0, finetune: {from: start, lambda: 0, seed: 0}}
  - {name: ctrl1, finetune: {from: start, lambda: 0, seed: 1}}
)";

// Gains with the term 0.02 and 0.04 (mean 0.03, sd 0.0141), without 0.01 and 0.01 (sd 0):
// the difference, 0.02 on average, exceeds the larger spread.
TEST(FinetuneComparison, GainsOverSeedsAgainstTheControlOfTheSameSeed) {
  test::TempDir dir;
  const fs::path run = dir / "run";
  fabricate_fit(run, "start", 0.80, 0.90);
  fabricate_fit(run, "ft0", 0.82, 0.91);
  fabricate_fit(run, "ft1", 0.84, 0.93);
  fabricate_fit(run, "ctrl0", 0.81, 0.95);
  fabricate_fit(run, "ctrl1", 0.81, 0.95);
  detail::write_finetune_comparison(parse_run_config(kTwoSeeds, "test.yaml"), run.string());

  const std::string csv = core::read_text((run / "finetune.csv").string());
  EXPECT_NE(csv.find("ft1,start,ctrl1,accuracy,0.8,0.84,0.81\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("ft0,start,ctrl0,iis prototype,0.9,0.91,0.95\n"), std::string::npos) << csv;
  const json j = json::parse(core::read_text((run / "finetune.json").string()));
  ASSERT_EQ(j["experiments"].size(), 1u);
  const json& e = j["experiments"][0];
  EXPECT_EQ(e["from"], "start");
  EXPECT_EQ(e["finetuned"], json::array({"ft0", "ft1"}));
  EXPECT_EQ(e["controls"], json::array({"ctrl0", "ctrl1"}));
  const json& a = e["accuracy"];
  EXPECT_DOUBLE_EQ(a["start"].get<double>(), 0.80);
  EXPECT_NEAR(a["with_term"]["mean"].get<double>(), 0.03, 1e-12);
  EXPECT_NEAR(a["with_term"]["std"].get<double>(), 0.02 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(a["without_term"]["mean"].get<double>(), 0.01, 1e-12);
  EXPECT_NEAR(a["difference"]["mean"].get<double>(), 0.02, 1e-12);
  EXPECT_TRUE(a["rose_more_than_spread"].get<bool>());
  // IIS rose less than in the control (-0.03 on average): not a rise.
  EXPECT_NEAR(e["iis prototype"]["difference"]["mean"].get<double>(), -0.03, 1e-12);
  EXPECT_FALSE(e["iis prototype"]["rose_more_than_spread"].get<bool>());
}

}  // namespace
}  // namespace iis::pipeline
