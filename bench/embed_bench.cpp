// Throughput of `iis embed`: the whole pipeline (decode + preprocess on a thread pool,
// overlapping inference) against the model alone on the same, already preprocessed images,
// and, side by side, a torchvision DataLoader pipeline (2 workers) on the same folder.
//
//   embed_bench [--images 256] [--batch-size 32] [--model resnet18.ts] [--repeats 2]
//               [--device cpu] [--skip-torchvision] [--tiny-model] [--min-ratio 0.9]
//
// Without --model it exports resnet18 (random weights) with scripts/export_backbone.py.
// The pipeline must keep at least 90 % of the model-alone rate.
#include <torch/script.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>

#include "iis/backbone/backbone.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/threads.hpp"
#include "iis/data/dataset.hpp"
#include "iis/embed/embed.hpp"
#include "iis/image/preprocess.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  int64_t images = 256;
  int64_t batch_size = 32;
  int repeats = 2;
  std::string model;
  std::string device = "cpu";
  bool skip_torchvision = false;
  bool tiny_model = false;
  double min_ratio = 0.9;  // exit 3 below this pipeline/model-alone ratio
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) {
        std::cerr << "missing value after " << k << "\n";
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (k == "--images") {
      a.images = std::stoll(value());
    } else if (k == "--batch-size") {
      a.batch_size = std::stoll(value());
    } else if (k == "--repeats") {
      a.repeats = std::stoi(value());
    } else if (k == "--model") {
      a.model = value();
    } else if (k == "--device") {
      a.device = value();
    } else if (k == "--skip-torchvision") {
      a.skip_torchvision = true;
    } else if (k == "--min-ratio") {
      a.min_ratio = std::stod(value());
    } else if (k == "--tiny-model") {
      a.tiny_model = true;
    } else {
      std::cerr << "unknown argument " << k << " (see the comment atop bench/embed_bench.cpp)\n";
      std::exit(2);
    }
  }
  return a;
}

// ImageNet-like JPEGs (about 500×375, some portrait), smooth random content, quality 90.
void make_jpegs(const std::string& root, int64_t n) {
  std::mt19937 rng(7);
  for (int64_t i = 0; i < n; ++i) {
    const std::string dir = root + "/class" + std::to_string(i % 4);
    fs::create_directories(dir);
    int w = 400 + static_cast<int>(rng() % 121), h = 300 + static_cast<int>(rng() % 101);
    if (i % 5 == 0) std::swap(w, h);
    cv::Mat small(12, 16, CV_8UC3);
    cv::randu(small, cv::Scalar::all(0), cv::Scalar::all(255));
    cv::Mat img, noise(h, w, CV_8UC3);
    cv::resize(small, img, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
    cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(12));
    img += noise;
    char name[32];
    std::snprintf(name, sizeof(name), "/img%05lld.jpg", static_cast<long long>(i));
    cv::imwrite(dir + name, img, {cv::IMWRITE_JPEG_QUALITY, 90});
  }
}

// A small convolutional TorchScript model for smoke runs.
std::string tiny_model(const std::string& dir) {
  torch::jit::Module m("Tiny");
  torch::manual_seed(0);
  m.register_parameter("w", torch::randn({16, 3, 7, 7}) * 0.05, false);
  m.define("def forward(self, x):\n    return torch.conv2d(x, self.w, None, [4, 4]).relu()\n");
  const std::string path = dir + "/tiny.ts";
  m.save(path);
  return path;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The model alone: all images decoded and preprocessed beforehand (not timed), then the
// same batches as the pipeline through a freshly loaded model, timed end to end.
double model_alone(const std::string& model, const std::string& data, int64_t batch_size,
                   torch::Device device) {
  auto dataset = iis::data::open_dataset(data);
  auto backbone = iis::backbone::open_backbone(model, device);
  iis::embed::PreprocessFlags flags;
  const auto prep =
      iis::embed::resolve_preprocess(flags, backbone->preprocess_config(), backbone->name());
  std::vector<torch::Tensor> inputs;
  for (int64_t i = 0; i < dataset->size(); ++i) {
    inputs.push_back(iis::image::preprocess(dataset->image(i), prep));
  }
  const auto t0 = Clock::now();
  for (size_t b = 0; b < inputs.size(); b += batch_size) {
    const size_t e = std::min(inputs.size(), b + static_cast<size_t>(batch_size));
    const torch::Tensor batch =
        torch::stack(std::vector<torch::Tensor>(inputs.begin() + b, inputs.begin() + e));
    backbone->embed(batch.to(device)).to(torch::kCPU);
  }
  return static_cast<double>(inputs.size()) / seconds_since(t0);
}

double pipeline(const std::string& model, const std::string& data, const std::string& out,
                int64_t batch_size, const std::string& device) {
  iis::embed::EmbedOptions o;
  o.backbone = model;
  o.data = data;
  o.out = out;
  o.batch_size = batch_size;
  o.device = device;
  const auto r = iis::embed::run_embed(o);
  return r.images_per_second;
}

// torchvision: ImageFolder + the model's eval transform + DataLoader(2 workers) + the same
// TorchScript model, timed from the first batch request to the last output.
double torchvision_rate(const std::string& model, const std::string& data, int64_t batch_size,
                        const std::string& dir) {
  const std::string script = dir + "/tv_bench.py";
  std::ofstream(script)
      << "import sys, time, torch, torchvision\n"
         "from torchvision import transforms as T\n"
         "model_path, data, batch, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), "
         "int(sys.argv[4])\n"
         "torch.set_num_threads(threads)\n"
         "model = torch.jit.load(model_path).eval()\n"
         "tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),\n"
         "                T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])\n"
         "ds = torchvision.datasets.ImageFolder(data, transform=tf)\n"
         "dl = torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=2)\n"
         "t0 = time.time()\n"
         "with torch.inference_mode():\n"
         "    for x, _ in dl:\n"
         "        model(x)\n"
         "print(len(ds) / (time.time() - t0))\n";
  const std::string out = dir + "/tv_rate.txt";
  const std::string command = "/usr/bin/python3 " + script + " " + model + " " + data + " " +
                              std::to_string(batch_size) + " " +
                              std::to_string(iis::core::threads()) + " > " + out;
  if (std::system(command.c_str()) != 0) return -1;
  std::ifstream in(out);
  double rate = -1;
  in >> rate;
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    iis::core::set_threads(0);
    iis::core::set_progress_mode(iis::core::ProgressMode::Quiet);
    const fs::path dir =
        fs::temp_directory_path() / ("iis_embed_bench_" + std::to_string(getpid()));
    fs::create_directories(dir);
    const std::string data = (dir / "data").string();
    make_jpegs(data, a.images);
    std::string model = a.model;
    if (model.empty() && a.tiny_model) model = tiny_model(dir.string());
    if (model.empty()) {
      model = (dir / "resnet18.ts").string();
      const std::string export_cmd = "/usr/bin/python3 " + std::string(IIS_SOURCE_DIR) +
                                     "/scripts/export_backbone.py resnet18 --out " + model +
                                     " > /dev/null";
      IIS_CHECK_HINT(std::system(export_cmd.c_str()) == 0, "exporting resnet18 failed",
                     "run scripts/export_backbone.py resnet18 by hand to see why");
    }
    const torch::Device device(a.device);
    std::cout << "embed_bench: " << a.images << " JPEGs (~500x375), batch " << a.batch_size << ", "
              << iis::core::threads() << " threads, device " << a.device << ", model "
              << fs::path(model).filename().string() << "\n";
    double best_alone = 0, best_pipe = 0;
    for (int r = 0; r < a.repeats; ++r) {
      const double alone = model_alone(model, data, a.batch_size, device);
      const double pipe = pipeline(model, data, (dir / "out").string(), a.batch_size, a.device);
      std::printf("  run %d: model alone %.1f images/s, whole pipeline %.1f images/s (%.1f%%)\n",
                  r + 1, alone, pipe, 100 * pipe / alone);
      best_alone = std::max(best_alone, alone);
      best_pipe = std::max(best_pipe, pipe);
    }
    const double ratio = best_pipe / best_alone;
    std::printf("model alone (preprocessed in memory): %.1f images/s\n", best_alone);
    std::printf(
        "iis embed pipeline (decode+preprocess+model): %.1f images/s = %.1f%% of the "
        "model alone (target >= 90%%)\n",
        best_pipe, 100 * ratio);
    if (!a.skip_torchvision) {
      const double tv = torchvision_rate(model, data, a.batch_size, dir.string());
      if (tv > 0) {
        std::printf(
            "torchvision DataLoader (2 workers, PIL) + same model: %.1f images/s; "
            "iis embed / torchvision = %.2fx\n",
            tv, best_pipe / tv);
      } else {
        std::printf("torchvision DataLoader: could not run /usr/bin/python3\n");
      }
    }
    iis::core::remove_tree(dir.string());
    return ratio >= a.min_ratio ? 0 : 3;
  } catch (const iis::Error& e) {
    std::cerr << "error: " << e.what() << "\nhint: " << e.hint() << "\n";
    return 1;
  }
}
