// SLIC superpixels: scikit-image's answer on a small pattern, and the properties every label
// map must have (all pixels labelled, labels 0..n-1, connected segments, a count near
// n_segments, determinism), on ordinary, tiny and grey images.
#include "iis/image/slic.hpp"

#include <opencv2/imgproc.hpp>
#include <set>

#include "test_support.hpp"

namespace iis::image {
namespace {

// A deterministic RGB test picture: smooth colour gradients, a bright disc and a dark bar,
// plus a little texture.
cv::Mat scene(int height, int width) {
  cv::Mat m(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      auto* px = m.ptr<uint8_t>(y, x);
      const double fy = double(y) / height, fx = double(x) / width;
      const double dy = fy - 0.4, dx = fx - 0.6;
      const bool disc = dy * dy + dx * dx < 0.04;
      const bool bar = fx > 0.1 && fx < 0.25;
      const int texture = (x * 7 + y * 13) % 9;
      px[0] = uint8_t(disc ? 240 : bar ? 20 : 60 + 150 * fx + texture);
      px[1] = uint8_t(disc ? 220 : bar ? 30 : 40 + 120 * fy + texture);
      px[2] = uint8_t(disc ? 40 : bar ? 25 : 180 - 100 * fx * fy + texture);
    }
  }
  return m;
}

std::vector<int32_t> flat(const cv::Mat& labels) {
  return std::vector<int32_t>(labels.ptr<int32_t>(0), labels.ptr<int32_t>(0) + labels.total());
}

// Every pixel has a label in 0..n-1, every such label is used, and each label's pixels form
// one 4-connected region. Returns n.
int check_label_map(const cv::Mat& labels, const cv::Mat& image) {
  EXPECT_EQ(labels.type(), CV_32S);
  EXPECT_EQ(labels.rows, image.rows);
  EXPECT_EQ(labels.cols, image.cols);
  double lo = 0, hi = 0;
  cv::minMaxLoc(labels, &lo, &hi);
  EXPECT_GE(lo, 0);
  const int n = int(hi) + 1;
  std::set<int32_t> used;
  for (int32_t v : flat(labels)) used.insert(v);
  EXPECT_EQ(int(used.size()), n) << "labels are not 0..n-1";
  for (int k = 0; k < n; ++k) {
    cv::Mat mask = labels == k;
    cv::Mat components;
    const int count = cv::connectedComponents(mask, components, /*connectivity=*/4, CV_32S);
    EXPECT_EQ(count, 2) << "label " << k << " is split into " << count - 1 << " regions";
  }
  return n;
}

// scikit-image 0.19 on the same pattern:
//   y, x = np.mgrid[:12, :16]; img[..., 0] = (19 y + 7 x) % 256
//   img[..., 1] = np.where(x < 7, 200, 40); img[..., 2] = (5 x y) % 256
//   slic(img, n_segments=6, compactness=10, sigma=1, start_label=0)
TEST(Slic, MatchesScikitImageOnAPattern) {
  cv::Mat image(12, 16, CV_8UC3);
  for (int y = 0; y < 12; ++y) {
    for (int x = 0; x < 16; ++x) {
      auto* px = image.ptr<uint8_t>(y, x);
      px[0] = uint8_t((y * 19 + x * 7) % 256);
      px[1] = uint8_t(x < 7 ? 200 : 40);
      px[2] = uint8_t((x * y * 5) % 256);
    }
  }
  const std::vector<int32_t> expected = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                         0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 2, 2, 2,  //
                                         0, 0, 0, 0, 0, 0, 1, 0, 2, 2, 2, 2, 2, 2, 2, 2,  //
                                         0, 0, 0, 0, 0, 0, 1, 0, 2, 2, 2, 2, 2, 3, 3, 3,  //
                                         0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3,  //
                                         0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 3,  //
                                         0, 0, 0, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3,  //
                                         0, 0, 0, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3,  //
                                         0, 0, 1, 1, 1, 1, 1, 3, 3, 3, 3, 4, 3, 3, 4, 4,  //
                                         0, 0, 1, 1, 1, 1, 1, 3, 3, 4, 4, 4, 4, 4, 4, 4,  //
                                         0, 1, 1, 1, 1, 1, 1, 3, 4, 4, 4, 4, 4, 4, 4, 4};
  SlicOptions options;
  options.n_segments = 6;
  EXPECT_EQ(flat(slic(image, options)), expected);
}

TEST(Slic, SplitsTwoFlatHalvesAtTheirEdge) {
  // 40×80, red left half, blue right half: two seeds (one per half) and nothing to merge.
  cv::Mat image(40, 80, CV_8UC3, cv::Scalar(0, 0, 255));
  image(cv::Rect(0, 0, 40, 40)).setTo(cv::Scalar(255, 0, 0));
  SlicOptions options;
  options.n_segments = 2;
  const cv::Mat labels = slic(image, options);
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 80; ++x)
      ASSERT_EQ(labels.at<int32_t>(y, x), x < 40 ? 0 : 1) << y << "," << x;
}

TEST(Slic, LabelsEveryPixelWithConnectedSegmentsNearTheRequestedCount) {
  const cv::Mat image = scene(240, 320);
  for (int n_segments : {10, 20, 30, 100}) {
    SlicOptions options;
    options.n_segments = n_segments;
    const int n = check_label_map(slic(image, options), image);
    // 240×320 places exactly n seeds for these counts; merging small fragments and splitting
    // disconnected ones moves the count a little.
    EXPECT_GE(n, n_segments * 6 / 10) << "n_segments " << n_segments;
    EXPECT_LE(n, n_segments * 14 / 10) << "n_segments " << n_segments;
  }
}

TEST(Slic, IsDeterministic) {
  const cv::Mat image = scene(150, 200);
  SlicOptions options;
  options.n_segments = 20;
  const cv::Mat a = slic(image, options), b = slic(image, options);
  EXPECT_EQ(flat(a), flat(b));
  // A different image size in between must not leave state behind.
  slic(scene(37, 53), options);
  EXPECT_EQ(flat(slic(image, options)), flat(a));
}

TEST(Slic, HandlesTinyImages) {
  for (const cv::Size size : {cv::Size(1, 1), cv::Size(2, 2), cv::Size(1, 9), cv::Size(9, 1),
                              cv::Size(3, 2), cv::Size(5, 7)}) {
    const cv::Mat image = scene(size.height, size.width);
    for (int n_segments : {1, 10, 30}) {
      SlicOptions options;
      options.n_segments = n_segments;
      const cv::Mat labels = slic(image, options);
      const int n = check_label_map(labels, image);
      EXPECT_LE(n, int(image.total())) << size;
    }
  }
  SlicOptions options;
  options.n_segments = 10;
  EXPECT_EQ(flat(slic(cv::Mat(1, 1, CV_8UC3, cv::Scalar(7, 8, 9)), options)),
            std::vector<int32_t>{0});
}

TEST(Slic, HandlesGreyReplicatedAndConstantImages) {
  cv::Mat grey(64, 48, CV_8UC1);
  for (int y = 0; y < grey.rows; ++y)
    for (int x = 0; x < grey.cols; ++x) grey.at<uint8_t>(y, x) = uint8_t((x * 5 + y * 3) % 200);
  cv::Mat rgb;
  cv::cvtColor(grey, rgb, cv::COLOR_GRAY2RGB);
  SlicOptions options;
  options.n_segments = 12;
  check_label_map(slic(rgb, options), rgb);

  const cv::Mat constant(30, 30, CV_8UC3, cv::Scalar(117, 117, 117));
  const int n = check_label_map(slic(constant, options), constant);
  EXPECT_GE(n, 4);  // a constant image is cut by position alone
}

TEST(Slic, WithoutConnectivityLabelsAreStillCompact) {
  const cv::Mat image = scene(90, 120);
  SlicOptions options;
  options.n_segments = 16;
  options.enforce_connectivity = false;
  const cv::Mat labels = slic(image, options);
  std::set<int32_t> used;
  for (int32_t v : flat(labels)) used.insert(v);
  ASSERT_FALSE(used.empty());
  EXPECT_EQ(*used.begin(), 0);
  EXPECT_EQ(*used.rbegin(), int32_t(used.size()) - 1);
}

TEST(Slic, RejectsBadInputAndOptions) {
  const cv::Mat image = scene(20, 20);
  SlicOptions options;
  options.n_segments = 0;
  EXPECT_IIS_ERROR(slic(image, options), "--n-segments");
  options = {};
  options.compactness = 0;
  EXPECT_IIS_ERROR(slic(image, options), "--compactness");
  options = {};
  options.sigma = -1;
  EXPECT_IIS_ERROR(slic(image, options), "--sigma");
  EXPECT_IIS_ERROR(slic(cv::Mat(), SlicOptions{}), "empty");
  EXPECT_IIS_ERROR(slic(cv::Mat(5, 5, CV_8UC1, cv::Scalar(0)), SlicOptions{}), "3-channel");
}

}  // namespace
}  // namespace iis::image
