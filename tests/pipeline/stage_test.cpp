// Tests stamps and skipping with fake stages: unchanged inputs skip, a change reruns the stage
// and everything below it, --force reruns all, an interrupted stage is never trusted.
#include "iis/pipeline/stage.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "iis/core/files.hpp"
#include "test_support.hpp"

namespace iis::pipeline {
namespace {

namespace fs = std::filesystem;

// A two-stage chain: "make" writes value into a.txt, "double" reads it and writes twice it.
struct Chain {
  std::string root;
  int make_runs = 0, double_runs = 0;
  bool fail_make = false;

  std::vector<StageRecord> run(int value, bool force = false) {
    StageRunner runner(force, root + "/stages.json");
    Stage make;
    make.name = "make";
    make.kind = "test";
    make.output_dir = root + "/make";
    make.key = StageKey("make");
    make.key.add("value", static_cast<int64_t>(value));
    make.run = [&, value](bool) {
      ++make_runs;
      core::write_text_atomic(root + "/make/partial.txt", "started");
      if (fail_make) throw Error("killed halfway");
      core::write_text_atomic(root + "/make/a.txt", std::to_string(value));
    };
    const std::string make_hash = runner.run(make);
    Stage twice;
    twice.name = "double";
    twice.kind = "test";
    twice.output_dir = root + "/double";
    twice.key = StageKey("double");
    twice.key.add("make", make_hash);
    twice.run = [&](bool) {
      ++double_runs;
      int a = std::stoi(core::read_text(root + "/make/a.txt"));
      core::write_text_atomic(root + "/double/b.txt", std::to_string(2 * a));
    };
    runner.run(twice);
    return runner.records();
  }
};

TEST(Stage, KeyHashFollowsEveryInput) {
  StageKey a("fit"), b("fit"), c("fit");
  a.add("ratios", std::vector<double>{0, 0.5}).add("epochs", int64_t{3});
  b.add("ratios", std::vector<double>{0, 0.5}).add("epochs", int64_t{3});
  c.add("ratios", std::vector<double>{0, 0.50000001}).add("epochs", int64_t{3});
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_NE(a.hash(), c.hash());
  EXPECT_EQ(a.hash().size(), 16u);
  test::TempDir dir;
  core::write_text_atomic(dir / "f", "one");
  StageKey f1("x"), f2("x");
  f1.add_file("data", dir / "f");
  core::write_text_atomic(dir / "f", "two");
  f2.add_file("data", dir / "f");
  EXPECT_NE(f1.hash(), f2.hash());
  EXPECT_IIS_ERROR(StageKey("x").add_file("data", dir / "missing"), "not found");
}

TEST(Stage, UnchangedSkipsChangedRerunsDownstreamForceRerunsAll) {
  test::TempDir dir;
  Chain chain{dir.str()};
  auto first = chain.run(21);
  EXPECT_TRUE(first[0].ran && first[1].ran);
  EXPECT_EQ(core::read_text(dir / "double/b.txt"), "42");
  EXPECT_TRUE(fs::exists(stamp_path(dir / "make")));

  auto second = chain.run(21);
  EXPECT_FALSE(second[0].ran);
  EXPECT_FALSE(second[1].ran);
  EXPECT_EQ(chain.make_runs, 1);
  EXPECT_EQ(chain.double_runs, 1);
  auto journal = nlohmann::json::parse(core::read_text(dir / "stages.json"));
  EXPECT_EQ(journal["ran"].get<int>(), 0);
  EXPECT_EQ(journal["skipped"].get<int>(), 2);
  EXPECT_EQ(journal["stages"][1]["status"], "skipped");

  core::write_text_atomic(dir / "make/stale.txt", "from an older run");
  auto changed = chain.run(5);  // the change reaches the stage below through the hash
  EXPECT_TRUE(changed[0].ran && changed[1].ran);
  EXPECT_EQ(core::read_text(dir / "double/b.txt"), "10");
  EXPECT_FALSE(fs::exists(dir / "make/stale.txt"));  // a rerun starts from an empty folder

  auto forced = chain.run(5, /*force=*/true);
  EXPECT_TRUE(forced[0].ran && forced[1].ran);
  EXPECT_EQ(chain.make_runs, 3);
  EXPECT_EQ(chain.double_runs, 3);
}

TEST(Stage, AnInterruptedStageIsNeverTrusted) {
  test::TempDir dir;
  Chain chain{dir.str()};
  chain.run(1);
  chain.fail_make = true;
  EXPECT_IIS_ERROR(chain.run(7), "stage make: killed halfway");
  // The old stamp was removed before the work started; the half-written folder is untrusted.
  EXPECT_FALSE(fs::exists(stamp_path(dir / "make")));
  EXPECT_TRUE(fs::exists(dir / "make/partial.txt"));
  chain.fail_make = false;
  auto resumed = chain.run(7);
  EXPECT_TRUE(resumed[0].ran);
  EXPECT_EQ(core::read_text(dir / "double/b.txt"), "14");
  // A stamp from other inputs (or garbage) does not count either.
  core::write_text_atomic(stamp_path(dir / "make"), "not json");
  EXPECT_TRUE(chain.run(7)[0].ran);
}

}  // namespace
}  // namespace iis::pipeline
