// End to end: a tiny configuration (a few hundred Fashion-MNIST images, one epoch) through
// `iis run`: the files and their numbers, a second run that trains nothing, a run killed
// with SIGKILL that resumes to the same numbers.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/pipeline/run.hpp"
#include "iis/report/report.hpp"
#include "test_support.hpp"

namespace iis::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Two backbones (an untrained control and one epoch on 400 images), segment concepts from two
// images per class, three ratios, two seeds.
std::string tiny_config(const std::string& out) {
  return "out: " + out + R"(
seeds: [0, 1]
ratios: [0, 0.5, 0.9]
concept_types: [prototype]
dataset:
  train: )" +
         test::fashion_mnist_file("train-images-idx3-ubyte.gz") + R"(
  val: )" +
         test::fashion_mnist_file("t10k-images-idx3-ubyte.gz") + R"(
  train_limit: 400
  val_limit: 200
concepts: {kind: segments, images_per_class: 2, scales: [10, 20]}
backbones:
  - name: untrained
    pretrain: {arch: cnn2, epochs: 0, seed: 0}
  - name: cnn2_e1
    pretrain: {arch: cnn2, epochs: 1, seed: 0}
pretrain: {train_limit: 400, batch_size: 64}
fit: {num_concepts: 16, epochs: 4, batch_size: 128}
report: {explain: 3}
)";
}

json read_json(const std::string& path) { return json::parse(core::read_text(path)); }

// The numbers of a run's summary, without paths: what must not change across reruns.
json numbers(const std::string& run_dir) {
  json rows = read_json(run_dir + "/summary.json")["rows"];
  for (auto& r : rows) r.erase("source");
  return rows;
}

class RunE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    IIS_NEEDS_FASHION_MNIST();
    core::set_progress_mode(core::ProgressMode::Quiet);
  }
  test::TempDir dir;
};

TEST_F(RunE2E, FilesNumbersSecondRunAndForce) {
  const std::string run = dir / "run";
  core::write_text_atomic(dir / "tiny.yaml", tiny_config(run));
  RunOptions options;
  options.config = dir / "tiny.yaml";
  options.figures = !report::find_executable("gnuplot").empty();
  RunResult first = run_pipeline(options);

  for (const char* f : {"summary.csv", "summary.json", "index.html", "stages.json", "config.yaml",
                        "fit/untrained/prototype/results.json",
                        "fit/cnn2_e1/prototype/results.json", "embed/cnn2_e1/val/data.features.npy",
                        "elements/manifest.jsonl", "pretrain/cnn2_s0/epoch_1.pt"})
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  if (options.figures) EXPECT_TRUE(fs::exists(run + "/figures/retention_prototype.png"));
  // report: {explain: 3}: the most accurate backbone's first 3 validation images, linked from
  // the report with an atlas per fit.
  const json explained = read_json(run + "/explanations/cnn2_e1_prototype/explain.json");
  EXPECT_EQ(explained.size(), 3u);
  const std::string page = core::read_text(run + "/index.html");
  EXPECT_NE(page.find("href=\"explanations/cnn2_e1_prototype/index.html\""), std::string::npos);
  EXPECT_NE(page.find("href=\"atlas/untrained/prototype/index.html\""), std::string::npos);
  EXPECT_TRUE(fs::exists(run + "/atlas/cnn2_e1/prototype/index.html"));

  json summary = read_json(run + "/summary.json");
  ASSERT_EQ(summary["rows"].size(), 2u);
  for (const auto& row : summary["rows"]) {
    const double acc = row["standard_accuracy"];
    EXPECT_GT(acc, 0.0);
    EXPECT_LE(acc, 1.0);
    EXPECT_GE(row["iis_std"].get<double>(), 0.0);
    // IIS is the trapezoid area of the retention curve: recompute it from the mean curve
    // (the tool averages per-seed areas, so allow for the seed spread).
    const auto& ratios = row["ratios"];
    ASSERT_EQ(ratios.size(), 3u);
    double area = 0;
    for (size_t i = 0; i + 1 < ratios.size(); ++i) {
      const double a = ratios[i]["top1"].get<double>() / acc;
      const double b = ratios[i + 1]["top1"].get<double>() / acc;
      area +=
          (a + b) / 2 * (ratios[i + 1]["ratio"].get<double>() - ratios[i]["ratio"].get<double>());
      EXPECT_GE(ratios[i]["top1"].get<double>(), 0.0);
      EXPECT_LE(ratios[i]["top1"].get<double>(), 1.0);
    }
    EXPECT_NEAR(row["iis"].get<double>(), area, 0.02 + 2 * row["iis_std"].get<double>())
        << row["backbone"];
  }
  // One epoch of training beats the untrained control on the standard probe.
  const auto& rows = summary["rows"];
  const json& trained = rows[0]["backbone"] == "cnn2_e1" ? rows[0] : rows[1];
  const json& control = rows[0]["backbone"] == "cnn2_e1" ? rows[1] : rows[0];
  EXPECT_GT(trained["standard_accuracy"].get<double>(), control["standard_accuracy"].get<double>());
  EXPECT_EQ(summary["correlations"]["prototype"]["n"].get<int>(), 2);

  json stages = read_json(run + "/stages.json");
  EXPECT_EQ(stages["skipped"].get<int>(), 0);
  EXPECT_EQ(stages["ran"].get<int>(), static_cast<int>(first.stages.size()));

  const json before = numbers(run);
  // Second run: nothing trains, every stage is skipped, the numbers are the same.
  RunResult second = run_pipeline(options);
  stages = read_json(run + "/stages.json");
  EXPECT_EQ(stages["ran"].get<int>(), 0);
  EXPECT_EQ(stages["skipped"].get<int>(), static_cast<int>(first.stages.size()));
  for (const auto& s : second.stages) EXPECT_FALSE(s.ran) << s.name;
  EXPECT_EQ(numbers(run), before);

  // Changed fit options rerun the fits and the report only, each fit into its own folder of
  // the earlier settings (which `iis fit` alone would refuse without --force).
  std::string changed = tiny_config(run);
  changed.replace(changed.find("num_concepts: 16, epochs: 4"), 27, "num_concepts: 12, epochs: 3");
  core::write_text_atomic(dir / "tiny.yaml", changed);
  RunResult third = run_pipeline(options);
  for (const auto& s : third.stages)
    EXPECT_EQ(s.ran, s.kind == "fit" || s.kind == "report") << s.name;
  const json fit = read_json(run + "/fit/cnn2_e1/prototype/results.json");
  EXPECT_EQ(fit["num_concepts"], 12);
  EXPECT_EQ(fit["settings"]["epochs"], 3);
  EXPECT_EQ(read_json(run + "/summary.json")["rows"][0]["ratios"].size(), 3u);
}

// concept_types with text: the run embeds both splits with the CLIP archive of `text:` and the
// concepts with embed-text, once for all backbones, and fits text concepts on those files.
TEST_F(RunE2E, TextConceptsFromTheConfig) {
  const std::string clip = dir / "clip.pt";
  const test::CommandRun made =
      test::run_command("/usr/bin/python3 " + test::source_dir() +
                        "/scripts/make_clip_model.py --out " + clip + " 2>&1");
  ASSERT_EQ(made.status, 0) << made.output;
  const std::string run = dir / "run";
  std::string config = tiny_config(run);
  config.replace(config.find("concept_types: [prototype]"), 26, "concept_types: [prototype, text]");
  const std::string trained = "  - name: cnn2_e1\n    pretrain: {arch: cnn2, epochs: 1, seed: 0}\n";
  config.erase(config.find(trained), trained.size());
  config.replace(config.find("fit: {"), 6,
                 "fit: {clip_cutoff: -1, interpretability_cutoff: -1, proj_steps: 100, ");
  config += "text: {clip: " + clip + ", concepts: cifar10}\n";
  RunOptions options;
  options.config_text = config;
  options.figures = false;
  const RunResult first = run_pipeline(options);
  for (const char* f : {"text/clip/train/data.features.npy", "text/clip/val/data.embed.json",
                        "text/concepts/concepts.features.npy", "text/concepts/concepts.names.txt",
                        "fit/untrained/text/results.json", "fit/untrained/prototype/results.json"})
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  const json r = read_json(run + "/fit/untrained/text/results.json");
  EXPECT_EQ(r["concept_type"], "text");
  const auto names = core::read_text(run + "/text/concepts/concepts.names.txt");
  EXPECT_EQ(r["text_concepts"]["kept"].size() +
                r["text_concepts"]["dropped_by_interpretability_cutoff"].size(),
            static_cast<size_t>(std::count(names.begin(), names.end(), '\n')));
  EXPECT_EQ(r["inputs"]["clip_train_features"]["path"],
            fs::absolute(run + "/text/clip/train/data.features.npy").string());
  json rows = read_json(run + "/summary.json")["rows"];
  EXPECT_EQ(rows.size(), 2u);  // one backbone, two concept types
  const RunResult second = run_pipeline(options);
  for (const auto& s : second.stages) EXPECT_FALSE(s.ran) << s.name;
  EXPECT_EQ(first.stages.size(), second.stages.size());
}

TEST_F(RunE2E, KilledRunResumesToTheSameNumbers) {
  // The reference: one uninterrupted run.
  const std::string reference = dir / "reference";
  core::write_text_atomic(dir / "tiny.yaml", tiny_config(reference));
  RunOptions options;
  options.config = dir / "tiny.yaml";
  options.figures = false;
  run_pipeline(options);

  // The same config into another folder in a child process (this test binary re-executed
  // with IIS_E2E_CHILD_CONFIG set: it runs only the Child case below), killed with SIGKILL
  // once a few stages have finished, then run again to the end here.
  const std::string run = dir / "killed";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("IIS_E2E_CHILD_CONFIG", (dir / "tiny.yaml").c_str(), 1);
    setenv("IIS_E2E_CHILD_OUT", run.c_str(), 1);
    execl("/proc/self/exe", "pipeline_e2e_test", "--gtest_filter=RunE2E.Child",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int finished_stages = 0;
  for (int i = 0; i < 600 && finished_stages < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    try {
      finished_stages = read_json(run + "/stages.json")["ran"].get<int>();
    } catch (...) {
    }
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run ended before it could be killed";

  options.out = run;
  RunResult resumed = run_pipeline(options);
  int skipped = 0;
  for (const auto& s : resumed.stages) skipped += !s.ran;
  EXPECT_GE(skipped, 4);  // the stages finished before the kill were not redone
  EXPECT_LT(skipped, static_cast<int>(resumed.stages.size()));
  EXPECT_EQ(numbers(run), numbers(reference));
}

// The child of KilledRunResumesToTheSameNumbers; does nothing in a normal test run.
TEST_F(RunE2E, Child) {
  const char* config = std::getenv("IIS_E2E_CHILD_CONFIG");
  if (!config) GTEST_SKIP() << "runs only as the child of KilledRunResumesToTheSameNumbers";
  RunOptions options;
  options.config = config;
  options.out = std::getenv("IIS_E2E_CHILD_OUT");
  options.figures = false;
  run_pipeline(options);
}

}  // namespace
}  // namespace iis::pipeline
