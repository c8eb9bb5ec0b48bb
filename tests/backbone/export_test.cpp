// scripts/export_backbone.py: an exported resnet18 (random weights, seed 0) loads in C++, gives
// torchvision's penultimate features for the same input, and carries its preprocessing YAML.
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

#include "iis/backbone/backbone.hpp"
#include "iis/image/preprocess.hpp"
#include "iis/io/npy.hpp"
#include "test_support.hpp"

namespace iis::backbone {
namespace {

int run(const std::string& command) { return std::system(command.c_str()); }

TEST(ExportBackbone, Resnet18MatchesTorchvisionAndRecordsItsPreprocessing) {
  test::TempDir dir;
  const std::string model = dir / "resnet18.ts";
  ASSERT_EQ(
      run("/usr/bin/python3 " + test::source_dir() + "/scripts/export_backbone.py resnet18 --out " +
          model + " > " + dir / "log.txt" + " 2>&1"),
      0);
  // torchvision's own resnet18 with the same seed, penultimate layer, on a fixed input.
  const std::string reference = dir / "reference.npy";
  ASSERT_EQ(run("/usr/bin/python3 -c \"import torch, torchvision, numpy; torch.manual_seed(0); "
                "m = torchvision.models.resnet18(); m.fc = torch.nn.Identity(); m.eval(); "
                "x = torch.linspace(-2, 2, 2*3*224*224).reshape(2, 3, 224, 224); "
                "numpy.save('" +
                reference + "', m(x).detach().numpy())\""),
            0);
  auto b = open_backbone(model, torch::kCPU);
  const torch::Tensor x = torch::linspace(-2, 2, 2 * 3 * 224 * 224).reshape({2, 3, 224, 224});
  const torch::Tensor f = b->embed(x);
  const torch::Tensor expected = io::load_npy(reference);
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{2, 512}));
  const double rel = ((f - expected).abs().max() / expected.abs().max()).item<double>();
  EXPECT_LT(rel, 1e-4);

  image::Preprocess p = image::preprocess_preset("none");
  image::apply_preprocess_yaml(p, b->preprocess_config(), "resnet18.yaml");
  EXPECT_EQ(p.resize_size, 256);
  EXPECT_EQ(p.crop_size, 224);
  EXPECT_EQ(p.interpolation, image::Interpolation::Bilinear);
  ASSERT_EQ(p.mean.size(), 3u);
  EXPECT_FLOAT_EQ(p.std[2], 0.225f);
}

TEST(ExportBackbone, UnknownModelAndBadWeightsFailWithAHint) {
  test::TempDir dir;
  EXPECT_NE(run("/usr/bin/python3 " + test::source_dir() +
                "/scripts/export_backbone.py alexnet --out " + dir / "a.ts" + " 2>/dev/null"),
            0);
  const std::string weights = dir / "w.pth";
  ASSERT_EQ(run("/usr/bin/python3 -c \"import torch; torch.save({'fc.weight': torch.zeros(3)}, '" +
                weights + "')\""),
            0);
  const std::string log = dir / "log.txt";
  EXPECT_NE(run("/usr/bin/python3 " + test::source_dir() +
                "/scripts/export_backbone.py resnet18 --weights " + weights + " --out " +
                dir / "r.ts" + " 2> " + log),
            0);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("do not fit ResNet"), std::string::npos) << text;
  EXPECT_NE(text.find("hint:"), std::string::npos) << text;
}

}  // namespace
}  // namespace iis::backbone
