// Peak memory and speed of loading .npy files: for each dtype, a file of --mib MiB is written,
// then loaded while the process's peak resident size is tracked (reset through
// /proc/self/clear_refs before each load). Prints the peak growth over the file's size; the
// target for float32 features is at most 1.3× (exit status 3 above --max-ratio).
#include <torch/torch.h>

#include <unistd.h>
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "iis/core/files.hpp"
#include "iis/core/threads.hpp"
#include "iis/io/npy.hpp"

namespace {

// A field of /proc/self/status in KiB (VmRSS, VmHWM).
int64_t status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

bool reset_peak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  return static_cast<bool>(out.flush());
}

struct Measure {
  double seconds = 0;
  double growth_mib = 0;  // peak resident size during the load minus the size before it
};

Measure measure(const std::function<torch::Tensor()>& load) {
  Measure m;
  const int64_t before = status_kib("VmRSS");
  if (!reset_peak()) {
    std::fprintf(stderr, "error: cannot reset the peak resident size (/proc/self/clear_refs)\n");
    std::exit(2);
  }
  auto start = std::chrono::steady_clock::now();
  {
    torch::Tensor t = load();
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  m.growth_mib = (status_kib("VmHWM") - before) / 1024.0;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"npy_bench: peak memory and speed of loading .npy files"};
  double mib = 1024, max_ratio = 1.3;
  int threads = 2;
  int64_t cols = 256;
  app.add_option("--mib", mib, "size of each file in MiB")->capture_default_str();
  app.add_option("--cols", cols, "columns (features per row)")->capture_default_str();
  app.add_option("--max-ratio", max_ratio, "largest peak/file ratio for float32 features")
      ->capture_default_str();
  app.add_option("--threads", threads, "threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  iis::core::set_threads(threads);

  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("iis_npy_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  struct Case {
    const char* name;
    torch::ScalarType dtype;
    bool features;  // load_features (→ float32, checked) or load_npy (file's dtype)
  };
  const Case cases[] = {{"float32 load_npy", torch::kFloat32, false},
                        {"float32 load_features", torch::kFloat32, true},
                        {"float64 load_features", torch::kFloat64, true},
                        {"float16 load_features", torch::kFloat16, true}};
  std::printf("%-22s %9s %11s %11s %8s %9s %9s\n", "case", "file MiB", "result MiB", "peak +MiB",
              "peak/file", "seconds", "MiB/s");
  double worst_f32 = 0;
  for (const auto& c : cases) {
    const int64_t width = c10::elementSize(c.dtype);
    const int64_t rows =
        std::max<int64_t>(1, static_cast<int64_t>(mib * (1 << 20)) / (width * cols));
    const std::string path = (dir / "x.npy").string();
    iis::io::save_npy(path, torch::randn({rows, cols}).to(c.dtype));
    const double file_mib = fs::file_size(path) / double(1 << 20);
    const double result_mib = rows * cols * (c.features ? 4.0 : width) / double(1 << 20);
    auto m = measure([&] {
      return c.features ? iis::io::load_features(path, "features") : iis::io::load_npy(path);
    });
    const double ratio = m.growth_mib / file_mib;
    std::printf("%-22s %9.1f %11.1f %11.1f %8.3f× %9.3f %9.0f\n", c.name, file_mib, result_mib,
                m.growth_mib, ratio, m.seconds, file_mib / m.seconds);
    if (c.dtype == torch::kFloat32) worst_f32 = std::max(worst_f32, ratio);
    fs::remove(path);
  }
  iis::core::remove_tree(dir.string());
  std::printf("float32: peak growth %.3f× the file's size (target ≤ %.2f×)\n", worst_f32,
              max_ratio);
  return worst_f32 <= max_ratio ? 0 : 3;
}
