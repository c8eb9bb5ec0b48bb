// A small run folder as `iis run` lays it out, made without a backbone: images and element PNGs
// with their manifest, features written as `iis embed` names them (PREFIX.features.npy,
// .labels.npy, .paths.txt, .embed.json), and fits of each backbone and concept type. Used by the
// explain tests and the page (browser) tests.
#pragma once

#include <torch/torch.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/fit/fit.hpp"
#include "iis/io/npy.hpp"
#include "test_support.hpp"

namespace iis::test {

// 4 classes of 16-d features along 4 directions; each element and image is a 28×28 PNG whose
// colour is its class.
class RunFolder {
 public:
  static constexpr int64_t kClasses = 4, kDim = 16;

  explicit RunFolder(std::string dir) : dir_(std::move(dir)) {
    core::set_progress_mode(core::ProgressMode::Quiet);
    torch::manual_seed(3);
    dirs_ = torch::randn({kClasses, kDim});
  }

  const std::string& dir() const { return dir_; }
  std::string path(const std::string& rel) const {
    return (std::filesystem::path(dir_) / rel).string();
  }

  // Writes embed/<backbone>/{train,val,elements}/data.* for one backbone; `noise` sets how
  // well it separates the classes.
  void embed_backbone(const std::string& backbone, double noise) {
    split(backbone, "train", 400, noise, false);
    split(backbone, "val", 200, noise, true);
    elements(backbone, 48, noise);
  }

  // Fits `type` on a backbone's embedding into fit/<backbone>/<type>.
  fit::FitOptions fit(const std::string& backbone, const std::string& type,
                      std::vector<uint64_t> seeds = {0}) const {
    const std::string e = path("embed/" + backbone + "/");
    fit::FitOptions o;
    o.train_features = e + "train/data.features.npy";
    o.train_labels = e + "train/data.labels.npy";
    o.val_features = e + "val/data.features.npy";
    o.val_labels = e + "val/data.labels.npy";
    o.concepts = e + "elements/data.features.npy";
    o.concept_labels = e + "elements/data.labels.npy";
    o.out = path("fit/" + backbone + "/" + type);
    o.concept_type = type;
    o.num_concepts = 12;
    o.epochs = 3;
    o.batch_size = 64;
    o.seeds = std::move(seeds);
    fit::run_fit(o);
    return o;
  }

  static std::vector<std::string> class_names() { return {"red-ish", "green", "blue", "grey"}; }

 private:
  void image(const std::string& file, int64_t label, int64_t variant) const {
    const cv::Scalar colours[] = {{40, 40, 200}, {40, 180, 40}, {200, 60, 30}, {128, 128, 128}};
    cv::Mat m(28, 28, CV_8UC3, colours[label]);
    cv::circle(m, {14, 14}, static_cast<int>(3 + variant % 9), {255, 255, 255}, -1);
    core::make_dirs(std::filesystem::path(file).parent_path().string());
    cv::imwrite(file, m);
  }

  void embed_json(const std::string& prefix, const std::string& backbone,
                  const std::string& data) const {
    std::ofstream(prefix + ".embed.json") << nlohmann::json{
        {"backbone", "native:" + backbone},
        {"backbone_fingerprint", backbone},
        {"preprocessing", "none"},
        {"preprocessing_fingerprint", "none"},
        {"data", data},
        {"classes", class_names()}}.dump(1);
  }

  void split(const std::string& backbone, const std::string& name, int64_t n, double noise,
             bool with_images) {
    const std::string prefix = path("embed/" + backbone + "/" + name + "/data");
    core::make_dirs(std::filesystem::path(prefix).parent_path().string());
    auto labels = torch::arange(n, torch::kInt64) % kClasses;
    io::save_npy(prefix + ".features.npy",
                 dirs_.index_select(0, labels) + noise * torch::randn({n, kDim}));
    io::save_npy(prefix + ".labels.npy", labels);
    std::ofstream paths(prefix + ".paths.txt");
    for (int64_t i = 0; i < n; ++i) {
      const std::string file = path("images/" + name + "/" + std::to_string(i) + ".png");
      if (with_images && i < 12) image(file, labels[i].item<int64_t>(), i);
      paths << file << "\n";
    }
    embed_json(prefix, backbone, path("images/" + name));
  }

  void elements(const std::string& backbone, int64_t m, double noise) {
    const std::string prefix = path("embed/" + backbone + "/elements/data");
    core::make_dirs(std::filesystem::path(prefix).parent_path().string());
    auto labels = torch::arange(m, torch::kInt64) % kClasses;
    io::save_npy(prefix + ".features.npy",
                 dirs_.index_select(0, labels) + noise * torch::randn({m, kDim}));
    io::save_npy(prefix + ".labels.npy", labels);
    core::make_dirs(path("elements"));
    std::ofstream paths(prefix + ".paths.txt"), manifest(path("elements/manifest.jsonl"));
    for (int64_t i = 0; i < m; ++i) {
      const int64_t c = labels[i].item<int64_t>();
      const std::string rel = class_names()[c] + "/e" + std::to_string(i) + ".png";
      image(path("elements/" + rel), c, i);
      const std::string source = path("images/sources/" + std::to_string(i) + ".png");
      image(source, c, i + 1);  // the image the element was cut from
      paths << path("elements/" + rel) << "\n";
      manifest << nlohmann::json{{"path", rel},
                                 {"source", source},
                                 {"class", c},
                                 {"class_name", class_names()[c]},
                                 {"bbox", {0, 0, 14, 14}},
                                 {"element", i}}
                      .dump()
               << "\n";
    }
    embed_json(prefix, backbone, path("elements"));
  }

  std::string dir_;
  torch::Tensor dirs_;
};

}  // namespace iis::test
