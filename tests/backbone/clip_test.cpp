// CLIP archives: a random CLIP-shaped archive from scripts/make_clip_model.py gives PyTorch's
// features through encode_text and encode_image, also when written as OpenAI's float16 CUDA
// traces are (patched for the CPU); the attributes that describe an archive; the `clip:`
// backbone's preprocessing; archives without the methods or with odd attributes.
#include "iis/backbone/clip.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "iis/backbone/backbone.hpp"
#include "iis/core/files.hpp"
#include "iis/image/preprocess.hpp"
#include "iis/io/npy.hpp"
#include "test_support.hpp"

namespace iis::backbone {
namespace {

// Runs scripts/make_clip_model.py with `args`; fails the test when it does not succeed.
void make_clip(const test::TempDir& dir, const std::string& args) {
  const test::CommandRun run = test::run_command("/usr/bin/python3 " + test::source_dir() +
                                                 "/scripts/make_clip_model.py " + args + " 2>&1");
  ASSERT_EQ(run.status, 0) << run.output;
}

// The lines of the tokenizer's reference vectors whose texts are `texts`, in that order.
std::vector<nlohmann::json> reference_ids(const std::vector<std::string>& texts) {
  std::map<std::string, nlohmann::json> by_text;
  std::istringstream in(core::read_text(test::source_dir() + "/tests/text/data/tokens.jsonl"));
  for (std::string line; std::getline(in, line);) {
    nlohmann::json row = nlohmann::json::parse(line);
    by_text[row["text"].get<std::string>()] = row;
  }
  std::vector<nlohmann::json> rows;
  for (const auto& t : texts) rows.push_back(by_text.at(t));
  return rows;
}

// Writes `rows` as JSON lines to `path`; returns them as an N×77 zero-padded int64 tensor.
torch::Tensor write_ids(const std::vector<nlohmann::json>& rows, const std::string& path) {
  std::ofstream out(path);
  torch::Tensor ids = torch::zeros({static_cast<int64_t>(rows.size()), 77}, torch::kInt64);
  for (size_t i = 0; i < rows.size(); ++i) {
    out << rows[i].dump() << "\n";
    const auto v = rows[i]["ids"].get<std::vector<int64_t>>();
    for (size_t j = 0; j < v.size(); ++j) ids[i][j] = v[j];
  }
  return ids;
}

double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

const std::vector<std::string> kTexts = {"dog", "a photo of a goldfish", "wheels", "cat",
                                         "2 pickups"};

TEST(ClipArchive, EncodersGivePyTorchsFeatures) {
  test::TempDir dir;
  const torch::Tensor ids = write_ids(reference_ids(kTexts), dir / "ids.jsonl");
  torch::manual_seed(0);
  const torch::Tensor images = torch::randn({3, 3, 32, 32});
  io::save_npy(dir / "images.npy", images);
  make_clip(dir, "--out " + dir / "m.pt" + " --text-reference " + dir / "ids.jsonl" + " " +
                     dir / "text.npy" + " --encode-inputs " + dir / "images.npy" + " " +
                     dir / "image.npy");

  ClipModel model(dir / "m.pt", torch::kCPU, ClipModel::Tower::Text);
  EXPECT_EQ(model.input_resolution(), 32);
  EXPECT_EQ(model.context_length(), 77);
  EXPECT_EQ(model.vocab_size(), 49408);
  const torch::Tensor text = model.encode_text(ids);
  const torch::Tensor expected_text = io::load_npy(dir / "text.npy");
  ASSERT_EQ(text.sizes(), (std::vector<int64_t>{5, 12}));
  EXPECT_EQ(text.scalar_type(), torch::kFloat32);
  EXPECT_LT(relative_difference(text, expected_text), 1e-5);
  // Batches of other sizes than the trace's 2, and the features at the end token: a row
  // alone gives the same, and rows differ.
  EXPECT_LT(relative_difference(model.encode_text(ids.slice(0, 3, 4)), expected_text[3]), 1e-5);
  EXPECT_GT((text[0] - text[3]).abs().max().item<double>(), 1e-2);

  const torch::Tensor image = model.encode_image(images);
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{3, 12}));
  EXPECT_LT(relative_difference(image, io::load_npy(dir / "image.npy")), 1e-5);
}

TEST(ClipArchive, OpenAIsFloat16CudaTraceRunsOnTheCpuAfterPatching) {
  test::TempDir dir;
  const torch::Tensor ids = write_ids(reference_ids(kTexts), dir / "ids.jsonl");
  torch::manual_seed(1);
  const torch::Tensor images = torch::randn({2, 3, 32, 32});
  io::save_npy(dir / "images.npy", images);
  make_clip(dir, "--half-cuda --out " + dir / "h.pt" + " --text-reference " + dir / "ids.jsonl" +
                     " " + dir / "text.npy" + " --encode-inputs " + dir / "images.npy" + " " +
                     dir / "image.npy");
  // As written, the archive needs CUDA (or float16 matrix products on the CPU).
  if (!torch::cuda::is_available()) {
    torch::jit::Module raw = torch::jit::load(dir / "h.pt", torch::kCPU);
    EXPECT_ANY_THROW(raw.run_method("encode_text", ids));
  }
  ClipModel model(dir / "h.pt", torch::kCPU, ClipModel::Tower::Text);
  const torch::Tensor text = model.encode_text(ids);
  EXPECT_EQ(text.scalar_type(), torch::kFloat32);
  // The reference is the float32 model with the float16-rounded weights: float32 throughout
  // is what the patches give (float16 arithmetic would differ by ~1e-3).
  EXPECT_LT(relative_difference(text, io::load_npy(dir / "text.npy")), 1e-5);
  EXPECT_LT(relative_difference(model.encode_image(images), io::load_npy(dir / "image.npy")), 1e-5);
}

TEST(ClipArchive, ClipBackboneIsEncodeImageWithClipsPreprocessing) {
  test::TempDir dir;
  make_clip(dir, "--out " + dir / "m.pt" + " --resolution 48 --patch 16");
  auto backbone = open_backbone("clip:" + dir / "m.pt", torch::kCPU);
  EXPECT_EQ(backbone->name(), "clip:" + dir / "m.pt");
  const torch::Tensor x = torch::rand({2, 3, 48, 48});
  ClipModel model(dir / "m.pt", torch::kCPU, ClipModel::Tower::Image);
  EXPECT_TRUE(torch::equal(backbone->embed(x), model.encode_image(x)));

  image::Preprocess p = image::preprocess_preset("imagenet");
  image::apply_preprocess_yaml(p, backbone->preprocess_config(), "clip");
  EXPECT_EQ(p.preset, "clip");
  EXPECT_EQ(p.resize_size, 48);
  EXPECT_EQ(p.crop_size, 48);
  EXPECT_EQ(p.interpolation, image::Interpolation::Bicubic);
  const std::vector<float> mean{0.48145466f, 0.4578275f, 0.40821073f};
  const std::vector<float> std{0.26862954f, 0.26130258f, 0.27577711f};
  EXPECT_EQ(p.mean, mean);
  EXPECT_EQ(p.std, std);
  EXPECT_EQ(p.channels, 3);

  // Without the attributes: context length 77, the preset's 224, and a plain TorchScript spec
  // of the same file is its forward, which needs two inputs.
  make_clip(dir, "--out " + dir / "bare.pt" + " --no-attributes");
  ClipModel bare(dir / "bare.pt", torch::kCPU, ClipModel::Tower::Text);
  EXPECT_EQ(bare.input_resolution(), 0);
  EXPECT_EQ(bare.context_length(), 77);
  EXPECT_EQ(bare.vocab_size(), 0);
  image::Preprocess q = image::preprocess_preset("imagenet");
  image::apply_preprocess_yaml(
      q, open_backbone("clip:" + dir / "bare.pt", torch::kCPU)->preprocess_config(), "clip");
  EXPECT_EQ(q.resize_size, 224);
  EXPECT_EQ(q.interpolation, image::Interpolation::Bicubic);
  EXPECT_IIS_ERROR(open_backbone(dir / "m.pt", torch::kCPU)->embed(x), "failed on a batch");
}

// A TorchScript module with the methods `methods` (each returning its input's row sums) and
// the attributes given, saved under `name`.
std::string save_module(const test::TempDir& dir, const std::string& name,
                        const std::vector<std::string>& methods,
                        const std::function<void(torch::jit::Module&)>& attributes = {}) {
  torch::jit::Module m("Net");
  for (const auto& method : methods) {
    m.define("def " + method + "(self, x):\n    return x.flatten(1).float().sum(1, True)\n");
  }
  if (attributes) attributes(m);
  const std::string path = dir / name;
  m.save(path);
  return path;
}

TEST(ClipArchive, MissingMethodsAndOddAttributesAreErrorsNamingTheFile) {
  test::TempDir dir;
  const std::string image_only = save_module(dir, "image_only.pt", {"encode_image"});
  EXPECT_IIS_ERROR(ClipModel(image_only, torch::kCPU, ClipModel::Tower::Text),
                   "the TorchScript " + image_only + " has no method encode_text");
  EXPECT_NO_THROW(ClipModel(image_only, torch::kCPU, ClipModel::Tower::Image));
  const std::string plain = save_module(dir, "plain.ts", {"forward"});
  EXPECT_IIS_ERROR(open_backbone("clip:" + plain, torch::kCPU),
                   "the TorchScript " + plain + " has no method encode_image");
  EXPECT_IIS_ERROR(open_backbone("clip:" + dir / "none.pt", torch::kCPU),
                   "CLIP archive " + dir / "none.pt" + " does not exist");
  EXPECT_IIS_ERROR(open_backbone("clip:", torch::kCPU), "names no file");
  std::ofstream(dir / "broken.pt") << "not a zip archive";
  EXPECT_IIS_ERROR(open_backbone("clip:" + dir / "broken.pt", torch::kCPU),
                   "cannot load CLIP archive " + dir / "broken.pt");

  // The resolution from visual.input_resolution when the top level does not record it.
  const std::string with_visual = save_module(dir, "visual.pt", {"encode_image"}, [](auto& m) {
    torch::jit::Module visual("Visual");
    visual.register_attribute("input_resolution", c10::IntType::get(), int64_t{40});
    m.register_module("visual", visual);
    m.register_attribute("context_length", c10::IntType::get(), int64_t{16});
  });
  ClipModel v(with_visual, torch::kCPU, ClipModel::Tower::Image);
  EXPECT_EQ(v.input_resolution(), 40);
  EXPECT_EQ(v.context_length(), 16);
  EXPECT_IIS_ERROR(v.encode_text(torch::zeros({2, 77}, torch::kInt64)),
                   "expects N×16 token ids, got [2, 77]");

  const std::string float_resolution = save_module(dir, "float.pt", {"encode_image"}, [](auto& m) {
    m.register_buffer("input_resolution", torch::tensor(224.0));
  });
  EXPECT_IIS_ERROR(ClipModel(float_resolution, torch::kCPU, ClipModel::Tower::Image),
                   "records input_resolution as Tensor, not an integer");
  const std::string tuple = save_module(dir, "tuple.pt", {}, [](auto& m) {
    m.define("def encode_text(self, x):\n    return (x, x)\n");
  });
  EXPECT_IIS_ERROR(ClipModel(tuple, torch::kCPU, ClipModel::Tower::Text)
                       .encode_text(torch::zeros({1, 77}, torch::kInt64)),
                   "encode_text returned Tuple, not a tensor");
}

}  // namespace
}  // namespace iis::backbone
