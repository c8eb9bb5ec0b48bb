// Preprocessing: PIL-exact resize against values PIL produced, torchvision's crop offsets,
// presets, normalisation and the YAML keys.
#include "iis/image/preprocess.hpp"

#include <torch/torch.h>

#include "test_support.hpp"

namespace iis::image {
namespace {

// A 9×7 RGB image whose flat value i is (37 i + 11) mod 256 (rich in edges).
cv::Mat pattern_image() {
  cv::Mat m(7, 9, CV_8UC3);
  for (int i = 0; i < 9 * 7 * 3; ++i) m.data[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  return m;
}

std::vector<int> values(const cv::Mat& m) {
  cv::Mat c = m.isContinuous() ? m : m.clone();
  return std::vector<int>(c.data, c.data + c.total() * c.channels());
}

// Expected outputs were produced with Pillow 9.4:
//   Image.fromarray(pattern).resize((w, h), Image.BILINEAR | Image.BICUBIC | Image.NEAREST)
TEST(ResizeLikePil, BilinearDownscaleMatchesPil) {
  const std::vector<int> expected = {143, 121, 105, 132, 144, 117, 105, 130, 147, 139, 106, 143,
                                     129, 154, 115, 115, 117, 132, 135, 121, 119, 125, 130, 121,
                                     156, 106, 143, 151, 105, 101, 116, 150, 116, 105, 108, 145};
  EXPECT_EQ(values(resize_like_pil(pattern_image(), 4, 3, Interpolation::Bilinear)), expected);
}

TEST(ResizeLikePil, BicubicDownscaleMatchesPil) {
  const std::vector<int> expected = {142, 115, 101, 135, 150, 112, 101, 133, 154, 139, 102, 142,
                                     129, 162, 111, 113, 116, 138, 135, 119, 119, 124, 129, 119,
                                     159, 104, 147, 153, 105, 99,  113, 152, 114, 105, 107, 146};
  EXPECT_EQ(values(resize_like_pil(pattern_image(), 4, 3, Interpolation::Bicubic)), expected);
}

TEST(ResizeLikePil, BicubicMixedUpAndDownMatchesPil) {
  // Width kept (no horizontal pass), height reduced 7 → 3.
  const std::vector<int> expected = {
      151, 75,  58,  103, 141, 178, 215, 154, 24,  61,  107, 144, 181, 218, 157, 27,  64,
      110, 147, 184, 221, 160, 30,  67,  113, 150, 187, 200, 225, 84,  51,  84,  121, 158,
      203, 158, 87,  42,  87,  124, 161, 206, 161, 90,  45,  90,  127, 164, 209, 164, 93,
      48,  93,  130, 135, 173, 218, 201, 27,  64,  101, 138, 184, 221, 91,  30,  67,  104,
      141, 187, 224, 94,  33,  70,  107, 144, 190, 227, 97,  36,  73};
  EXPECT_EQ(values(resize_like_pil(pattern_image(), 9, 3, Interpolation::Bicubic)), expected);
}

TEST(ResizeLikePil, BilinearUpscaleMatchesPilOnFirstRows) {
  // 9×7 → 13×10; first two output rows (2 × 13 × 3 values).
  const std::vector<int> expected = {
      11,  48,  85,  71,  108, 145, 148, 126, 163, 224, 25,  62,  144, 82,  119, 122,
      159, 117, 199, 236, 17,  99,  136, 94,  97,  134, 171, 154, 191, 228, 53,  90,
      127, 71,  108, 145, 131, 168, 205, 138, 34,  71,  122, 94,  131, 134, 145, 149,
      210, 141, 48,  130, 123, 105, 108, 145, 147, 185, 222, 144, 85,  122, 124, 83,
      120, 157, 151, 177, 214, 148, 76,  113, 133, 94,  131, 117, 154, 191};
  auto all = values(resize_like_pil(pattern_image(), 13, 10, Interpolation::Bilinear));
  ASSERT_EQ(all.size(), 13u * 10 * 3);
  EXPECT_EQ(std::vector<int>(all.begin(), all.begin() + 78), expected);
}

TEST(ResizeLikePil, NearestMatchesPilOnFirstRow) {
  const std::vector<int> expected = {11, 48,  85,  233, 14,  51,  199, 236,
                                     17, 165, 202, 239, 131, 168, 205};
  auto all = values(resize_like_pil(pattern_image(), 5, 7, Interpolation::Nearest));
  EXPECT_EQ(std::vector<int>(all.begin(), all.begin() + 15), expected);
}

TEST(ResizeLikePil, ConstantImageStaysConstant) {
  cv::Mat m(37, 53, CV_8UC3, cv::Scalar(200, 17, 255));
  for (auto interp : {Interpolation::Bilinear, Interpolation::Bicubic}) {
    cv::Mat r = resize_like_pil(m, 11, 29, interp);
    for (int y = 0; y < r.rows; ++y) {
      for (int x = 0; x < r.cols; ++x) {
        ASSERT_EQ(r.at<cv::Vec3b>(y, x), cv::Vec3b(200, 17, 255)) << to_string(interp);
      }
    }
  }
}

// An image whose pixel (y, x) holds (x mod 256, y mod 256, 7): shows where a crop came from.
cv::Mat coordinate_image(int h, int w) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(x % 256, y % 256, 7);
  }
  return m;
}

TEST(CentreCrop, OffsetsRoundHalfToEvenLikePython) {
  Preprocess p = preprocess_preset("none");
  p.crop_size = 224;
  // (257 - 224) / 2 = 16.5 → 16 (Python's round); (300 - 224) / 2 = 38; (259-224)/2 = 17.5 → 18.
  cv::Mat c = resize_and_crop(coordinate_image(257, 300), p);
  ASSERT_EQ(c.rows, 224);
  ASSERT_EQ(c.cols, 224);
  EXPECT_EQ(c.at<cv::Vec3b>(0, 0), cv::Vec3b(38, 16, 7));
  EXPECT_EQ(c.at<cv::Vec3b>(223, 223), cv::Vec3b((38 + 223) % 256, (16 + 223) % 256, 7));
  c = resize_and_crop(coordinate_image(259, 224), p);
  EXPECT_EQ(c.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 18, 7));
}

TEST(CentreCrop, SmallerImageIsPaddedWithZeroLikeTorchvision) {
  Preprocess p = preprocess_preset("none");
  p.crop_size = 8;
  // 5 wide → left pad (8-5)//2 = 1, right pad 2; 8 high → no padding.
  cv::Mat c = resize_and_crop(coordinate_image(8, 5), p);
  EXPECT_EQ(c.at<cv::Vec3b>(3, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(c.at<cv::Vec3b>(3, 1), cv::Vec3b(0, 3, 7));
  EXPECT_EQ(c.at<cv::Vec3b>(3, 5), cv::Vec3b(4, 3, 7));
  EXPECT_EQ(c.at<cv::Vec3b>(3, 6), cv::Vec3b(0, 0, 0));
}

TEST(CentreCrop, CropOfResizedEqualsCropOfFullResize) {
  // resize_and_crop computes only the cropped part; it must equal resize then crop.
  cv::Mat img = coordinate_image(301, 433);
  for (auto interp : {Interpolation::Bilinear, Interpolation::Bicubic}) {
    Preprocess p;
    p.interpolation = interp;
    cv::Mat part = resize_and_crop(img, p);
    const int new_w = static_cast<int>(256.0 * 433 / 301);  // 368
    cv::Mat full = resize_like_pil(img, new_w, 256, interp);
    const int ox = static_cast<int>(std::nearbyint((new_w - 224) / 2.0));
    const int oy = 16;
    cv::Mat expected = full(cv::Rect(ox, oy, 224, 224)).clone();
    EXPECT_EQ(values(part), values(expected)) << to_string(interp);
  }
}

TEST(Presets, ImagenetShapeAndNormalisation) {
  Preprocess p = preprocess_preset("imagenet");
  cv::Mat img(375, 500, CV_8UC3, cv::Scalar(128, 0, 255));
  auto shape = preprocessed_shape(p, 375, 500);
  EXPECT_EQ(shape, (std::array<int64_t, 3>{3, 224, 224}));
  // Longer side int(256 * 500 / 375) = 341.
  EXPECT_EQ(preprocessed_shape(preprocess_preset("none"), 375, 500),
            (std::array<int64_t, 3>{3, 375, 500}));
  torch::Tensor t = preprocess(img, p);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 224, 224}));
  EXPECT_FLOAT_EQ(t[0][100][100].item<float>(), (128.0f / 255.0f - 0.485f) / 0.229f);
  EXPECT_FLOAT_EQ(t[1][0][0].item<float>(), (0.0f - 0.456f) / 0.224f);
  EXPECT_FLOAT_EQ(t[2][223][223].item<float>(), (1.0f - 0.406f) / 0.225f);
}

TEST(Presets, NoneScalesToUnitRangeAndConvertsToGray) {
  Preprocess p = preprocess_preset("none");
  cv::Mat img(28, 28, CV_8UC3, cv::Scalar(10, 200, 30));
  torch::Tensor t = preprocess(img, p);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 28, 28}));
  EXPECT_FLOAT_EQ(t[1][5][5].item<float>(), 200.0f / 255.0f);
  p.channels = 1;
  t = preprocess(img, p);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{1, 28, 28}));
  // PIL's convert("L") gives 124 (Pillow 9.4): (10*19595 + 200*38470 + 30*7471 + 0x8000) >> 16.
  EXPECT_FLOAT_EQ(t[0][0][0].item<float>(), 124.0f / 255.0f);
  p.mean = {0.5f};
  p.std = {0.25f};
  t = preprocess(img, p);
  EXPECT_FLOAT_EQ(t[0][0][0].item<float>(), (124.0f / 255.0f - 0.5f) / 0.25f);
}

TEST(Presets, UnknownPresetAndBadSettingsAreErrors) {
  EXPECT_IIS_ERROR(preprocess_preset("cifar"), "unknown preprocessing preset 'cifar'");
  Preprocess p;
  p.channels = 2;
  EXPECT_IIS_ERROR(p.validate(), "--channels must be 1 or 3");
  p = Preprocess();
  p.std = {0.2f, 0.0f, 0.2f};
  EXPECT_IIS_ERROR(p.validate(), "--std values must be > 0");
  p = Preprocess();
  p.mean = {0.1f, 0.2f};
  EXPECT_IIS_ERROR(p.validate(), "--mean needs 1 or 3 values");
}

TEST(PreprocessYaml, ReadsReferenceKeysAndIgnoresOthers) {
  Preprocess p;
  apply_preprocess_yaml(p,
                        "train_crop_size: 176\nval_resize_size: 232\nval_crop_size: 224\n"
                        "interpolation: bicubic\nlr: 0.5\nmean: [0.5, 0.5, 0.5]\n",
                        "swin.yaml");
  EXPECT_EQ(p.resize_size, 232);
  EXPECT_EQ(p.crop_size, 224);
  EXPECT_EQ(p.interpolation, Interpolation::Bicubic);
  EXPECT_EQ(p.mean, (std::vector<float>{0.5f, 0.5f, 0.5f}));
  EXPECT_FLOAT_EQ(p.std[0], 0.229f);  // kept from the preset

  Preprocess q;
  apply_preprocess_yaml(q, preprocess_yaml(p), "round trip");
  EXPECT_EQ(q.describe(), p.describe());

  Preprocess none;
  apply_preprocess_yaml(none, "preset: none\nchannels: 1\n", "native");
  EXPECT_EQ(none.resize_size, 0);
  EXPECT_TRUE(none.mean.empty());
  EXPECT_EQ(none.channels, 1);
}

TEST(PreprocessYaml, UnknownKeysAndTyposAreRefused) {
  Preprocess p;
  EXPECT_IIS_ERROR(apply_preprocess_yaml(p, "val_crop_size: 200\nval_resize_sise: 232\n", "m.yaml"),
                   "unknown key 'val_resize_sise' (line 2); did you mean 'val_resize_size'?");
  EXPECT_IIS_ERROR(apply_preprocess_yaml(p, "interpolaton: bicubic\n", "m.yaml"),
                   "did you mean 'interpolation'?");
  EXPECT_EQ(p.crop_size, Preprocess().crop_size);  // nothing applied from a refused file
}

// preprocess_yaml is the settings' fingerprint and is read back: every float survives it
// exactly, while values with 6 significant digits keep their short text (and fingerprint).
TEST(PreprocessYaml, KeepsEveryFloatExactly) {
  Preprocess p;
  p.mean = {0.9223372f, 0.1234567f, 1e-7f};
  p.std = {0.92233720368547758f};
  Preprocess q;
  apply_preprocess_yaml(q, preprocess_yaml(p), "round trip");
  EXPECT_EQ(q.mean, p.mean);
  EXPECT_EQ(q.std, p.std);
  const std::string defaults = preprocess_yaml(Preprocess{});
  EXPECT_NE(defaults.find("mean: [0.485, 0.456, 0.406]\n"), std::string::npos) << defaults;
  EXPECT_NE(defaults.find("std: [0.229, 0.224, 0.225]\n"), std::string::npos) << defaults;
}

TEST(PreprocessYaml, BadValuesNameTheSource) {
  Preprocess p;
  EXPECT_IIS_ERROR(apply_preprocess_yaml(p, "val_crop_size: big\n", "m.yaml"),
                   "reading preprocessing m.yaml: key val_crop_size must be an integer");
  EXPECT_IIS_ERROR(apply_preprocess_yaml(p, "interpolation: lanczos\n", "m.yaml"),
                   "unknown interpolation 'lanczos'");
  EXPECT_IIS_ERROR(apply_preprocess_yaml(p, "[1, 2", "m.yaml"), "not valid YAML");
}

}  // namespace
}  // namespace iis::image
