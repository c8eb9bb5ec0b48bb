// End-to-end tests of run_pretrain on small generated IDX files and on Fashion-MNIST:
// files written, logged accuracies consistent with the checkpoints, skip, resume, determinism.
#include "iis/models/pretrain.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/models/native.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;

namespace iis::models {
namespace {

void write_be32(std::ofstream& out, uint32_t v) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 8), static_cast<char>(v)};
  out.write(bytes, 4);
}

// Writes <dir>/<split>-images-idx3-ubyte and its labels file: `n` noisy 28×28 images of
// labels 0…3 (the IDX reader still reports classes 0…9), class k a bright horizontal bar across
// rows 4+6k … 7+6k. Returns the images path.
std::string write_bars_idx(const std::string& dir, const std::string& split, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(0, 60);
  const std::string images = dir + "/" + split + "-images-idx3-ubyte";
  std::ofstream img(images, std::ios::binary),
      lab(dir + "/" + split + "-labels-idx1-ubyte", std::ios::binary);
  write_be32(img, 0x00000803);
  write_be32(img, n);
  write_be32(img, 28);
  write_be32(img, 28);
  write_be32(lab, 0x00000801);
  write_be32(lab, n);
  for (int i = 0; i < n; ++i) {
    const int label = static_cast<int>(rng() % 4);
    for (int r = 0; r < 28; ++r) {
      for (int c = 0; c < 28; ++c) {
        int v = noise(rng);
        if (r >= 4 + 6 * label && r < 8 + 6 * label) v += 150;
        img.put(static_cast<char>(v));
      }
    }
    lab.put(static_cast<char>(label));
  }
  return images;
}

class PretrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core::set_progress_mode(core::ProgressMode::Quiet);
    train_ = write_bars_idx(dir_.str(), "train", 300, 1);
    val_ = write_bars_idx(dir_.str(), "t10k", 100, 2);
  }
  PretrainOptions options(const std::string& out_name, const std::string& arch = "mlp") {
    PretrainOptions o;
    o.arch = arch;
    o.data = train_;
    o.val_data = val_;
    o.out = dir_ / out_name;
    o.epochs = 2;
    o.batch_size = 32;
    o.seed = 7;
    return o;
  }
  test::TempDir dir_;
  std::string train_, val_;
};

// Accuracy of a checkpoint on the validation file, computed independently of run_pretrain.
double checkpoint_accuracy(const std::string& checkpoint, const std::string& val_images) {
  auto model = load_native_checkpoint(checkpoint);
  std::ifstream img(val_images, std::ios::binary);
  std::ifstream lab(fs::path(val_images).parent_path() / "t10k-labels-idx1-ubyte",
                    std::ios::binary);
  img.seekg(16);
  lab.seekg(8);
  std::vector<uint8_t> pixels(100 * 28 * 28), labels(100);
  img.read(reinterpret_cast<char*>(pixels.data()), pixels.size());
  lab.read(reinterpret_cast<char*>(labels.data()), labels.size());
  auto x = torch::from_blob(pixels.data(), {100, 1, 28, 28}, torch::kUInt8).clone();
  auto y = torch::from_blob(labels.data(), {100}, torch::kUInt8).to(torch::kInt64);
  torch::NoGradGuard no_grad;
  auto predicted = model->forward(model->preprocessing().normalize(x)).argmax(1);
  return predicted.eq(y).to(torch::kFloat64).mean().item<double>();
}

torch::Tensor outputs_of(const std::string& checkpoint) {
  auto model = load_native_checkpoint(checkpoint);
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(11);
  return model->forward(at::randn({6, 1, 28, 28}, gen));
}

TEST_F(PretrainTest, WritesCheckpointsAndALogConsistentWithThem) {
  auto o = options("run");
  auto result = run_pretrain(o);
  ASSERT_EQ(result.epochs.size(), 3u);
  EXPECT_EQ(result.epochs_trained, 2);
  EXPECT_EQ(result.num_classes, 10);  // IDX files always have at least the digits 0…9
  EXPECT_EQ(result.train_size, 300);
  EXPECT_EQ(result.checkpoint, o.out + "/epoch_2.pt");
  for (const char* name : {"epoch_0.pt", "epoch_1.pt", "epoch_2.pt", "last.pt", "log.json"}) {
    EXPECT_TRUE(fs::exists(o.out + "/" + name)) << name;
  }
  auto log = nlohmann::json::parse(core::read_text(o.out + "/log.json"));
  ASSERT_EQ(log["epochs"].size(), 3u);
  EXPECT_TRUE(log["epochs"][0]["train_loss"].is_null());
  EXPECT_EQ(log["arch"], "mlp");
  for (const auto& e : result.epochs) {
    // The logged validation accuracy is the checkpoint's, recomputed here.
    EXPECT_NEAR(e.val_accuracy, checkpoint_accuracy(e.checkpoint, val_), 1e-9) << e.epoch;
    if (e.epoch > 0) {
      EXPECT_GE(e.train_accuracy, 0.0);
      EXPECT_LE(e.train_accuracy, 1.0);
      EXPECT_GT(e.train_loss, 0.0);
    }
  }
  // The bars are easy: chance is 0.25 among the four labels used, two epochs learn them.
  EXPECT_LT(result.epochs[0].val_accuracy, 0.6);
  EXPECT_GT(result.epochs[2].val_accuracy, 0.9);
  EXPECT_LT(result.epochs[2].train_loss, result.epochs[1].train_loss);
  // last.pt is a plain native checkpoint of the last epoch.
  EXPECT_TRUE(torch::equal(outputs_of(o.out + "/last.pt"), outputs_of(result.checkpoint)));
}

TEST_F(PretrainTest, ASecondRunTrainsNothingAndFewerEpochsReuseTheirCheckpoint) {
  auto o = options("run");
  run_pretrain(o);
  const auto before = core::fingerprint_file(o.out + "/epoch_2.pt");
  auto again = run_pretrain(o);
  EXPECT_EQ(again.epochs_trained, 0);
  EXPECT_EQ(again.epochs.size(), 3u);
  EXPECT_EQ(core::fingerprint_file(o.out + "/epoch_2.pt"), before);
  o.epochs = 1;
  auto fewer = run_pretrain(o);
  EXPECT_EQ(fewer.epochs_trained, 0);
  EXPECT_EQ(fewer.checkpoint, o.out + "/epoch_1.pt");
  EXPECT_EQ(fewer.epochs.size(), 2u);
}

TEST_F(PretrainTest, ResumingGivesTheWeightsOfAnUninterruptedRun) {
  // resnet8-w8: batch-norm statistics and Adam's moments must both survive the resume.
  auto straight = options("straight", "resnet8-w8");
  run_pretrain(straight);
  auto resumed = options("resumed", "resnet8-w8");
  resumed.epochs = 1;
  run_pretrain(resumed);
  resumed.epochs = 2;
  auto result = run_pretrain(resumed);
  EXPECT_EQ(result.epochs_trained, 1);
  EXPECT_TRUE(torch::equal(outputs_of(straight.out + "/epoch_2.pt"),
                           outputs_of(resumed.out + "/epoch_2.pt")));
  EXPECT_DOUBLE_EQ(
      result.epochs[2].train_loss,
      nlohmann::json::parse(core::read_text(straight.out + "/log.json"))["epochs"][2]["train_loss"]
          .get<double>());
}

TEST_F(PretrainTest, TheSeedDecidesTheWeights) {
  auto a = options("a"), b = options("b"), c = options("c");
  a.epochs = b.epochs = c.epochs = 1;
  c.seed = 8;
  run_pretrain(a);
  run_pretrain(b);
  run_pretrain(c);
  EXPECT_TRUE(torch::equal(outputs_of(a.out + "/epoch_1.pt"), outputs_of(b.out + "/epoch_1.pt")));
  EXPECT_FALSE(torch::equal(outputs_of(a.out + "/epoch_0.pt"), outputs_of(c.out + "/epoch_0.pt")));
}

TEST_F(PretrainTest, AFolderOfAnotherRunIsRefusedUnlessForced) {
  auto o = options("run");
  o.epochs = 1;
  run_pretrain(o);
  o.seed = 9;
  o.lr = 2e-3;
  EXPECT_IIS_ERROR(run_pretrain(o), "other options (lr, seed)");
  o.force = true;
  auto result = run_pretrain(o);
  EXPECT_EQ(result.epochs_trained, 1);
  auto log = nlohmann::json::parse(core::read_text(o.out + "/log.json"));
  EXPECT_EQ(log["options"]["seed"], 9);
}

TEST_F(PretrainTest, TrainLimitTakesASeededSubset) {
  auto o = options("limited");
  o.train_limit = 50;
  o.epochs = 1;
  auto result = run_pretrain(o);
  EXPECT_EQ(result.train_size, 50);
}

TEST_F(PretrainTest, EpochsZeroKeepsTheSeededInitialModel) {
  auto o = options("untrained", "cnn2");
  o.epochs = 0;
  auto result = run_pretrain(o);
  ASSERT_EQ(result.epochs.size(), 1u);
  EXPECT_EQ(result.checkpoint, o.out + "/epoch_0.pt");
  auto model = make_native_model("cnn2", 10, o.seed);
  model->eval();
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(11);
  EXPECT_TRUE(
      torch::equal(model->forward(at::randn({6, 1, 28, 28}, gen)), outputs_of(result.checkpoint)));
}

TEST_F(PretrainTest, BadOptionsNameTheFlag) {
  auto o = options("bad");
  o.arch = "vgg";
  EXPECT_IIS_ERROR(run_pretrain(o), "--arch: unknown architecture 'vgg'");
  o = options("bad");
  o.epochs = -1;
  EXPECT_IIS_ERROR(run_pretrain(o), "--epochs must be in 0…1000");
  o = options("bad");
  o.lr = 0;
  EXPECT_IIS_ERROR(run_pretrain(o), "--lr must be in (0, 10]");
  o = options("bad");
  o.batch_size = 0;
  EXPECT_IIS_ERROR(run_pretrain(o), "--batch-size");
  o = options("bad");
  o.data = dir_ / "missing-images-idx3-ubyte";
  EXPECT_IIS_ERROR(run_pretrain(o), "--data");
  o = options("bad");
  o.device = "tpu:0";
  EXPECT_IIS_ERROR(run_pretrain(o), "--device");
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
}

TEST(PretrainFashionMnist, AFewHundredImagesForOneEpochBeatChance) {
  IIS_NEEDS_FASHION_MNIST();
  core::set_progress_mode(core::ProgressMode::Quiet);
  test::TempDir dir;
  PretrainOptions o;
  o.arch = "mlp";
  o.data = test::fashion_mnist_file("train-images-idx3-ubyte.gz");
  o.val_data = test::fashion_mnist_file("t10k-images-idx3-ubyte.gz");
  o.out = dir / "fmnist";
  o.epochs = 1;
  o.train_limit = 500;
  o.batch_size = 32;
  auto result = run_pretrain(o);
  EXPECT_EQ(result.num_classes, 10);
  EXPECT_EQ(result.train_size, 500);
  // Ten classes: chance 0.1; 16 Adam steps on 500 images reach well above it.
  EXPECT_LT(result.epochs[0].val_accuracy, 0.3);
  EXPECT_GT(result.epochs[1].val_accuracy, 0.5);
}

}  // namespace
}  // namespace iis::models
