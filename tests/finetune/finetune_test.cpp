// iis finetune: the combined loss's gradient against an independent computation and finite
// differences, λ = 0 against plain cross-entropy fine-tuning, TorchScript and native round
// trips through `iis embed`, resuming, and the errors of bad input.
#include "iis/finetune/finetune.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "iis/backbone/backbone.hpp"
#include "iis/core/progress.hpp"
#include "iis/elements/elements.hpp"
#include "iis/embed/embed.hpp"
#include "iis/finetune/images.hpp"
#include "iis/finetune/loss.hpp"
#include "iis/finetune/trainable.hpp"
#include "iis/io/npy.hpp"
#include "iis/models/native.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;

namespace iis::finetune {
namespace {

constexpr const char* kYaml =
    "preset: none\nval_resize_size: 0\nval_crop_size: 8\nchannels: 1\nmean: [0.5]\nstd: [0.25]\n";

// An ImageFolder of `classes` classes × `per_class` 8×8 RGB images whose brightness pattern
// depends on the class, so that a classifier can learn something.
std::string make_images(const test::TempDir& dir, const std::string& name, int classes,
                        int per_class, int seed) {
  const std::string root = dir / name;
  cv::RNG rng(seed);
  for (int c = 0; c < classes; ++c) {
    fs::create_directories(fs::path(root) / ("class" + std::to_string(c)));
    for (int i = 0; i < per_class; ++i) {
      cv::Mat image(8, 8, CV_8UC3);
      rng.fill(image, cv::RNG::UNIFORM, 0, 120);
      image.rowRange(2 * c, 2 * c + 3) += cv::Scalar(120, 120, 120);
      cv::imwrite(
          (fs::path(root) / ("class" + std::to_string(c)) / ("img" + std::to_string(i) + ".png"))
              .string(),
          image);
    }
  }
  return root;
}

// Grid patches (2×2, resized back to 8×8) of the first 2 images per class: 4 per image.
std::string make_elements(const std::string& data, const std::string& out) {
  elements::ElementsOptions o;
  o.data = data;
  o.out = out;
  o.kind = elements::ElementKind::Patches;
  o.images_per_class = 2;
  o.grid = 2;
  o.patch_size = 8;
  elements::run_elements(o);
  return out;
}

// A TorchScript backbone: tanh(flatten(x) W + b), width `width`, with the YAML beside it.
std::string make_script(const test::TempDir& dir, const std::string& name, int64_t width) {
  torch::manual_seed(7);
  torch::jit::Module m("Tiny");
  m.register_parameter("w", torch::randn({64, width}) * 0.2, /*is_buffer=*/false);
  m.register_parameter("b", torch::zeros({width}), /*is_buffer=*/false);
  m.define("def forward(self, x):\n    return torch.tanh(x.flatten(1).matmul(self.w) + self.b)\n");
  const std::string path = dir / (name + ".ts");
  m.save(path);
  core::write_text_atomic(dir / (name + ".yaml"), kYaml);
  return path;
}

struct Fixture {
  test::TempDir dir;
  std::string data, val, elements, script;
  Fixture() {
    core::set_progress_mode(core::ProgressMode::Quiet);
    data = make_images(dir, "train", 3, 8, 1);
    val = make_images(dir, "val", 3, 4, 2);
    elements = make_elements(data, dir / "elements");
    script = make_script(dir, "tiny", 5);
  }
  FinetuneOptions options(const std::string& out) const {
    FinetuneOptions o;
    o.backbone = script;
    o.data = data;
    o.val_data = val;
    o.elements = elements;
    o.out = dir / out;
    o.num_concepts = 6;
    o.epochs = 2;
    o.lr = 1e-2;
    o.head_lr = 1e-2;
    o.batch_size = 5;
    o.head_epochs = 3;
    return o;
  }
};

std::vector<torch::Tensor> script_parameters(const std::string& path) {
  auto module = torch::jit::load(path);
  std::vector<torch::Tensor> out;
  for (const auto& p : module.parameters()) out.push_back(p.detach().clone());
  return out;
}

bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The loss written out independently: LayerNorm by its definition, the threshold by sorting,
// cross-entropy as −log softmax at the label.
torch::Tensor reference_loss(const torch::Tensor& z, const torch::Tensor& p, const FinetuneHeads& h,
                             const torch::Tensor& labels, int64_t position, double lambda) {
  auto ce = [&](const torch::Tensor& logits) {
    const auto log_p = logits - logits.exp().sum(1, true).log();
    return -log_p.gather(1, labels.unsqueeze(1)).mean();
  };
  const auto standard = ce(z.matmul(h.standard_weight.t()) + h.standard_bias);
  const auto a = z.matmul(p.t());
  const auto mean = a.mean(1, true);
  const auto var = (a - mean).pow(2).mean(1, true);
  const auto y = (a - mean) / (var + 1e-5).sqrt() * h.gamma + h.beta;
  const auto t = std::get<0>(y.detach().abs().sort(1)).select(1, position).unsqueeze(1);
  const auto kept = torch::where(y.detach().abs() > t, y, torch::zeros_like(y));
  return standard + lambda * ce(kept.matmul(h.weight.t()) + h.bias);
}

struct GradCase {
  torch::Tensor w, x, elements, labels;
  FinetuneHeads heads;
  int64_t position = 3;
};

GradCase grad_case() {
  torch::manual_seed(11);
  const auto d = torch::kFloat64;
  GradCase g;
  g.w = (torch::randn({4, 5}, d) * 0.7).requires_grad_(true);
  g.x = torch::randn({9, 4}, d);
  g.elements = torch::randn({6, 4}, d);
  g.labels = torch::randint(0, 3, {9}, torch::kInt64);
  auto leaf = [&](torch::Tensor t) { return t.to(d).requires_grad_(true); };
  g.heads = {leaf(torch::randn({3, 5})),   leaf(torch::randn({3})),
             leaf(torch::rand({6}) + 0.5), leaf(torch::randn({6}) * 0.1),
             leaf(torch::randn({3, 6})),   leaf(torch::randn({3}))};
  return g;
}

// The loss of the tiny backbone z = tanh(x W) with concepts from the same backbone (the
// --concept-grad path): unit rows of tanh(E W).
torch::Tensor library_loss(const GradCase& g, const torch::Tensor& w) {
  const auto z = torch::tanh(g.x.matmul(w));
  const auto e = torch::tanh(g.elements.matmul(w));
  const auto p = e / e.norm(2, 1, true);
  return combined_loss(z, p, g.heads, g.labels, g.position, 0.7).total;
}

TEST(CombinedLoss, GradientMatchesAnIndependentComputationAndFiniteDifferences) {
  GradCase g = grad_case();
  library_loss(g, g.w).backward();
  const auto grad_w = g.w.grad().clone();
  std::vector<torch::Tensor> grad_heads;
  for (auto& t : g.heads.standard()) grad_heads.push_back(t.grad().clone());
  for (auto& t : g.heads.interpretable()) grad_heads.push_back(t.grad().clone());

  // Independent formula, autograd.
  auto w2 = g.w.detach().clone().requires_grad_(true);
  FinetuneHeads h2 = trainable_copy(g.heads, torch::kCPU);
  const auto z = torch::tanh(g.x.matmul(w2));
  const auto e = torch::tanh(g.elements.matmul(w2));
  const auto loss = reference_loss(z, e / e.norm(2, 1, true), h2, g.labels, g.position, 0.7);
  loss.backward();
  EXPECT_TRUE(torch::allclose(grad_w, w2.grad(), 1e-10, 1e-12));
  std::vector<torch::Tensor> ref_heads;
  for (auto& t : h2.standard()) ref_heads.push_back(t.grad());
  for (auto& t : h2.interpretable()) ref_heads.push_back(t.grad());
  for (size_t i = 0; i < ref_heads.size(); ++i) {
    EXPECT_TRUE(torch::allclose(grad_heads[i], ref_heads[i], 1e-10, 1e-12)) << "head tensor " << i;
  }
  // Central differences on every entry of W (the mask does not flip at this step size).
  torch::NoGradGuard no_grad;
  const double h = 1e-6;
  for (int64_t i = 0; i < g.w.numel(); ++i) {
    auto plus = g.w.detach().clone(), minus = g.w.detach().clone();
    plus.view(-1)[i] += h;
    minus.view(-1)[i] -= h;
    const double numeric =
        (library_loss(g, plus).item<double>() - library_loss(g, minus).item<double>()) / (2 * h);
    EXPECT_NEAR(grad_w.view(-1)[i].item<double>(), numeric, 1e-6) << "W entry " << i;
  }
}

TEST(CombinedLoss, LambdaZeroIsTheStandardLossAndLeavesTheInterpretableHeadWithoutGradient) {
  GradCase g = grad_case();
  const auto z = torch::tanh(g.x.matmul(g.w));
  const auto p = z.detach().narrow(0, 0, 6);
  const StepLoss loss = combined_loss(z, p, g.heads, g.labels, g.position, 0.0);
  EXPECT_TRUE(torch::equal(loss.total, loss.standard));
  EXPECT_GT(loss.interpretable.item<double>(), 0);
  loss.total.backward();
  EXPECT_FALSE(g.heads.weight.grad().defined());
  EXPECT_TRUE(g.heads.standard_weight.grad().defined());
}

// ---------------------------------------------------------------------------------------------
// Plain cross-entropy fine-tuning written here: the same batches and Adam, the standard head only.
std::vector<torch::Tensor> plain_cross_entropy(const Fixture& s, const FinetuneOptions& o,
                                               torch::Tensor& standard_weight) {
  auto backbone = open_trainable_backbone(o.backbone, torch::kCPU);
  const auto prep = embed::resolve_preprocess({}, backbone->preprocess_yaml(), o.backbone);
  const ImageSplit train = load_image_split(s.data, prep, 0, "--data");
  FinetuneHeads heads = fresh_heads(3, 5, o.num_concepts, o.seed, torch::kCPU);
  auto adam = [](std::vector<torch::Tensor> params, double lr) {
    return torch::optim::Adam(params, torch::optim::AdamOptions(lr).betas({0.9, 0.999}).eps(1e-8));
  };
  auto backbone_adam = adam(backbone->parameters(), o.lr);
  auto heads_adam = adam(heads.standard(), o.head_lr);
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto order = torch::tensor(batch_order(train.size(), o.seed, epoch), torch::kInt64);
    for (int64_t begin = 0; begin < train.size(); begin += o.batch_size) {
      const auto index = order.narrow(0, begin, std::min(o.batch_size, train.size() - begin));
      backbone->train(true);
      const auto z = backbone->features(model_input(train, index, torch::kCPU));
      const auto loss =
          torch::cross_entropy_loss(torch::linear(z, heads.standard_weight, heads.standard_bias),
                                    train.labels.index_select(0, index));
      backbone_adam.zero_grad();
      heads_adam.zero_grad();
      loss.backward();
      backbone_adam.step();
      heads_adam.step();
    }
  }
  standard_weight = heads.standard_weight.detach();
  return backbone->parameters();
}

TEST(Finetune, LambdaZeroGivesTheWeightsOfPlainCrossEntropyFineTuning) {
  // TorchScript's executor re-optimises a graph after it has run a few times; the fine-tuning
  // runs the backbone more often (on the elements), so both run it unoptimised here.
  torch::jit::setGraphExecutorOptimize(false);
  Fixture s;
  FinetuneOptions o = s.options("control");
  o.lambda = 0;
  o.head_init = "fresh";
  const FinetuneResult r = run_finetune(o);
  torch::Tensor standard_weight;
  const auto expected = plain_cross_entropy(s, o, standard_weight);
  EXPECT_TRUE(all_equal(script_parameters(r.backbone), expected))
      << (script_parameters(r.backbone)[0] - expected[0]).abs().max();
  const auto saved = io::load_npy(o.out + "/heads/standard_weight.npy");
  EXPECT_TRUE(torch::equal(saved, standard_weight));
  // With the term the same seed and steps give other weights.
  FinetuneOptions with_term = o;
  with_term.lambda = 1;
  with_term.out = s.dir / "with_term";
  EXPECT_FALSE(all_equal(script_parameters(run_finetune(with_term).backbone), expected));
}

TEST(Finetune, TorchScriptRoundTripsThroughEmbed) {
  Fixture s;
  FinetuneOptions o = s.options("ts");
  o.epochs = 1;
  const FinetuneResult r = run_finetune(o);
  EXPECT_EQ(r.backbone, o.out + "/backbone.ts");
  EXPECT_EQ(core::read_text(o.out + "/backbone.yaml"), kYaml);
  auto embed_with = [&](const std::string& backbone, const std::string& prefix) {
    embed::EmbedOptions e;
    e.backbone = backbone;
    e.data = s.val;
    e.out = s.dir / prefix;
    embed::run_embed(e);
    return io::load_npy(e.out + ".features.npy");
  };
  const auto before = embed_with(s.script, "before");
  const auto after = embed_with(r.spec, "after");
  ASSERT_EQ(before.sizes(), after.sizes());
  EXPECT_GT((before - after).abs().max().item<double>(), 1e-4);
  // What the fine-tuned backbone computes is what embed wrote.
  auto module = open_trainable_backbone(r.spec, torch::kCPU);
  module->train(false);
  torch::NoGradGuard no_grad;
  const ImageSplit val =
      load_image_split(s.val, embed::resolve_preprocess({}, kYaml, r.spec), 0, "--val-data");
  const auto direct = module->features(model_input(val, torch::arange(val.size()), torch::kCPU));
  EXPECT_TRUE(torch::allclose(direct, after, 1e-5, 1e-6))
      << direct.sizes() << after.sizes() << (direct - after).abs().max();
  const auto summary = nlohmann::json::parse(core::read_text(o.out + "/finetune.json"));
  EXPECT_EQ(summary.at("steps_per_epoch").get<int64_t>(), 5);  // 24 images, batches of 5
}

TEST(Finetune, ResumedNativeRunEqualsAnUninterruptedOne) {
  Fixture s;
  FinetuneOptions o = s.options("whole");
  o.backbone = "native:resnet8-w8";  // batch norm: its running statistics must resume too
  o.concept_type = "cluster";
  o.concept_refresh = 3;  // 5 steps an epoch: the concepts in use carry over the boundary
  o.lr = 1e-3;
  const FinetuneResult whole = run_finetune(o);
  FinetuneOptions part = o;
  part.out = s.dir / "parts";
  part.epochs = 1;
  EXPECT_EQ(run_finetune(part).epochs_trained, 1);
  part.epochs = 2;
  const FinetuneResult resumed = run_finetune(part);
  EXPECT_EQ(resumed.epochs_trained, 1);
  const auto a = models::load_native_checkpoint(whole.backbone);
  const auto b = models::load_native_checkpoint(resumed.backbone);
  auto state = [](const std::shared_ptr<models::NativeModelImpl>& m) {
    std::vector<torch::Tensor> t = m->parameters();
    for (const auto& buffer : m->buffers()) t.push_back(buffer);
    return t;
  };
  EXPECT_TRUE(all_equal(state(a), state(b)));
  EXPECT_FALSE(all_equal(state(a), state(models::load_native_checkpoint(o.out + "/epoch_0.pt"))));
  ASSERT_EQ(whole.epochs.size(), resumed.epochs.size());
  for (size_t e = 0; e < whole.epochs.size(); ++e) {
    EXPECT_EQ(whole.epochs[e].standard_accuracy, resumed.epochs[e].standard_accuracy);
    if (e > 0) {  // epoch 0 has no training loss (NaN)
      EXPECT_EQ(whole.epochs[e].interpretable_loss, resumed.epochs[e].interpretable_loss) << e;
    }
  }
  // The native result opens as `iis embed` opens it.
  EXPECT_NO_THROW(backbone::open_backbone(resumed.spec, torch::kCPU));
}

TEST(Finetune, BadInputGivesOneClearError) {
  Fixture s;
  FinetuneOptions o = s.options("bad");
  o.ratio = 1.0;
  EXPECT_IIS_ERROR(run_finetune(o), "--ratio must be in [0, 1), got 1");
  o.ratio = -0.1;
  EXPECT_IIS_ERROR(run_finetune(o), "--ratio must be in [0, 1), got -0.1");
  o.ratio = 0.5;
  o.lambda = -1;
  EXPECT_IIS_ERROR(run_finetune(o), "--lambda must be >= 0, got -1");
  o.lambda = 1;
  // Elements cut from a dataset of other classes.
  const std::string other = make_images(s.dir, "other", 2, 3, 5);
  o.elements = make_elements(other, s.dir / "other_elements");
  EXPECT_IIS_ERROR(run_finetune(o), "was cut from images of other classes (2 classes");
  // A run folder made with other elements.
  FinetuneOptions first = s.options("taken");
  first.epochs = 0;
  run_finetune(first);
  FinetuneOptions again = first;
  again.elements = make_elements(make_images(s.dir, "more", 3, 3, 6), s.dir / "more_elements");
  EXPECT_IIS_ERROR(run_finetune(again), "holds a finetune run with other settings (elements)");
  // Heads of a backbone 5 wide given to one 7 wide.
  FinetuneOptions wide = s.options("wide");
  wide.backbone = make_script(s.dir, "wide", 7);
  wide.heads = first.out + "/heads";
  EXPECT_IIS_ERROR(run_finetune(wide),
                   "is a head for representations of width 5; the backbone's are 7 wide");
}

}  // namespace
}  // namespace iis::finetune
