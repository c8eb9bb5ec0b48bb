// End-to-end tests of run_elements on a small ImageFolder holding every kind of bad input:
// outputs, skip list, determinism across thread counts, resume, and refusal of foreign folders.
#include "iis/elements/elements.hpp"

#include <torch/torch.h>

#include <zlib.h>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include "iis/core/files.hpp"
#include "iis/core/progress.hpp"
#include "iis/elements/segments.hpp"
#include "iis/image/decode.hpp"
#include "iis/image/slic.hpp"
#include "iis/io/npy.hpp"
#include "test_support.hpp"

namespace iis::elements {
namespace {

namespace fs = std::filesystem;

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

void write_image(const std::string& path, const cv::Mat& m) {
  std::vector<unsigned char> bytes;
  ASSERT_TRUE(cv::imencode(fs::path(path).extension().string(), m, bytes));
  write_bytes(path, bytes);
}

cv::Mat noise(int rows, int cols, int type, int seed) {
  cv::Mat m(rows, cols, type);
  cv::theRNG().state = static_cast<uint64_t>(seed);
  cv::randu(m, 0, type == CV_16UC3 ? 65535 : 255);
  return m;
}

// classes: "bad" (every damaged kind), "cat" (colour layouts, odd names), "empty", "x/y"-like
// names cannot exist on disk, so class-name sanitising is covered by the IDX test instead.
std::string make_dataset(const test::TempDir& dir) {
  const std::string root = dir / "data";
  std::vector<unsigned char> png;
  cv::imencode(".png", noise(20, 24, CV_8UC3, 1), png);
  write_bytes(root + "/bad/zero.png", {});
  write_bytes(root + "/bad/truncated.png",
              std::vector<unsigned char>(png.begin(), png.begin() + 100));
  write_bytes(root + "/bad/text.jpg", {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  write_image(root + "/bad/tiny 1x1.png", noise(1, 1, CV_8UC3, 2));  // smaller than grid
  write_image(root + "/bad/ok.png", noise(16, 16, CV_8UC3, 3));
  write_image(root + "/cat/gray.png", noise(12, 16, CV_8UC1, 4));        // grayscale
  write_image(root + "/cat/rgba.png", noise(16, 12, CV_8UC4, 5));        // alpha
  write_image(root + "/cat/deep 16-bit.png", noise(8, 8, CV_16UC3, 6));  // 16-bit
  write_image(root + "/cat/ünï code.JPG", noise(9, 13, CV_8UC3, 7));
  write_image(root + "/cat/sub/ünï code.png", noise(4, 4, CV_8UC3, 8));  // same stem as above
  fs::create_directories(root + "/empty");
  return root;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every file under `dir` with its content fingerprint, except the run summary (timings).
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == "elements.json") continue;
    files[fs::relative(e.path(), dir).string()] = core::fingerprint_file(e.path().string());
  }
  return files;
}

class RunElements : public testing::Test {
 protected:
  void SetUp() override { core::set_progress_mode(core::ProgressMode::Quiet); }
  ElementsOptions patches(const std::string& data, const std::string& out, int threads) {
    ElementsOptions o;
    o.data = data;
    o.out = out;
    o.kind = ElementKind::Patches;
    o.grid = 2;
    o.patch_size = 8;
    o.threads = threads;
    return o;
  }
};

TEST_F(RunElements, PatchesOutputsAndSkips) {
  test::TempDir dir;
  const std::string data = make_dataset(dir);
  const std::string out = dir / "out";
  const ElementsSummary s = run_elements(patches(data, out, 2));
  // 10 images (bad: 5, cat: 5 with the nested one), 4 unusable.
  EXPECT_EQ(s.images, 10);
  EXPECT_EQ(s.images_skipped, 4);
  EXPECT_EQ(s.elements, 6 * 4);
  const auto manifest = lines_of(out + "/manifest.jsonl");
  ASSERT_EQ(manifest.size(), 24u);
  const torch::Tensor labels = io::load_npy(out + "/labels.npy");
  ASSERT_EQ(labels.scalar_type(), torch::kInt64);
  ASSERT_EQ(labels.numel(), 24);
  std::string previous;
  for (size_t i = 0; i < manifest.size(); ++i) {
    const auto r = nlohmann::json::parse(manifest[i]);
    const std::string path = r["path"];
    EXPECT_LT(previous, path) << "manifest not in ImageFolder order";
    previous = path;
    EXPECT_EQ(r["class"].get<int64_t>(), labels[static_cast<int64_t>(i)].item<int64_t>());
    EXPECT_EQ(r["kind"], "patch");
    EXPECT_EQ(r["class_name"], r["class"] == 0 ? "bad" : "cat");
    const cv::Mat png = cv::imread(out + "/" + path, cv::IMREAD_UNCHANGED);
    ASSERT_EQ(png.size(), cv::Size(8, 8)) << path;
    EXPECT_EQ(png.type(), CV_8UC3);
  }
  // The first element: bad/ok.png's top-left 8×8 cell.
  const auto first = nlohmann::json::parse(manifest[0]);
  EXPECT_EQ(first["path"], "bad/ok_0.png");
  EXPECT_EQ(first["bbox"], nlohmann::json({0, 0, 8, 8}));
  EXPECT_DOUBLE_EQ(first["area"].get<double>(), 0.25);
  EXPECT_EQ(first["cell"], nlohmann::json({0, 0}));
  // Same stems in one class get distinct names.
  EXPECT_TRUE(fs::exists(out + "/cat/ünï code_0.png"));
  EXPECT_TRUE(fs::exists(out + "/cat/ünï code-2_0.png"));
  // Every unusable input is listed with a reason.
  const auto skipped = lines_of(out + "/skipped.txt");
  ASSERT_EQ(skipped.size(), 4u);
  for (const char* name : {"zero.png", "truncated.png", "text.jpg", "tiny 1x1.png"}) {
    EXPECT_TRUE(std::any_of(skipped.begin(), skipped.end(), [&](const std::string& l) {
      return l.find(std::string("/bad/") + name + "\t") != std::string::npos;
    })) << name;
  }
  EXPECT_TRUE(std::any_of(skipped.begin(), skipped.end(), [](const std::string& l) {
    return l.find("tiny 1x1.png\t") != std::string::npos &&
           l.find("smaller than the 2x2 patch grid") != std::string::npos;
  }));
  const auto summary = nlohmann::json::parse(core::read_text(out + "/elements.json"));
  EXPECT_EQ(summary["status"], "complete");
  EXPECT_EQ(summary["skipped"].size(), 4u);
}

TEST_F(RunElements, DeterministicAcrossThreadsAndResumable) {
  test::TempDir dir;
  const std::string data = make_dataset(dir);
  run_elements(patches(data, dir / "one", 1));
  run_elements(patches(data, dir / "four", 4));
  const auto reference = snapshot(dir / "one");
  const auto four = snapshot(dir / "four");
  // Journals are in completion order; everything else must be identical.
  auto without_journal = [](std::map<std::string, std::string> m) {
    m.erase("elements.journal.jsonl");
    return m;
  };
  EXPECT_EQ(without_journal(reference), without_journal(four));

  // Interrupt: drop the last journal line (as if the run died there) and the outputs.
  const std::string out = dir / "one";
  auto journal = lines_of(out + "/elements.journal.jsonl");
  ASSERT_EQ(journal.size(), 6u);
  std::ofstream(out + "/elements.journal.jsonl") << journal[0] << "\n"
                                                 << journal[1] << "\n"
                                                 << journal[2].substr(0, 20);  // torn line
  fs::remove(out + "/manifest.jsonl");
  fs::remove(out + "/labels.npy");
  const ElementsSummary resumed = run_elements(patches(data, out, 2));
  EXPECT_EQ(resumed.images_resumed, 2);
  EXPECT_EQ(resumed.elements, 24);
  EXPECT_EQ(without_journal(snapshot(out)), without_journal(reference));
  // A complete folder resumes with nothing to do.
  EXPECT_EQ(run_elements(patches(data, out, 2)).images_resumed, 6);
}

// Every file under `dir` with its bytes, and every folder (as "<name>/"), but elements.json
// (timings, and the shards a merge came from).
std::map<std::string, std::string> contents(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = fs::relative(e.path(), dir).string();
    if (e.is_directory()) {
      files[name + "/"] = "";
    } else if (e.path().filename() != "elements.json") {
      files[name] = core::read_text(e.path().string());
    }
  }
  return files;
}

// The same names with the same bytes (a difference named, not printed: PNGs are binary).
void expect_same_files(const std::map<std::string, std::string>& found,
                       const std::map<std::string, std::string>& expected) {
  EXPECT_EQ(found.size(), expected.size());
  for (const auto& [name, bytes] : expected) {
    EXPECT_TRUE(found.count(name) == 1 && found.at(name) == bytes) << name << " differs";
  }
}

// Shards of segments and of patches, found by --shard auto under a simulated launcher, merge
// into the bytes one process writes: PNGs, manifest, labels, skip list, journal, folders.
TEST_F(RunElements, ShardsMergeIntoTheBytesOfOneRun) {
  test::TempDir dir;
  const std::string data = make_dataset(dir);
  for (const ElementKind kind : {ElementKind::Patches, ElementKind::Segments}) {
    const std::string name = to_string(kind);
    ElementsOptions o = patches(data, dir / (name + "_one"), 2);
    o.kind = kind;
    o.scales = {4, 8};
    const ElementsSummary one = run_elements(o);
    std::vector<std::string> shards;
    for (const int rank : {1, 2, 0}) {
      ElementsOptions s = o;
      s.out = dir / name;
      apply_shard(s, "auto", {{"SLURM_PROCID", std::to_string(rank)}, {"SLURM_NTASKS", "3"}});
      EXPECT_EQ(s.out, dir / (name + ".part" + std::to_string(rank) + "of3"));
      EXPECT_FALSE(elements_complete(s.out));
      const ElementsSummary r = run_elements(s);
      EXPECT_EQ(r.images, 10 * (rank + 1) / 3 - 10 * rank / 3) << "contiguous thirds of 10";
      EXPECT_TRUE(elements_complete(s.out));
      shards.push_back(s.out);
    }
    const MergeElementsResult m = run_merge_elements({shards, dir / name});
    EXPECT_EQ(m.shards, 3);
    EXPECT_EQ(m.images, 10);
    EXPECT_EQ(m.images_skipped, one.images_skipped);
    EXPECT_EQ(m.elements, one.elements);
    const auto reference = contents(o.out);
    EXPECT_GT(reference.size(), 10u);
    expect_same_files(contents(dir / name), reference);
    EXPECT_TRUE(elements_complete(dir / name));
    // The merged folder is a finished run of the whole selection: nothing to redo but the
    // unreadable images, which a run always tries again.
    ElementsOptions again = o;
    again.out = dir / name;
    EXPECT_EQ(run_elements(again).images_resumed, 10 - one.images_skipped);
    expect_same_files(contents(dir / name), reference);
    // Merging again into it is allowed (the same selection).
    EXPECT_EQ(run_merge_elements({shards, dir / name}).elements, m.elements);
  }
}

TEST_F(RunElements, MergeRefusesMissingRepeatedUnfinishedAndForeignShards) {
  test::TempDir dir;
  const std::string data = make_dataset(dir);
  std::vector<std::string> shards;
  for (int i = 0; i < 3; ++i) {
    ElementsOptions s = patches(data, dir / "els", 2);
    apply_shard(s, std::to_string(i) + "/3", {});
    run_elements(s);
    shards.push_back(s.out);
  }
  EXPECT_EQ(shards[1], dir / "els.part1of3");  // an explicit i/n names the folder alike
  const std::string out = dir / "merged";
  EXPECT_IIS_ERROR(run_merge_elements({{shards[0], shards[2]}, out}),
                   "got 2 of 3 shards: shard 1/3 is missing");
  EXPECT_IIS_ERROR(run_merge_elements({{shards[0], shards[1], shards[2], shards[1]}, out}),
                   "shards " + shards[1] + " and " + shards[1] + " are both shard 1/3");
  ElementsOptions other = patches(data, dir / "other", 2);
  other.grid = 3;
  apply_shard(other, "1/3", {});
  run_elements(other);
  EXPECT_IIS_ERROR(run_merge_elements({{shards[0], other.out, shards[2]}, out}),
                   "differ in selection_fingerprint");
  ElementsOptions two = patches(data, dir / "two", 2);
  apply_shard(two, "1/2", {});
  run_elements(two);
  EXPECT_IIS_ERROR(run_merge_elements({{shards[0], two.out, shards[2]}, out}),
                   "is part of 2 shards");
  // A shard still running (its elements.json says so) is not merged.
  const std::string summary = shards[2] + "/elements.json";
  const std::string finished = core::read_text(summary);
  auto running = nlohmann::json::parse(finished);
  running["status"] = "running";
  core::write_text_atomic(summary, running.dump());
  EXPECT_FALSE(elements_complete(shards[2]));
  EXPECT_IIS_ERROR(run_merge_elements({shards, out}), "shard " + shards[2] + ": not complete");
  core::write_text_atomic(summary, finished);
  EXPECT_IIS_ERROR(run_merge_elements({{shards[0], dir / "none", shards[2]}, out}),
                   "shard " + dir / "none" + ": " + dir / "none/elements.json is missing");
  // A lost element file names itself; an --out of other things is refused.
  const std::string lost =
      nlohmann::json::parse(lines_of(shards[1] + "/manifest.jsonl").at(0))["path"];
  fs::remove(shards[1] + "/" + lost);
  EXPECT_IIS_ERROR(run_merge_elements({shards, out}), shards[1] + "/" + lost + " is missing");
  fs::create_directories(dir / "taken");
  std::ofstream(dir / "taken/notes.txt") << "mine";
  EXPECT_IIS_ERROR(run_merge_elements({shards, dir / "taken"}),
                   "holds no elements of this selection");
  EXPECT_IIS_ERROR(run_merge_elements({shards, shards[0] + "/merged"}), "--out");
}

// More shards than selected images (a launcher that starts more processes than there is work
// for): a shard without images writes a complete folder of no elements, and the merge is still
// the bytes of one run.
TEST_F(RunElements, ShardsBeyondTheImagesWriteEmptyFoldersThatMerge) {
  test::TempDir dir;
  const std::string data = make_dataset(dir);
  const ElementsSummary one = run_elements(patches(data, dir / "one", 2));
  ASSERT_EQ(one.images, 10);
  std::vector<std::string> shards;
  int64_t images = 0;
  std::vector<int> empty;
  for (int i = 0; i < 13; ++i) {
    ElementsOptions s = patches(data, dir / "els", 2);
    apply_shard(s, std::to_string(i) + "/13", {});
    const ElementsSummary r = run_elements(s);
    EXPECT_TRUE(elements_complete(s.out)) << s.out;
    images += r.images;
    if (r.images == 0) {
      empty.push_back(i);
      EXPECT_EQ(r.elements, 0);
      EXPECT_EQ(core::read_text(s.out + "/manifest.jsonl"), "");
      EXPECT_EQ(io::load_npy(s.out + "/labels.npy").sizes(), (std::vector<int64_t>{0}));
    }
    shards.push_back(s.out);
  }
  EXPECT_EQ(images, 10);
  // Shard i of 13 holds the images [10i/13, 10(i+1)/13): shards 0, 4 and 8 hold none.
  EXPECT_EQ(empty, (std::vector<int>{0, 4, 8}));
  const MergeElementsResult m = run_merge_elements({shards, dir / "els"});
  EXPECT_EQ(m.shards, 13);
  EXPECT_EQ(m.images, 10);
  EXPECT_EQ(m.elements, one.elements);
  EXPECT_EQ(m.images_skipped, one.images_skipped);
  expect_same_files(contents(dir / "els"), contents(dir / "one"));
  EXPECT_TRUE(elements_complete(dir / "els"));
}

TEST_F(RunElements, RefusesForeignFoldersWithoutForce) {
  test::TempDir dir;
  const std::string data = make_dataset(dir);
  const std::string out = dir / "out";
  run_elements(patches(data, out, 2));
  ElementsOptions other = patches(data, out, 2);
  other.grid = 1;
  EXPECT_IIS_ERROR(run_elements(other), "made from other inputs or settings");
  other.force = true;
  const ElementsSummary s = run_elements(other);
  EXPECT_EQ(s.elements, 6 + 1);                     // the 1×1 image fits a 1×1 grid
  EXPECT_FALSE(fs::exists(out + "/bad/ok_3.png"));  // the 2×2 run's elements are gone
  EXPECT_EQ(lines_of(out + "/manifest.jsonl").size(), 7u);

  const std::string foreign = dir / "foreign";
  fs::create_directories(foreign);
  std::ofstream(foreign + "/notes.txt") << "mine";
  EXPECT_IIS_ERROR(run_elements(patches(data, foreign, 2)), "was not made by `iis elements`");
  ElementsOptions forced = patches(data, foreign, 2);
  forced.force = true;
  run_elements(forced);
  EXPECT_TRUE(fs::exists(foreign + "/notes.txt"));  // files of others are left alone
}

TEST_F(RunElements, OutputInsideTheDataIsRefusedEvenWithForce) {
  test::TempDir dir;
  const std::string data = make_dataset(dir);
  for (const std::string& out : {data, data + "/cat", dir.str()}) {
    ElementsOptions o = patches(data, out, 2);
    o.force = true;
    EXPECT_IIS_ERROR(run_elements(o), "--out " + out);
  }
  EXPECT_FALSE(fs::exists(data + "/manifest.jsonl"));
  EXPECT_FALSE(fs::exists(data + "/cat/elements.json"));
  EXPECT_FALSE(fs::exists(dir / "elements.json"));
}

TEST_F(RunElements, ImagesAboveThePixelCapAreSkippedAndListed) {
  test::TempDir dir;
  const std::string data = make_dataset(dir);
  image::set_max_image_pixels(16 * 16 - 1);  // ok.png (16×16) and rgba.png (16×12) differ
  const ElementsSummary s = run_elements(patches(data, dir / "out", 2));
  image::set_max_image_pixels(0);
  EXPECT_EQ(s.images_skipped, 5);  // the 4 unusable ones and ok.png
  const auto skipped = lines_of(dir / "out/skipped.txt");
  const auto big = std::find_if(skipped.begin(), skipped.end(), [](const std::string& line) {
    return line.find("ok.png\t") != std::string::npos;
  });
  ASSERT_NE(big, skipped.end());
  EXPECT_NE(big->find("image too large (16x16 = 256 pixels"), std::string::npos) << *big;
}

TEST_F(RunElements, ImageSelection) {
  test::TempDir dir;
  const std::string root = dir / "data";
  for (int i = 0; i < 12; ++i) {
    write_image(root + "/a/img" + std::to_string(10 + i) + ".png", noise(4, 4, CV_8UC3, i));
  }
  auto sources = [&](ElementsOptions o) {
    o.grid = 1;
    run_elements(o);
    std::vector<std::string> s;
    for (const auto& l : lines_of(o.out + "/manifest.jsonl")) {
      s.push_back(nlohmann::json::parse(l)["source"]);
    }
    return s;
  };
  ElementsOptions first = patches(root, dir / "first", 2);
  first.images_per_class = 3;
  const auto f = sources(first);
  EXPECT_EQ(f, (std::vector<std::string>{root + "/a/img10.png", root + "/a/img11.png",
                                         root + "/a/img12.png"}));
  ElementsOptions random = first;
  random.out = dir / "random";
  random.select = ImageSelect::Random;
  random.seed = 7;
  const auto r1 = sources(random);
  random.out = dir / "random2";
  EXPECT_EQ(sources(random), r1);  // seeded
  random.out = dir / "random3";
  random.seed = 8;
  EXPECT_NE(sources(random), r1);
  EXPECT_EQ(r1.size(), 3u);

  ElementsOptions bad = first;
  bad.images_per_class = -1;
  EXPECT_IIS_ERROR(run_elements(bad), "--images-per-class must be >= 0");
  bad = first;
  bad.fill = 300;
  EXPECT_IIS_ERROR(run_elements(bad), "--fill must be in [0, 255]");
}

// A picture with a few flat shapes and mild noise, so SLIC finds clear segments.
cv::Mat shapes(int rows, int cols, int seed) {
  cv::Mat m = noise(rows, cols, CV_8UC3, seed) * 0.1;
  m += cv::Scalar(40, 80, 120);
  cv::circle(m, cv::Point(cols / 3, rows / 2), rows / 4, cv::Scalar(200, 40, 40), cv::FILLED);
  cv::rectangle(m, cv::Rect(cols / 2, rows / 5, cols / 3, rows / 2), cv::Scalar(30, 220, 60),
                cv::FILLED);
  return m;
}

TEST_F(RunElements, SegmentsEndToEnd) {
  test::TempDir dir;
  const std::string root = dir / "data";
  write_image(root + "/a/one.png", shapes(48, 64, 1));
  write_image(root + "/a/two.jpg", shapes(40, 40, 2));
  write_image(root + "/b/gray.png", noise(30, 30, CV_8UC1, 3));
  write_image(root + "/b/pixel.png", noise(1, 1, CV_8UC3, 4));  // 1×1: one segment, kept
  write_bytes(root + "/b/zero.png", {});
  ElementsOptions o;
  o.data = root;
  o.out = dir / "out";
  o.kind = ElementKind::Segments;
  o.threads = 3;
  const ElementsSummary s = run_elements(o);
  EXPECT_EQ(s.images, 5);
  EXPECT_EQ(s.images_skipped, 1);
  const auto manifest = lines_of(o.out + "/manifest.jsonl");
  ASSERT_EQ(static_cast<int64_t>(manifest.size()), s.elements);

  // Recompute each image's masks with the library's own steps and compare with the output:
  // the same masks in the same order, pixel-identical PNGs, at most 5 per scale, every pair
  // of masks with Jaccard <= 0.5, every mask above 0.1 % of the image.
  std::map<std::string, std::vector<nlohmann::json>> by_source;
  for (const auto& l : manifest) {
    const auto r = nlohmann::json::parse(l);
    by_source[r["source"].get<std::string>()].push_back(r);
  }
  EXPECT_EQ(by_source.count(root + "/b/zero.png"), 0u);
  ASSERT_EQ(by_source[root + "/b/pixel.png"].size(), 1u);
  for (auto& [source, records] : by_source) {
    std::sort(records.begin(), records.end(),
              [](const auto& a, const auto& b) { return a["element"] < b["element"]; });
    const cv::Mat rgb = image::read_rgb(source);
    std::vector<ScaleLabels> scales;
    for (int n : {10, 20, 30}) {
      image::SlicOptions so;
      so.n_segments = n;
      scales.push_back({n, image::slic(rgb, so)});
    }
    const auto masks = select_segments(scales);
    ASSERT_EQ(masks.size(), records.size()) << source;
    std::map<int, int> per_scale;
    for (size_t i = 0; i < masks.size(); ++i) {
      const auto& r = records[i];
      EXPECT_EQ(r["scale"].get<int>(), masks[i].scale);
      EXPECT_EQ(r["bbox"], nlohmann::json({masks[i].bbox.x, masks[i].bbox.y, masks[i].bbox.width,
                                           masks[i].bbox.height}));
      EXPECT_GT(r["area"].get<double>(), 0.001);
      EXPECT_LE(++per_scale[masks[i].scale], 5);
      const cv::Mat png = image::read_rgb(o.out + "/" + r["path"].get<std::string>());
      EXPECT_EQ(cv::norm(png, segment_element(rgb, masks[i], 117), cv::NORM_INF), 0) << r;
      for (size_t j = 0; j < i; ++j) {
        const double inter = cv::countNonZero(masks[i].mask & masks[j].mask);
        const double uni = cv::countNonZero(masks[i].mask | masks[j].mask);
        EXPECT_LE(inter / uni, 0.5);
      }
    }
  }
  // Two scales of the 64×48 image give more than 5 masks in all.
  EXPECT_GT(by_source[root + "/a/one.png"].size(), 5u);
}

TEST_F(RunElements, IdxClassNamesBecomeSafeFolders) {
  test::TempDir dir;
  fs::create_directories(dir / "fashion");
  auto put = [](std::vector<unsigned char>& b, uint32_t v) {
    for (int s : {24, 16, 8, 0}) b.push_back(static_cast<unsigned char>(v >> s));
  };
  std::vector<unsigned char> images, labels;
  put(images, 0x803), put(images, 2), put(images, 28), put(images, 28);
  for (int i = 0; i < 2 * 28 * 28; ++i) images.push_back(static_cast<unsigned char>(i * 7));
  put(labels, 0x801), put(labels, 2);
  labels.insert(labels.end(), {0, 9});
  for (const auto& [name, bytes] : {std::pair{std::string("t10k-images-idx3-ubyte.gz"), images},
                                    std::pair{std::string("t10k-labels-idx1-ubyte.gz"), labels}}) {
    gzFile f = gzopen((dir / ("fashion/" + name)).c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  }
  ElementsOptions o;
  o.data = dir / "fashion/t10k-images-idx3-ubyte.gz";
  o.out = dir / "out";
  o.kind = ElementKind::Patches;
  const ElementsSummary s = run_elements(o);
  EXPECT_EQ(s.elements, 32);
  EXPECT_TRUE(fs::exists(o.out + "/T-shirt_top/t10k_0_15.png"));
  EXPECT_TRUE(fs::exists(o.out + "/Ankle boot/t10k_1_0.png"));
  const auto first = nlohmann::json::parse(lines_of(o.out + "/manifest.jsonl")[0]);
  EXPECT_EQ(first["class_name"], "Ankle boot");  // "A" sorts before "T"
  EXPECT_EQ(first["class"], 9);
  EXPECT_EQ(first["bbox"], nlohmann::json({0, 0, 7, 7}));
  EXPECT_EQ(cv::imread(o.out + "/Ankle boot/t10k_1_0.png").size(), cv::Size(224, 224));
}

}  // namespace
}  // namespace iis::elements
