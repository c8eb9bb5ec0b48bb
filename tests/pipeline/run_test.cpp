// `iis run` checks, before its first stage, what a later stage would refuse: unknown
// architectures, missing backbone files, devices that do not exist here, and a run folder
// that overlaps an input. Nothing is written when it refuses.
#include <filesystem>

#include "iis/core/files.hpp"
#include "iis/pipeline/run.hpp"
#include "test_support.hpp"

namespace iis::pipeline {
namespace {

namespace fs = std::filesystem;

std::string config(const test::TempDir& dir, const std::string& out, const std::string& backbones,
                   const std::string& extra = "") {
  return "out: " + out + "\ndataset: {train: " + dir / "train" + ", val: " + dir / "val" +
         "}\nbackbones:\n" + backbones + extra;
}

RunOptions options_for(const std::string& text) {
  RunOptions o;
  o.config_text = text;
  o.figures = false;
  return o;
}

class RunChecks : public testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "train/cls");
    fs::create_directories(dir_ / "val/cls");
  }
  test::TempDir dir_;
};

// Messages name the config: config text given by a caller is not called the demo's.
TEST_F(RunChecks, MessagesNameWhereTheConfigCameFrom) {
  const std::string text = "dataset: {train: " + dir_ / "train" + ", val: " + dir_ / "val" +
                           "}\nbackbones: [native:mlp]\n";
  EXPECT_IIS_ERROR(run_pipeline(options_for(text)), "config text: no run folder");
  RunOptions file;
  file.config = dir_ / "c.yaml";
  core::write_text_atomic(file.config, text);
  EXPECT_IIS_ERROR(run_pipeline(file), dir_ / "c.yaml" + ": no run folder");
}

TEST_F(RunChecks, UnknownArchitectureIsRefusedBeforeAnyStage) {
  const std::string out = dir_ / "run";
  const std::string text = config(dir_, out,
                                  "  - {name: ok, pretrain: {arch: cnn2, epochs: 0}}\n"
                                  "  - {name: r18, pretrain: {arch: resnet18, epochs: 1}}\n");
  EXPECT_IIS_ERROR(run_pipeline(options_for(text)),
                   "backbone r18: 'resnet18' is not a native architecture");
  EXPECT_FALSE(fs::exists(out));
  EXPECT_IIS_ERROR(run_pipeline(options_for(config(dir_, out, "  - native:mlpp\n"))),
                   "'mlpp' is not a native architecture; did you mean 'mlp'?");
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(RunChecks, MissingBackboneFilesAndDevicesAreRefused) {
  const std::string out = dir_ / "run";
  EXPECT_IIS_ERROR(run_pipeline(options_for(config(dir_, out, "  - " + dir_ / "m.ts" + "\n"))),
                   "file " + dir_ / "m.ts" + " not found");
  EXPECT_IIS_ERROR(
      run_pipeline(options_for(config(dir_, out, "  - native:mlp@" + dir_ / "c.pt" + "\n"))),
      "file " + dir_ / "c.pt" + " not found");
  EXPECT_IIS_ERROR(
      run_pipeline(options_for(config(dir_, out, "  - clip:" + dir_ / "ViT-B-16.pt" + "\n"))),
      "file " + dir_ / "ViT-B-16.pt" + " not found");
  if (!torch::cuda::is_available()) {
    EXPECT_IIS_ERROR(
        run_pipeline(options_for(config(dir_, out, "  - native:mlp\n", "device: cuda:1\n"))),
        "device cuda:1: CUDA is not available here");
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(RunChecks, RunFolderOverlappingAnInputIsRefused) {
  EXPECT_IIS_ERROR(run_pipeline(options_for(config(dir_, dir_ / "train", "  - native:mlp\n"))),
                   "out " + dir_ / "train" + " is the input dataset.train");
  EXPECT_IIS_ERROR(
      run_pipeline(options_for(config(dir_, dir_ / "val/cls/run", "  - native:mlp\n"))),
      "lies inside the input dataset.val");
  EXPECT_IIS_ERROR(run_pipeline(options_for(config(dir_, dir_.str(), "  - native:mlp\n"))),
                   "contains the input dataset.train");
  EXPECT_FALSE(fs::exists(dir_ / "config.yaml"));
  EXPECT_FALSE(fs::exists(dir_ / "train/config.yaml"));
}

}  // namespace
}  // namespace iis::pipeline
