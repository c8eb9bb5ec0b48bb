// The `iis` binary as users run it: the launcher's OpenMP wait policy and global flags.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "test_support.hpp"

namespace iis {
namespace {

struct ToolRun {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs `iis ARGS` through the shell with `env` prepended (e.g. "A=1 B=2").
ToolRun run_tool(const std::string& env, const std::string& args) {
  const std::string command = env + " '" + test::tool_path() + "' " + args + " 2>&1";
  ToolRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    run.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// libgomp prints its settings at load time under OMP_DISPLAY_ENV=verbose; a passive wait
// policy shows as a spin count of 0.
TEST(Tool, LauncherSetsThePassiveWaitPolicyBeforeLibTorchLoads) {
  const ToolRun passive = run_tool("env -u OMP_WAIT_POLICY OMP_DISPLAY_ENV=verbose", "version");
  EXPECT_EQ(passive.status, 0) << passive.output;
  EXPECT_NE(passive.output.find("GOMP_SPINCOUNT = '0'"), std::string::npos) << passive.output;
  // A policy the user set is kept.
  const ToolRun active = run_tool("OMP_WAIT_POLICY=ACTIVE OMP_DISPLAY_ENV=verbose", "version");
  EXPECT_EQ(active.status, 0) << active.output;
  EXPECT_NE(active.output.find("OMP_WAIT_POLICY = 'ACTIVE'"), std::string::npos) << active.output;
  EXPECT_EQ(active.output.find("GOMP_SPINCOUNT = '0'"), std::string::npos) << active.output;
}

TEST(Tool, VersionFlagIsTheVersionCommand) {
  const ToolRun flag = run_tool("", "--version");
  const ToolRun command = run_tool("", "version");
  EXPECT_EQ(flag.status, 0);
  EXPECT_EQ(flag.output, command.output);
  EXPECT_EQ(flag.output.rfind("iis ", 0), 0u) << flag.output;
  const ToolRun none = run_tool("", "");
  EXPECT_NE(none.status, 0);
  EXPECT_NE(none.output.find("A subcommand is required"), std::string::npos) << none.output;
}

TEST(Tool, MaxImagePixelsReachesTheDecoder) {
  test::TempDir dir;
  const std::string image = dir / "x.png";
  ASSERT_TRUE(cv::imwrite(image, cv::Mat(4, 4, CV_8UC3, cv::Scalar(10, 200, 30))));  // 16 px
  const std::string args =
      "superpixels '" + image + "' --n-segments 2 --out '" + dir / "l.npy" + "'";
  const ToolRun refused = run_tool("", "--max-image-pixels 15 " + args);
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_NE(refused.output.find("image too large (4x4 = 16 pixels, above the cap of 15)"),
            std::string::npos)
      << refused.output;
  const ToolRun accepted = run_tool("", "--max-image-pixels 16 " + args);
  EXPECT_EQ(accepted.status, 0) << accepted.output;
}

}  // namespace
}  // namespace iis
