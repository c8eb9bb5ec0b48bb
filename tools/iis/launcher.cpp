// `iis` as users call it: sets OMP_WAIT_POLICY=PASSIVE (unless the user set a policy) and
// starts the tool proper, ../libexec/iis/iis beside this file.
//
// LibTorch's OpenMP threads spin between parallel regions by default; beside other work (or
// OpenBLAS's own pool) the spinning steals the cores the work needs: an end2end `iis fit` ran
// 1.7-3.3x slower in wall time beside another busy process. libgomp reads the policy only
// when it is loaded, before any code of the tool runs, so it must be in the environment at
// exec time. This launcher links no LibTorch: it costs about a millisecond, where the tool
// re-executing itself cost a second start of LibTorch (about 1 s).
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// The folder of this executable, from /proc/self/exe (symbolic links to it resolved).
std::string own_folder() {
  char path[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return ".";
  path[n] = '\0';
  char* slash = std::strrchr(path, '/');
  if (slash == nullptr) return ".";
  *slash = '\0';
  return path;
}

}  // namespace

int main(int /*argc*/, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  const std::string tool = own_folder() + "/" + IIS_TOOL_RELATIVE_PATH;
  ::execv(tool.c_str(), argv);
  std::fprintf(
      stderr, "error: cannot start %s: %s\nhint: reinstall iis (the launcher and %s go together)\n",
      tool.c_str(), std::strerror(errno), IIS_TOOL_RELATIVE_PATH);
  return 127;
}
