// Benchmark of head training (iis fit): a naive path (projects and normalises every batch,
// one ratio at a time, autograd + torch::optim::Adam) against the shipped path (scores
// computed once, all ratios in one batched pass) and the arithmetic floor (the shipped path's
// multiply-adds at the rate of one large matrix product measured in the same run); then the
// full default sweep at Fashion-MNIST sizes, end to end through run_fit (or, with
// --sweep-in-memory, on features generated on the device: the CUDA sweep at ImageNet size).
#include <torch/cuda.h>
#include <torch/torch.h>

#include <unistd.h>
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/threads.hpp"
#include "iis/fit/fit.hpp"
#include "iis/heads/train.hpp"
#include "iis/io/npy.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Sizes {
  int64_t n = 50000, nv = 1000, d = 2048, k = 200, c = 1000, ratios = 8, epochs = 2;
  int64_t batch = 1024;
};

std::vector<double> ratio_list(int64_t count) {
  const std::vector<double> all{0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.98, 0.99, 0.995};
  return {all.begin(), all.begin() + std::min<int64_t>(count, all.size())};
}

// Features with class structure: a class mean plus noise, made on `device`.
iis::heads::TrainSplits make_splits(const Sizes& s, torch::Device device, double spread = 2.0) {
  torch::manual_seed(0);
  auto f = torch::TensorOptions().device(device);
  auto means = torch::randn({s.c, s.d}).to(device);
  iis::heads::TrainSplits t;
  t.num_classes = s.c;
  t.train_labels = torch::randint(0, s.c, {s.n}, f.dtype(torch::kInt64));
  t.train_features = torch::randn({s.n, s.d}, f).mul_(spread);
  t.train_features.add_(means.index_select(0, t.train_labels));
  t.val_labels = torch::randint(0, s.c, {s.nv}, f.dtype(torch::kInt64));
  t.val_features = torch::randn({s.nv, s.d}, f).mul_(spread);
  t.val_features.add_(means.index_select(0, t.val_labels));
  return t;
}

void synchronize(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// The reference's structure in LibTorch: for each ratio a fresh model, every batch projected
// and normalised again, the threshold by sorting, autograd, torch::optim::Adam.
double naive_path(const iis::heads::TrainSplits& t, const torch::Tensor& concepts, const Sizes& s) {
  auto start = Clock::now();
  for (double ratio : ratio_list(s.ratios)) {
    auto gamma = torch::ones({s.k}, torch::requires_grad());
    auto beta = torch::zeros({s.k}, torch::requires_grad());
    auto w = (0.02 * torch::randn({s.c, s.k})).requires_grad_();
    auto b = torch::zeros({s.c}, torch::requires_grad());
    const auto device = t.train_features.device();
    for (auto* p : {&gamma, &beta, &w, &b}) *p = p->detach().to(device).requires_grad_();
    torch::optim::Adam adam({gamma, beta, w, b}, torch::optim::AdamOptions(0.01));
    const int64_t position = static_cast<int64_t>(std::floor(s.k * ratio));
    auto forward = [&](const torch::Tensor& x) {
      auto y = torch::layer_norm(torch::mm(x, concepts.t()), {s.k}, gamma, beta);
      torch::Tensor t_row;
      {
        torch::NoGradGuard no_grad;
        t_row = std::get<0>(y.abs().sort(-1)).select(-1, position).unsqueeze(-1);
      }
      return torch::addmm(b, y * (y.abs() > t_row), w.t());
    };
    for (int64_t epoch = 0; epoch < s.epochs; ++epoch) {
      auto perm = torch::randperm(s.n).to(device);
      for (int64_t i = 0; i < s.n; i += s.batch) {
        auto idx = perm.narrow(0, i, std::min(s.batch, s.n - i));
        auto loss = torch::cross_entropy_loss(forward(t.train_features.index_select(0, idx)),
                                              t.train_labels.index_select(0, idx));
        adam.zero_grad();
        loss.backward();
        adam.step();
      }
      torch::NoGradGuard no_grad;
      auto hits = (forward(t.val_features).argmax(-1) == t.val_labels).sum().item<int64_t>();
      (void)hits;
    }
  }
  synchronize(t.train_features.device());
  return since(start);
}

double shipped_path(const iis::heads::TrainSplits& t, const torch::Tensor& concepts,
                    const Sizes& s) {
  auto start = Clock::now();
  iis::heads::PrecomputedScores scores(
      iis::heads::normalized_concept_scores(t.train_features, concepts),
      iis::heads::normalized_concept_scores(t.val_features, concepts));
  iis::heads::TrainOptions o;
  o.ratios = ratio_list(s.ratios);
  o.epochs = s.epochs;
  o.batch_size = s.batch;
  o.train_standard = false;
  iis::heads::train_heads(t, scores, o);
  return since(start);
}

// Multiply-adds per second of one large float32 matrix product.
double matmul_rate(int64_t m, int64_t k, int64_t n, torch::Device device) {
  auto a = torch::randn({m, k}).to(device), b = torch::randn({k, n}).to(device);
  torch::mm(a, b);  // warm-up
  synchronize(device);
  auto start = Clock::now();
  int reps = 0;
  do {
    torch::mm(a, b);
    ++reps;
    if (reps % 16 == 0) synchronize(device);
  } while (since(start) < 1.0 || reps % 16 != 0);
  synchronize(device);
  return static_cast<double>(m) * k * n * reps / since(start);
}

// The default sweep (standard head + the ratios, scores computed once) on features generated
// on `device`, without files: what run_fit does after loading, timed stage by stage.
void in_memory_sweep(const Sizes& s, int64_t epochs, torch::Device device) {
  auto t0 = Clock::now();
  auto t = make_splits(s, device, 1.0);
  auto elements = torch::randn({s.k, s.d}).to(device);
  elements = elements / elements.norm(2, 1, true);
  synchronize(device);
  const double make_s = since(t0);
  auto t1 = Clock::now();
  iis::heads::PrecomputedScores scores(
      iis::heads::normalized_concept_scores(t.train_features, elements),
      iis::heads::normalized_concept_scores(t.val_features, elements));
  synchronize(device);
  const double scores_s = since(t1);
  iis::heads::TrainOptions o;
  o.ratios = ratio_list(s.ratios);
  o.epochs = epochs;
  o.batch_size = s.batch;
  auto t2 = Clock::now();
  iis::core::set_progress_mode(iis::core::ProgressMode::Plain);  // a line per 10 % of epochs
  auto outcome = iis::heads::train_heads(t, scores, o);
  iis::core::set_progress_mode(iis::core::ProgressMode::Quiet);
  const double train_s = since(t2);
  std::printf(
      "[sweep in memory, %s] N=%lld Nv=%lld D=%lld K=%lld C=%lld, standard + %lld ratios, "
      "%lld epochs, batch %lld\n",
      device.str().c_str(), (long long)s.n, (long long)s.nv, (long long)s.d, (long long)s.k,
      (long long)s.c, (long long)s.ratios, (long long)epochs, (long long)s.batch);
  std::printf("  generating features %8.2f s (not part of the sweep)\n", make_s);
  std::printf("  concept scores      %8.2f s\n", scores_s);
  std::printf("  training            %8.2f s  (%.3f s per epoch)\n", train_s, train_s / epochs);
  std::printf("  sweep               %8.2f s  (scores + training)\n", scores_s + train_s);
  std::printf("  standard top-1 %.4f;", outcome.standard[0].top1);
  for (const auto& h : outcome.interpretable) std::printf(" r=%.2f %.4f", h.ratio, h.top1);
  std::printf("\n");
}

void write_fmnist_like(const std::string& dir, int64_t n, int64_t nv, int64_t d, int64_t c,
                       int64_t m) {
  torch::manual_seed(1);
  auto means = 0.35 * torch::randn({c, d});
  auto y = torch::randint(0, c, {n}, torch::kInt64);
  auto yv = torch::randint(0, c, {nv}, torch::kInt64);
  iis::io::save_npy(dir + "/train_x.npy", means.index_select(0, y) + torch::randn({n, d}));
  iis::io::save_npy(dir + "/train_y.npy", y);
  iis::io::save_npy(dir + "/val_x.npy", means.index_select(0, yv) + torch::randn({nv, d}));
  iis::io::save_npy(dir + "/val_y.npy", yv);
  auto ye = torch::randint(0, c, {m}, torch::kInt64);
  iis::io::save_npy(dir + "/elements.npy", means.index_select(0, ye) + torch::randn({m, d}));
  iis::io::save_npy(dir + "/element_labels.npy", ye);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fit_bench: head training, naive vs shipped vs arithmetic floor"};
  Sizes s;
  int threads = 2;
  bool skip_naive = false, skip_sweep = false, skip_large = false, sweep_in_memory = false;
  std::string device_name = "cpu";
  int64_t sweep_c = 10;
  int64_t sweep_n = 60000, sweep_nv = 10000, sweep_d = 64, sweep_epochs = 30;
  app.add_option("--threads", threads, "CPU threads")->capture_default_str();
  app.add_option("--n", s.n, "training rows (ImageNet-like part)")->capture_default_str();
  app.add_option("--val-n", s.nv, "validation rows")->capture_default_str();
  app.add_option("--d", s.d, "feature dimension")->capture_default_str();
  app.add_option("--k", s.k, "concepts")->capture_default_str();
  app.add_option("--c", s.c, "classes")->capture_default_str();
  app.add_option("--ratios", s.ratios, "number of ratios (first of the defaults)")
      ->capture_default_str();
  app.add_option("--epochs", s.epochs, "epochs")->capture_default_str();
  app.add_option("--sweep-n", sweep_n, "training rows of the default sweep")->capture_default_str();
  app.add_option("--sweep-val-n", sweep_nv, "validation rows of the sweep")->capture_default_str();
  app.add_option("--sweep-d", sweep_d, "feature dimension of the sweep")->capture_default_str();
  app.add_option("--sweep-epochs", sweep_epochs, "epochs of the sweep")->capture_default_str();
  app.add_option("--sweep-classes", sweep_c, "classes of the sweep")->capture_default_str();
  app.add_flag("--sweep-in-memory", sweep_in_memory,
               "generate the sweep's features on the device, no files (e.g. the CUDA sweep)");
  app.add_option("--device", device_name, "cpu or cuda")->capture_default_str();
  app.add_flag("--skip-naive", skip_naive, "skip the naive path");
  app.add_flag("--skip-large", skip_large, "skip the ImageNet-like part");
  app.add_flag("--skip-sweep", skip_sweep, "skip the default sweep");
  CLI11_PARSE(app, argc, argv);
  iis::core::set_threads(threads);
  if (device_name != "cpu" && device_name != "cuda") {
    std::fprintf(stderr, "error: --device must be cpu or cuda\n");
    return 2;
  }
  if (device_name == "cuda" && !torch::cuda::is_available()) {
    std::fprintf(stderr, "error: --device cuda: no CUDA device is available\n");
    return 2;
  }
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
  iis::core::set_progress_mode(iis::core::ProgressMode::Quiet);
  std::printf("threads %d, LibTorch %s, device %s\n", threads, TORCH_VERSION, device.str().c_str());

  if (!skip_large) {
    std::printf("[heads] N=%lld D=%lld K=%lld C=%lld ratios=%lld epochs=%lld batch=%lld\n",
                (long long)s.n, (long long)s.d, (long long)s.k, (long long)s.c, (long long)s.ratios,
                (long long)s.epochs, (long long)s.batch);
    auto t = make_splits(s, device);
    auto concepts = torch::randn({s.k, s.d}).to(device);
    concepts = concepts / concepts.norm(2, 1, true);
    const double rate = matmul_rate(4096, std::min<int64_t>(s.d, 2048), 1024, device);
    // Shipped multiply-adds: projection once, then per epoch and ratio 3·K·C per training row
    // (logits, dW, dŷ) and K·C per validation row.
    const double h = static_cast<double>(s.ratios);
    const double macs =
        static_cast<double>(s.n + s.nv) * s.d * s.k + s.epochs * h * (3.0 * s.n + s.nv) * s.k * s.c;
    const double floor_s = macs / rate;
    const double shipped = shipped_path(t, concepts, s);
    std::printf("  matmul rate            %8.1f GMAC/s\n", rate / 1e9);
    std::printf("  arithmetic floor       %8.2f s  (%.1f GMAC)\n", floor_s, macs / 1e9);
    std::printf("  shipped path           %8.2f s  (%.2f× the floor)\n", shipped,
                shipped / floor_s);
    if (!skip_naive) {
      const double naive = naive_path(t, concepts, s);
      std::printf("  naive path             %8.2f s  (shipped is %.2f× faster)\n", naive,
                  naive / shipped);
    }
  }
  if (!skip_sweep && sweep_in_memory) {
    Sizes w = s;
    w.n = sweep_n;
    w.nv = sweep_nv;
    w.d = sweep_d;
    w.c = sweep_c;
    w.ratios = 8;
    in_memory_sweep(w, sweep_epochs, device);
  } else if (!skip_sweep) {
    namespace fs = std::filesystem;
    auto dir = fs::temp_directory_path() / ("iis_fit_bench_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    write_fmnist_like(dir.string(), sweep_n, sweep_nv, sweep_d, sweep_c, 2000);
    iis::fit::FitOptions o;
    o.train_features = (dir / "train_x.npy").string();
    o.train_labels = (dir / "train_y.npy").string();
    o.val_features = (dir / "val_x.npy").string();
    o.val_labels = (dir / "val_y.npy").string();
    o.concepts = (dir / "elements.npy").string();
    o.concept_labels = (dir / "element_labels.npy").string();
    o.out = (dir / "out").string();
    o.epochs = sweep_epochs;
    o.device = device_name;
    auto start = Clock::now();
    auto summary = iis::fit::run_fit(o);
    const double wall = since(start);
    std::printf(
        "[sweep] N=%lld Nv=%lld D=%lld K=200 C=%lld, standard + 8 ratios, %lld epochs: "
        "%.2f s end to end (IIS %.4f, accuracy %.4f)\n",
        (long long)sweep_n, (long long)sweep_nv, (long long)sweep_d, (long long)sweep_c,
        (long long)sweep_epochs, wall, summary.results.iis, summary.results.standard_accuracy);
    const auto& t = summary.results.timings;
    std::printf("  load %.2f s, concepts %.2f s, scores %.2f s, training %.2f s\n", t.load_s,
                t.seeds[0].timings.concepts_s, t.seeds[0].timings.scores_s,
                t.seeds[0].timings.train_s);
    iis::core::remove_tree(dir.string());
  }
  return 0;
}
