// Backbones: pooling by output rank on small TorchScript modules built here, NaN and rank
// errors, load errors naming the file, the YAML beside the model, native specs.
#include "iis/backbone/backbone.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include <fstream>

#include "iis/models/native.hpp"
#include "test_support.hpp"

namespace iis::backbone {
namespace {

// Saves a TorchScript module whose forward is `body` (a TorchScript expression of x).
std::string save_module(const test::TempDir& dir, const std::string& name,
                        const std::string& body) {
  torch::jit::Module m("Net");
  m.define("def forward(self, x):\n    return " + body + "\n");
  const std::string path = dir / (name + ".ts");
  m.save(path);
  return path;
}

torch::Tensor images() {
  torch::manual_seed(3);
  return torch::rand({2, 3, 4, 5});
}

TEST(Pooling, Rank4IsMeanOverHeightAndWidth) {
  test::TempDir dir;
  auto b = open_backbone(save_module(dir, "r4", "x * 2.0"), torch::kCPU);
  const torch::Tensor x = images();
  const torch::Tensor f = b->embed(x);
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(torch::allclose(f, (x * 2).mean({2, 3})));
  // Hand check of one value.
  EXPECT_NEAR(f[1][2].item<float>(), 2 * x[1][2].sum().item<float>() / 20, 1e-5);
}

TEST(Pooling, Rank3TakesTokenZero) {
  test::TempDir dir;
  // B×C×H×W → B×(H·W)×C: token 0 is pixel (0, 0).
  auto b = open_backbone(save_module(dir, "r3", "x.flatten(2).transpose(1, 2) + 1.0"), torch::kCPU);
  const torch::Tensor x = images();
  const torch::Tensor f = b->embed(x);
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(torch::allclose(f, x.select(3, 0).select(2, 0) + 1));
}

TEST(Pooling, Rank2IsUsedAsIs) {
  test::TempDir dir;
  auto b = open_backbone(save_module(dir, "r2", "x.sum([2, 3]).double()"), torch::kCPU);
  const torch::Tensor x = images();
  const torch::Tensor f = b->embed(x);
  EXPECT_EQ(f.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(f, x.sum({2, 3})));
}

TEST(Pooling, OtherRanksNaNAndNonTensorsAreErrors) {
  test::TempDir dir;
  EXPECT_IIS_ERROR(
      open_backbone(save_module(dir, "r1", "x.sum([1, 2, 3])"), torch::kCPU)->embed(images()),
      "(rank 1); expected B×C×H×W");
  EXPECT_IIS_ERROR(
      open_backbone(save_module(dir, "r5", "x.unsqueeze(0)"), torch::kCPU)->embed(images()),
      "(rank 5)");
  EXPECT_IIS_ERROR(open_backbone(save_module(dir, "nan", "x.sum([2, 3]) * 0.0 / 0.0"), torch::kCPU)
                       ->embed(images()),
                   "produced NaN or infinite features (row 0 of a batch of 2)");
  EXPECT_IIS_ERROR(open_backbone(save_module(dir, "tuple", "(x, x)"), torch::kCPU)->embed(images()),
                   "returned Tuple, not a tensor");
  // Only the second row is bad.
  torch::Tensor out = torch::ones({3, 4});
  out[2][1] = std::numeric_limits<float>::infinity();
  EXPECT_IIS_ERROR(pool_representation(out, "m"), "(row 2 of a batch of 3)");
}

TEST(Loading, BadFilesNameTheFileAndLibTorchsMessage) {
  test::TempDir dir;
  const std::string bad = dir / "broken.ts";
  std::ofstream(bad) << "this is not a zip archive";
  const std::string what = test::error_of([&] { open_backbone(bad, torch::kCPU); });
  EXPECT_NE(what.find("cannot load TorchScript backbone " + bad + ": "), std::string::npos) << what;
  // One line: LibTorch's backtrace is cut.
  EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  EXPECT_GT(what.size(), std::string("cannot load TorchScript backbone " + bad + ": ").size());
  EXPECT_IIS_ERROR(open_backbone(dir / "missing.ts", torch::kCPU), "missing.ts does not exist");
  EXPECT_IIS_ERROR(open_backbone("", torch::kCPU), "no backbone given");
}

TEST(Loading, AModelThatRaisesShowsItsOwnMessage) {
  test::TempDir dir;
  torch::jit::Module m("Net");
  // An operation inside the model fails (what an exception raised in its code also gives).
  m.define(
      "def forward(self, x):\n"
      "    return torch.matmul(x.flatten(1), torch.zeros([5, 5]))\n");
  const std::string path = dir / "raises.ts";
  m.save(path);
  auto backbone = open_backbone(path, torch::kCPU);
  const std::string what = test::error_of([&] { backbone->embed(images()); });
  EXPECT_NE(what.find("the TorchScript model raised: "), std::string::npos) << what;
  EXPECT_NE(what.find("RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x60 and 5x5)"),
            std::string::npos)
      << what;
  EXPECT_NE(what.find("line 2, in forward"), std::string::npos) << what;
  EXPECT_EQ(what.find("The following operation failed"), std::string::npos) << what;
  EXPECT_EQ(what.find('\n'), std::string::npos) << what;
}

TEST(Loading, YamlBesideTheModelIsItsPreprocessing) {
  test::TempDir dir;
  const std::string path = save_module(dir, "m", "x");
  EXPECT_EQ(open_backbone(path, torch::kCPU)->preprocess_config(), "");
  std::ofstream(dir / "m.yaml") << "val_resize_size: 232\n";
  auto b = open_backbone(path, torch::kCPU);
  EXPECT_EQ(b->preprocess_config(), "val_resize_size: 232\n");
  EXPECT_EQ(b->name(), path);
}

TEST(Native, UntrainedAndCheckpointSpecs) {
  test::TempDir dir;
  auto b = open_backbone("native:mlp", torch::kCPU);
  auto model = models::make_native_model("mlp", 10, 0);
  const torch::Tensor x = torch::rand({3, 1, 28, 28});
  const torch::Tensor f = b->embed(x);
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{3, model->feature_dim()}));
  model->eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(f, model->features(x)));  // seed 0, as the spec says
  EXPECT_NE(b->preprocess_config().find("channels: 1"), std::string::npos);

  auto trained = models::make_native_model("cnn2", 10, 7);
  const std::string ckpt = dir / "cnn2.pt";
  models::save_native_checkpoint(ckpt, *trained);
  auto c = open_backbone("native:cnn2@" + ckpt, torch::kCPU);
  trained->eval();
  EXPECT_TRUE(torch::allclose(c->embed(x), trained->features(x), 1e-5, 1e-6));
  EXPECT_IIS_ERROR(open_backbone("native:mlp@" + ckpt, torch::kCPU), "holds a cnn2, not a mlp");
  EXPECT_IIS_ERROR(open_backbone("native:cnn2@" + dir / "none.pt", torch::kCPU),
                   "none.pt of backbone native:cnn2@");
  EXPECT_IIS_ERROR(open_backbone("native:", torch::kCPU), "names no architecture");
}

}  // namespace
}  // namespace iis::backbone
