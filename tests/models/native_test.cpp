// Tests of the native architectures: shapes, seeding, checkpoints, trainability, preprocessing.
#include "iis/models/native.hpp"

#include <fstream>

#include "iis/core/error.hpp"
#include "test_support.hpp"

namespace iis::models {
namespace {

// B×1×28×28 normalised-looking input drawn from `seed`.
torch::Tensor random_batch(int64_t batch, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::randn({batch, 1, 28, 28}, gen);
}

class EveryArchitecture : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryArchitecture, ShapesOfFeaturesAndLogits) {
  auto model = make_native_model(GetParam(), /*num_classes=*/7, /*seed=*/1);
  model->eval();
  torch::NoGradGuard no_grad;
  auto x = random_batch(5, 0);
  auto features = model->features(x);
  auto logits = model->forward(x);
  EXPECT_EQ(features.sizes(), (std::vector<int64_t>{5, model->feature_dim()}));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(model->arch(), GetParam());
  EXPECT_EQ(model->num_classes(), 7);
  EXPECT_EQ(model->in_channels(), 1);
  EXPECT_EQ(model->input_size(), 28);
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
  // Different images give different representations (the model is not constant).
  EXPECT_GT((features[0] - features[1]).abs().max().item<float>(), 1e-6);
}

TEST_P(EveryArchitecture, SameSeedSameWeightsOtherSeedOther) {
  auto a = make_native_model(GetParam(), 10, /*seed=*/3);
  auto b = make_native_model(GetParam(), 10, /*seed=*/3);
  auto c = make_native_model(GetParam(), 10, /*seed=*/4);
  auto pa = a->parameters(), pb = b->parameters(), pc = c->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  bool any_differs = false;
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
    if (!torch::equal(pa[i], pc[i])) any_differs = true;
  }
  EXPECT_TRUE(any_differs);
}

TEST_P(EveryArchitecture, CheckpointRoundTripGivesIdenticalOutputs) {
  test::TempDir dir;
  auto model = make_native_model(GetParam(), 10, /*seed=*/5);
  // A training step moves the weights and the batch-norm statistics away from their start.
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.1));
  model->train();
  auto x = random_batch(8, 1);
  auto loss = torch::cross_entropy_loss(model->forward(x), torch::arange(8) % 10);
  opt.zero_grad();
  loss.backward();
  opt.step();
  model->eval();
  save_native_checkpoint(dir / "m.pt", *model);
  auto loaded = load_native_checkpoint(dir / "m.pt");
  EXPECT_EQ(loaded->arch(), GetParam());
  EXPECT_EQ(loaded->num_classes(), 10);
  torch::NoGradGuard no_grad;
  auto y = random_batch(4, 2);
  EXPECT_TRUE(torch::equal(model->forward(y), loaded->forward(y)));
  EXPECT_TRUE(torch::equal(model->features(y), loaded->features(y)));
  // A fresh model of the same seed differs: the load really replaced its weights.
  auto fresh = make_native_model(GetParam(), 10, /*seed=*/0);
  fresh->eval();
  EXPECT_FALSE(torch::equal(fresh->forward(y), loaded->forward(y)));
}

TEST_P(EveryArchitecture, AFewStepsOfTrainingReduceTheLoss) {
  auto model = make_native_model(GetParam(), 4, /*seed=*/2);
  model->train();
  auto x = random_batch(16, 3);
  auto y = torch::arange(16) % 4;
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-2));
  float first = 0, last = 0;
  for (int step = 0; step < 15; ++step) {
    auto loss = torch::cross_entropy_loss(model->forward(x), y);
    if (step == 0) first = loss.item<float>();
    last = loss.item<float>();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  EXPECT_LT(last, 0.5f * first) << "first loss " << first << ", last " << last;
}

INSTANTIATE_TEST_SUITE_P(Native, EveryArchitecture, ::testing::ValuesIn(native_architectures()),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (auto& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST(NativeModels, ArchitecturesIncludeTheDocumentedFamily) {
  auto names = native_architectures();
  for (const char* expected : {"mlp", "cnn2", "resnet8-w8", "resnet8-w16", "resnet8-w32"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

TEST(NativeModels, ResNetWidthSetsTheRepresentationSize) {
  EXPECT_EQ(make_native_model("resnet8-w8", 10, 0)->feature_dim(), 32);
  EXPECT_EQ(make_native_model("resnet8-w32", 10, 0)->feature_dim(), 128);
}

TEST(NativeModels, UnknownArchitectureNamesTheValidOnes) {
  try {
    make_native_model("resnet50", 10, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("resnet50"), std::string::npos);
    for (const auto& name : native_architectures()) {
      EXPECT_NE(e.hint().find(name), std::string::npos) << e.hint();
    }
  }
  EXPECT_IIS_ERROR(make_native_model("mlp", 1, 0), "at least 2 classes");
}

TEST(NativeModels, WrongInputShapeIsAnError) {
  auto model = make_native_model("cnn2", 10, 0);
  EXPECT_IIS_ERROR(model->forward(torch::zeros({2, 3, 28, 28})), "B×1×28×28");
  EXPECT_IIS_ERROR(model->forward(torch::zeros({2, 1, 32, 32})), "[2, 1, 32, 32]");
}

TEST(NativeModels, MakingAModelLeavesTheGlobalRandomStreamAlone) {
  torch::manual_seed(123);
  auto expected = torch::rand({4});
  torch::manual_seed(123);
  make_native_model("resnet8-w8", 10, 9);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected));
}

TEST(NativeModels, LoadingSomethingElseIsAnError) {
  test::TempDir dir;
  std::ofstream(dir / "junk.pt") << "not a checkpoint";
  EXPECT_IIS_ERROR(load_native_checkpoint(dir / "junk.pt"), "junk.pt");
  torch::serialize::OutputArchive other;
  other.write("weights", torch::ones({2}));
  other.save_to(dir / "other.pt");
  EXPECT_IIS_ERROR(load_native_checkpoint(dir / "other.pt"), "not a native iis checkpoint");
  EXPECT_IIS_ERROR(load_native_checkpoint(dir / "missing.pt"), "missing.pt");
}

TEST(NativePreprocessing, NormalizeScalesAndStandardises) {
  NativePreprocessing p;
  auto images = torch::tensor({0, 255, 73}, torch::kUInt8).repeat({28 * 28 / 3 + 1});
  images = images.narrow(0, 0, 28 * 28).reshape({1, 1, 28, 28});
  auto x = p.normalize(images);
  EXPECT_EQ(x.scalar_type(), torch::kFloat32);
  EXPECT_NEAR(x[0][0][0][0].item<float>(), -0.2860 / 0.3530, 1e-5);
  EXPECT_NEAR(x[0][0][0][1].item<float>(), (1 - 0.2860) / 0.3530, 1e-5);
  EXPECT_NEAR(x[0][0][0][2].item<float>(), (73 / 255.0 - 0.2860) / 0.3530, 1e-5);
  EXPECT_IIS_ERROR(p.normalize(torch::zeros({1, 1, 28, 28})), "uint8");
  EXPECT_IIS_ERROR(p.normalize(torch::zeros({1, 3, 28, 28}, torch::kUInt8)), "B×1×28×28");
}

TEST(NativePreprocessing, FitImageMakesGreySquaresOfTheModelSize) {
  NativePreprocessing p;
  // RGB (10, 200, 30) → luma 0.299·10 + 0.587·200 + 0.114·30 = 123.8.
  cv::Mat rgb(28, 28, CV_8UC3, cv::Scalar(10, 200, 30));
  cv::Mat grey = p.fit_image(rgb);
  ASSERT_EQ(grey.type(), CV_8UC1);
  ASSERT_EQ(grey.rows, 28);
  ASSERT_EQ(grey.cols, 28);
  EXPECT_NEAR(grey.at<uint8_t>(5, 5), 124, 1);
  // A 56×84 image: the centre 56×56 square is kept and halved; left and right thirds dropped.
  cv::Mat wide(56, 84, CV_8UC1, cv::Scalar(0));
  wide(cv::Rect(14, 0, 56, 56)).setTo(200);
  cv::Mat fitted = p.fit_image(wide);
  ASSERT_EQ(fitted.rows, 28);
  ASSERT_EQ(fitted.cols, 28);
  EXPECT_EQ(cv::countNonZero(fitted != 200), 0);
  EXPECT_NE(p.to_yaml().find("val_crop_size: 28"), std::string::npos);
  EXPECT_NE(p.to_yaml().find("mean: [0.286]"), std::string::npos);
}

}  // namespace
}  // namespace iis::models
