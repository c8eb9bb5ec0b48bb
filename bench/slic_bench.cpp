// SLIC speed: iis::image::slic against scikit-image's skimage.segmentation.slic on the same
// 512×512 RGB photo and parameters, single-threaded, timed in the same run; prints both and
// the ratio.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "iis/core/error.hpp"
#include "iis/image/decode.hpp"
#include "iis/image/slic.hpp"

namespace {

struct Args {
  std::string image = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";
  int n_segments = 30;
  int repeats = 15;
  int python_repeats = 7;
  std::string python = "/usr/bin/python3";
  double min_ratio = 0;  // exit 1 when the median ratio is below this (0: never)
};

void usage() {
  std::cout << "slic_bench [--image PATH] [--n-segments 30] [--repeats 15] [--python-repeats 7]\n"
               "           [--python /usr/bin/python3 | --skip-python] [--min-ratio R]\n"
               "Times iis::image::slic and skimage.segmentation.slic (compactness 10, sigma 1)\n"
               "on a 512x512 RGB photo (resized if needed), single-threaded, CPU time per call.\n";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// CPU seconds of this process (the benchmark is single-threaded, and CPU time is less
// disturbed than wall time on a shared machine).
double cpu_seconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

// Runs the Python timing of skimage's slic on `png`; returns per-call CPU seconds, or an
// empty vector (with a note) when Python or scikit-image is missing.
std::vector<double> time_skimage(const Args& args, const std::string& png) {
  if (!std::filesystem::exists(args.python)) {
    std::cout << "scikit-image: " << args.python << " not found, timing only ours\n";
    return {};
  }
  std::ostringstream cmd;
  cmd << "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 " << args.python << " -c \""
      << "import sys, time\n"
      << "from skimage import io\n"
      << "from skimage.segmentation import slic\n"
      << "img = io.imread(sys.argv[1])[..., :3]\n"
      << "slic(img, n_segments=int(sys.argv[2]), compactness=10, sigma=1, start_label=0)\n"
      << "for _ in range(int(sys.argv[3])):\n"
      << "    t = time.process_time()\n"
      << "    slic(img, n_segments=int(sys.argv[2]), compactness=10, sigma=1, start_label=0)\n"
      << "    print(time.process_time() - t)\n"
      << "\" '" << png << "' " << args.n_segments << " " << args.python_repeats << " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.str().c_str(), "r"), pclose);
  if (!pipe) {
    std::cout << "scikit-image: could not start " << args.python << ", timing only ours\n";
    return {};
  }
  std::vector<double> seconds;
  std::string output;
  std::array<char, 512> buffer{};
  while (fgets(buffer.data(), int(buffer.size()), pipe.get())) {
    output += buffer.data();
    try {
      size_t used = 0;
      const double value = std::stod(buffer.data(), &used);
      if (used > 0) seconds.push_back(value);
    } catch (const std::exception&) {
    }
  }
  if (seconds.empty()) {
    std::cout << "scikit-image: no timings from " << args.python << " (" << output
              << "), timing only ours\n";
  }
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--image") {
      args.image = next();
    } else if (a == "--n-segments") {
      args.n_segments = std::stoi(next());
    } else if (a == "--repeats") {
      args.repeats = std::max(1, std::stoi(next()));
    } else if (a == "--python-repeats") {
      args.python_repeats = std::max(1, std::stoi(next()));
    } else if (a == "--python") {
      args.python = next();
    } else if (a == "--skip-python") {
      args.python = "";
    } else if (a == "--min-ratio") {
      args.min_ratio = std::stod(next());
    } else {
      usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  try {
    cv::Mat rgb;
    if (std::filesystem::exists(args.image)) {
      rgb = iis::image::read_rgb(args.image);
    } else {
      // No photo here: a synthetic scene of gradients, a disc and texture.
      std::cout << "note: " << args.image << " not found, using a synthetic picture\n";
      rgb.create(512, 512, CV_8UC3);
      for (int y = 0; y < 512; ++y)
        for (int x = 0; x < 512; ++x) {
          const bool disc = (x - 300) * (x - 300) + (y - 200) * (y - 200) < 100 * 100;
          const int texture = (x * 7 + y * 13) % 23;
          rgb.at<cv::Vec3b>(y, x) =
              disc ? cv::Vec3b(230, 200 - texture, 40)
                   : cv::Vec3b(uint8_t(40 + x / 3 + texture), uint8_t(30 + y / 3), 150);
        }
    }
    if (rgb.rows != 512 || rgb.cols != 512) {
      cv::Mat resized;
      cv::resize(rgb, resized, cv::Size(512, 512), 0, 0, cv::INTER_AREA);
      rgb = resized;
    }
    // Both sides read the same pixels: the (possibly resized) image as a PNG.
    const std::string png =
        (std::filesystem::temp_directory_path() / "iis_slic_bench_input.png").string();
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    IIS_CHECK(cv::imwrite(png, bgr), "cannot write " << png);

    iis::image::SlicOptions options;
    options.n_segments = args.n_segments;
    cv::Mat labels = iis::image::slic(rgb, options);  // warm-up (first-touch of buffers)
    std::vector<double> ours;
    for (int r = 0; r < args.repeats; ++r) {
      const double start = cpu_seconds();
      labels = iis::image::slic(rgb, options);
      ours.push_back(cpu_seconds() - start);
    }
    double hi = 0;
    cv::minMaxLoc(labels, nullptr, &hi);
    std::printf("image 512x512 RGB (%s), n_segments %d, compactness 10, sigma 1 -> %d segments\n",
                args.image.c_str(), args.n_segments, int(hi) + 1);
    std::printf("iis::image::slic          median %8.2f ms   min %8.2f ms   (%d calls)\n",
                1e3 * median(ours), 1e3 * *std::min_element(ours.begin(), ours.end()),
                args.repeats);

    std::vector<double> reference;
    if (!args.python.empty()) reference = time_skimage(args, png);
    std::filesystem::remove(png);
    if (reference.empty()) return 0;
    std::printf("skimage.segmentation.slic median %8.2f ms   min %8.2f ms   (%zu calls)\n",
                1e3 * median(reference),
                1e3 * *std::min_element(reference.begin(), reference.end()), reference.size());
    const double ratio = median(reference) / median(ours);
    const double ratio_min = *std::min_element(reference.begin(), reference.end()) /
                             *std::min_element(ours.begin(), ours.end());
    std::printf("speed-up (skimage / ours): %.1fx on medians, %.1fx on minima (target >= 10x)\n",
                ratio, ratio_min);
    if (args.min_ratio > 0 && ratio < args.min_ratio) {
      std::printf("below --min-ratio %.1f\n", args.min_ratio);
      return 1;
    }
  } catch (const iis::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    if (!e.hint().empty()) std::cerr << "hint: " << e.hint() << "\n";
    return 1;
  }
  return 0;
}
