// Shared fixture of the run_fit tests: a generated classification problem written as .npy
// files, and FitOptions pointing at them.
#pragma once

#include <torch/torch.h>

#include <string>

#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/fit/fit.hpp"
#include "iis/io/npy.hpp"
#include "test_support.hpp"

namespace iis::fit::test_fixture {

class GeneratedFitTest : public ::testing::Test {
 protected:
  void SetUp() override { core::set_progress_mode(core::ProgressMode::Quiet); }

  // Writes training and validation splits whose rows are dirs[label]·scale + N(0, 1) noise,
  // labels uniform in [0, classes), and points the options at them (train first, then val:
  // the order of the random draws is part of each test's data).
  void write_splits(const torch::Tensor& dirs, int64_t classes, double scale, int64_t n_train,
                    int64_t n_val) {
    const int64_t d = dirs.size(1);
    auto make = [&](int64_t n, const std::string& x, const std::string& y) {
      auto labels = torch::randint(0, classes, {n}, torch::kInt64);
      io::save_npy(dir / x, dirs.index_select(0, labels) * scale + torch::randn({n, d}));
      io::save_npy(dir / y, labels);
    };
    make(n_train, "train_x.npy", "train_y.npy");
    make(n_val, "val_x.npy", "val_y.npy");
    options.train_features = dir / "train_x.npy";
    options.train_labels = dir / "train_y.npy";
    options.val_features = dir / "val_x.npy";
    options.val_labels = dir / "val_y.npy";
    options.out = dir / "out";
  }

  // Writes the element vectors as elements.npy and points --concepts at them.
  void write_elements(const torch::Tensor& elements) {
    io::save_npy(dir / "elements.npy", elements);
    options.concepts = dir / "elements.npy";
  }

  nlohmann::json results() const {
    return nlohmann::json::parse(core::read_text(dir / "out/results.json"));
  }

  test::TempDir dir;
  FitOptions options;
};

}  // namespace iis::fit::test_fixture
