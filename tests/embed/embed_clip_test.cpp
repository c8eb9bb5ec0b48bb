// A random CLIP-shaped archive (scripts/make_clip_model.py) through `iis embed --backbone clip:`
// and `iis embed-text`, against the features the same model gives in PyTorch on images
// preprocessed by torchvision and PIL and on the reference tokenizer's ids; too long concepts,
// shipped sets by name, and archives without encode_text.
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "iis/core/files.hpp"
#include "iis/embed/embed.hpp"
#include "iis/io/npy.hpp"
#include "iis/text/lines.hpp"
#include "test_support.hpp"

namespace iis::embed {
namespace {

namespace fs = std::filesystem;

void make_clip(const std::string& args) {
  const test::CommandRun run = test::run_command("/usr/bin/python3 " + test::source_dir() +
                                                 "/scripts/make_clip_model.py " + args + " 2>&1");
  ASSERT_EQ(run.status, 0) << run.output;
}

double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

// The reference tokenizer's rows (tests/text/data/tokens.jsonl) by text.
const std::map<std::string, nlohmann::json>& reference_rows() {
  static const std::map<std::string, nlohmann::json> rows = [] {
    std::map<std::string, nlohmann::json> by_text;
    std::istringstream in(core::read_text(test::source_dir() + "/tests/text/data/tokens.jsonl"));
    for (std::string line; std::getline(in, line);) {
      nlohmann::json row = nlohmann::json::parse(line);
      by_text[row["text"].get<std::string>()] = row;
    }
    return by_text;
  }();
  return rows;
}

nlohmann::json embed_json(const std::string& prefix) {
  return nlohmann::json::parse(core::read_text(prefix + ".embed.json"));
}

// Images of several sizes and aspect ratios (one grey) in data/a/, noise so that any
// difference in resizing shows; returns their paths in dataset order.
std::vector<std::string> make_images(const std::string& root) {
  fs::create_directories(root + "/a");
  cv::RNG rng(5);
  const std::vector<cv::Size> sizes = {{61, 45}, {33, 70}, {32, 32}, {90, 20}, {17, 23}};
  std::vector<std::string> paths;
  for (size_t k = 0; k < sizes.size(); ++k) {
    cv::Mat image(sizes[k], k == 1 ? CV_8UC1 : CV_8UC3);
    rng.fill(image, cv::RNG::UNIFORM, 0, 256);
    cv::GaussianBlur(image, image, {3, 3}, 0.8);  // photos are smoother than noise
    paths.push_back(root + "/a/img" + std::to_string(k) + ".png");
    cv::imwrite(paths.back(), image);
  }
  return paths;
}

TEST(EmbedClip, ImagesGiveTorchvisionsInputsAndPyTorchsFeatures) {
  test::TempDir dir;
  const auto paths = make_images(dir / "data");
  std::string images;
  for (const auto& p : paths) images += " " + p;
  make_clip("--out " + dir / "m.pt" + " --image-reference " + dir / "features.npy" + images +
            " --input-reference " + dir / "inputs.npy");

  // The preprocessing: CLIP's transform at the archive's resolution (32), as torchvision and
  // PIL compute it.
  PreprocessDumpOptions dump;
  dump.images = paths;
  dump.backbone = "clip:" + dir / "m.pt";
  dump.out = dir / "ours.npy";
  run_preprocess_dump(dump);
  const torch::Tensor inputs = io::load_npy(dir / "ours.npy");
  const torch::Tensor expected_inputs = io::load_npy(dir / "inputs.npy");
  ASSERT_EQ(inputs.sizes(), (std::vector<int64_t>{5, 3, 32, 32}));
  // One grey level is 1/255/0.27 ≈ 0.015 after normalising: this asks for the same pixels.
  EXPECT_LT((inputs - expected_inputs).abs().max().item<double>(), 1e-5);

  EmbedOptions o;
  o.backbone = "clip:" + dir / "m.pt";
  o.data = dir / "data";
  o.out = dir / "out/train";
  o.batch_size = 2;
  const EmbedResult r = run_embed(o);
  EXPECT_EQ(r.embedded, 5);
  EXPECT_EQ(r.feature_dim, 12);
  EXPECT_NE(r.preprocessing.find("preset clip: resize 32 bicubic, crop 32"), std::string::npos)
      << r.preprocessing;
  const torch::Tensor f = io::load_npy(o.out + ".features.npy");
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{5, 12}));
  EXPECT_LT(relative_difference(f, io::load_npy(dir / "features.npy")), 1e-5);
  EXPECT_EQ(embed_json(o.out)["backbone"], o.backbone);

  // --preset clip alone is ViT-B/16's 224, which this archive refuses.
  o.preprocess.preset = "clip";
  o.out = dir / "out/preset";
  EXPECT_IIS_ERROR(run_embed(o), "encode_image failed on images of shape [2, 3, 224, 224]");
}

// concepts.txt with the texts `texts` (a blank line among them) and ids.jsonl with their
// reference ids; returns the texts.
std::vector<std::string> write_concepts(const test::TempDir& dir,
                                        const std::vector<std::string>& texts) {
  std::ofstream concepts(dir / "concepts.txt"), ids(dir / "ids.jsonl");
  for (size_t i = 0; i < texts.size(); ++i) {
    concepts << texts[i] << (i == 1 ? "\r\n\r\n" : "\n");
    ids << reference_rows().at(texts[i]).dump() << "\n";
  }
  return texts;
}

EmbedTextOptions text_options(const test::TempDir& dir) {
  EmbedTextOptions o;
  o.clip = dir / "m.pt";
  o.concepts = dir / "concepts.txt";
  o.out = dir / "out/text";
  o.batch_size = 2;
  return o;
}

TEST(EmbedClip, TextGivesPyTorchsFeaturesOfTheReferenceIds) {
  test::TempDir dir;
  const auto texts = write_concepts(dir, {"spotted or striped fur", "a photo of a goldfish",
                                          "wheels", "\"Police\" or \"Sheriff\" markings", "dog"});
  make_clip("--out " + dir / "m.pt" + " --text-reference " + dir / "ids.jsonl" + " " +
            dir / "expected.npy");
  const EmbedTextOptions o = text_options(dir);
  const EmbedTextResult r = run_embed_text(o);
  EXPECT_EQ(r.concepts, 5);
  EXPECT_EQ(r.feature_dim, 12);
  EXPECT_EQ(r.context_length, 77);
  const torch::Tensor f = io::load_npy(o.out + ".features.npy");
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{5, 12}));
  EXPECT_EQ(f.scalar_type(), torch::kFloat32);
  EXPECT_LT(relative_difference(f, io::load_npy(dir / "expected.npy")), 1e-5);
  EXPECT_EQ(text::read_lines(o.out + ".names.txt"), texts);

  const auto meta = embed_json(o.out);
  EXPECT_EQ(meta["format"], "iis-embed-text-1");
  EXPECT_EQ(meta["rows"], 5);
  EXPECT_EQ(meta["feature_dim"], 12);
  EXPECT_EQ(meta["context_length"], 77);
  EXPECT_EQ(meta["concepts"], o.concepts);
  // The image side of the same archive records the same fingerprint, another archive not.
  make_images(dir / "data");
  EmbedOptions image;
  image.backbone = "clip:" + o.clip;
  image.data = dir / "data";
  image.out = dir / "out/images";
  run_embed(image);
  EXPECT_EQ(embed_json(image.out)["backbone_fingerprint"], meta["backbone_fingerprint"]);
  make_clip("--out " + dir / "other.pt" + " --seed 1");
  auto other = o;
  other.clip = dir / "other.pt";
  other.out = dir / "out/other";
  run_embed_text(other);
  EXPECT_NE(embed_json(other.out)["backbone_fingerprint"], meta["backbone_fingerprint"]);
}

TEST(EmbedClip, TooLongConceptsAreRefusedUnlessTruncated) {
  test::TempDir dir;
  // "dog" is one token (its reference ids: start, 1929, end): 100 of them are too many for 77.
  const std::vector<int64_t> dog = reference_rows().at("dog")["ids"].get<std::vector<int64_t>>();
  ASSERT_EQ(dog.size(), 3u);
  std::string long_text = "dog";
  for (int i = 1; i < 100; ++i) long_text += " dog";
  std::ofstream(dir / "concepts.txt") << "wheels\n" << long_text << "\n";
  // CLIP's truncation: the first 77 ids, the last one made the end token.
  nlohmann::json cut;
  cut["text"] = long_text;
  std::vector<int64_t> ids(77, dog[1]);
  ids.front() = dog.front();
  ids.back() = dog.back();
  cut["ids"] = ids;
  std::ofstream(dir / "ids.jsonl") << reference_rows().at("wheels").dump() << "\n"
                                   << cut.dump() << "\n";
  make_clip("--out " + dir / "m.pt" + " --text-reference " + dir / "ids.jsonl" + " " +
            dir / "expected.npy");
  auto o = text_options(dir);
  EXPECT_IIS_ERROR(run_embed_text(o), o.concepts + ", line 2: text \"dog dog");
  EXPECT_IIS_ERROR(run_embed_text(o), "is too long for context length 77: 102 tokens");
  EXPECT_FALSE(fs::exists(o.out + ".features.npy"));
  o.truncate = true;
  run_embed_text(o);
  EXPECT_LT(relative_difference(io::load_npy(o.out + ".features.npy"),
                                io::load_npy(dir / "expected.npy")),
            1e-5);
  EXPECT_EQ(embed_json(o.out)["truncate"], true);
}

TEST(EmbedClip, ShippedSetsByNameAndBadInputs) {
  test::TempDir dir;
  make_clip("--out " + dir / "m.pt");
  auto o = text_options(dir);
  o.concepts = "cifar10";
  o.batch_size = 64;
  const EmbedTextResult r = run_embed_text(o);
  EXPECT_EQ(r.concepts, 143);
  EXPECT_NE(r.concepts_file.find("concepts/cifar10_filtered.txt"), std::string::npos);
  EXPECT_EQ(text::read_lines(o.out + ".names.txt"), text::read_lines(r.concepts_file));
  EXPECT_EQ(io::load_npy(o.out + ".features.npy").size(0), 143);
  o.concepts = "imagenet_classes";  // a class list, "\r" line ends
  EXPECT_EQ(run_embed_text(o).concepts, 1000);

  o.concepts = "imagenett";
  const std::string what = test::error_of([&] { run_embed_text(o); });
  EXPECT_NE(what.find("--concepts imagenett is neither a file nor a shipped set"),
            std::string::npos)
      << what;
  std::ofstream(dir / "blank.txt") << "\n  \n";
  o.concepts = dir / "blank.txt";
  EXPECT_IIS_ERROR(run_embed_text(o), "holds no concept");

  // A TorchScript image model is not a CLIP archive.
  torch::jit::Module m("Net");
  m.define("def encode_image(self, x):\n    return x.flatten(1)\n");
  m.save(dir / "image_only.pt");
  o.concepts = "cifar10";
  o.clip = dir / "image_only.pt";
  EXPECT_IIS_ERROR(run_embed_text(o), "the TorchScript " + o.clip +
                                          " has no method encode_text, so it is not a "
                                          "CLIP archive");
  o.clip = dir / "m.pt";
  o.out = dir / "m.pt";  // writes m.pt.features.npy beside it: allowed
  EXPECT_NO_THROW(run_embed_text(o));
  o.out = dir.str();
  EXPECT_IIS_ERROR(run_embed_text(o), "names a folder, not a prefix of files");
  o.out = dir / "out/x";
  o.batch_size = 0;
  EXPECT_IIS_ERROR(run_embed_text(o), "--batch-size must be in [1, 65536]");
}

}  // namespace
}  // namespace iis::embed
