// Tests of segment selection (area, Jaccard de-duplication, per-scale limit, every label used)
// and of compositing (fill, crop including the last row/column, bicubic resize).
#include "iis/elements/segments.hpp"

#include "iis/image/preprocess.hpp"
#include "test_support.hpp"

namespace iis::elements {
namespace {

// A label map of `rows`×`cols` where label l covers the given rectangles.
cv::Mat labels_from(int rows, int cols, const std::vector<std::pair<int, cv::Rect>>& parts) {
  cv::Mat m(rows, cols, CV_32S, cv::Scalar(0));
  for (const auto& [label, rect] : parts) m(rect).setTo(label);
  return m;
}

TEST(SelectSegments, JaccardAgainstEarlierScales) {
  // Scale A: label 0 = left half (x < 10), label 1 = right half, on a 10×20 image.
  const cv::Mat a = labels_from(10, 20, {{1, cv::Rect(10, 0, 10, 10)}});
  // Scale B: label 0 = x < 9 (Jaccard with A0 = 90/100 = 0.9: duplicate),
  //          label 1 = 9 <= x < 14 (overlaps A1 in 40 px: 40/110 ~ 0.36: kept),
  //          label 2 = x >= 14 (overlaps A1 in 60 px: 60/100 = 0.6: duplicate).
  const cv::Mat b = labels_from(10, 20, {{1, cv::Rect(9, 0, 5, 10)}, {2, cv::Rect(14, 0, 6, 10)}});
  const auto masks = select_segments({{10, a}, {20, b}});
  ASSERT_EQ(masks.size(), 3u);
  EXPECT_EQ(masks[0].scale, 10);
  EXPECT_EQ(masks[0].label, 0);
  EXPECT_EQ(masks[1].label, 1);  // the last label of the map is used (reference defect 2)
  EXPECT_EQ(masks[2].scale, 20);
  EXPECT_EQ(masks[2].label, 1);
  EXPECT_EQ(masks[2].bbox, cv::Rect(9, 0, 5, 10));
  EXPECT_DOUBLE_EQ(masks[2].area, 50.0 / 200.0);
  EXPECT_EQ(cv::countNonZero(masks[2].mask), 50);

  // Exactly 0.5 is not a duplicate (the test is "> 0.5"): B' label 1 = x >= 15 overlaps A1
  // in 50 px of a 100 px union.
  const cv::Mat c = labels_from(10, 20, {{1, cv::Rect(15, 0, 5, 10)}});
  // C0 = x < 15 has Jaccard 100/150 with A0: a duplicate.
  const auto half = select_segments({{10, a}, {20, c}});
  ASSERT_EQ(half.size(), 3u);
  EXPECT_EQ(half[2].scale, 20);
  EXPECT_EQ(half[2].label, 1);
  // With a threshold below 0.5, C1 is a duplicate too.
  SegmentSelection strict;
  strict.jaccard = 0.49;
  EXPECT_EQ(select_segments({{10, a}, {20, c}}, strict).size(), 2u);
}

TEST(SelectSegments, AreaThresholdAndPerScaleLimit) {
  // 1000 pixels; label 1 has exactly 1 px (0.1 %: skipped, the test is "<= 0.1 %"),
  // label 2 has 2 px (kept); labels 3..9 are 10-px strips.
  cv::Mat m(10, 100, CV_32S, cv::Scalar(0));
  for (int l = 3; l <= 9; ++l) m(cv::Rect(10 * l, 0, 10, 10)).setTo(l);
  m.at<int32_t>(0, 0) = 1;
  m.at<int32_t>(1, 0) = 2;
  m.at<int32_t>(2, 0) = 2;
  SegmentSelection unlimited;
  unlimited.masks_per_scale = 100;
  const auto all = select_segments({{5, m}}, unlimited);
  ASSERT_EQ(all.size(), 9u);  // labels 0, 2..9
  EXPECT_EQ(all[0].label, 0);
  EXPECT_EQ(all[1].label, 2);
  EXPECT_EQ(all.back().label, 9);
  const auto five = select_segments({{5, m}});  // the default: 5 per scale, in label order
  ASSERT_EQ(five.size(), 5u);
  EXPECT_EQ(five[4].label, 5);
  // The per-scale limit restarts at the next scale, whose masks are new (Jaccard 0).
  cv::Mat shifted(10, 100, CV_32S, cv::Scalar(0));
  for (int l = 1; l < 10; ++l) shifted(cv::Rect(0, l, 100, 1)).setTo(l);
  const auto two_scales = select_segments({{5, m}, {6, shifted}});
  EXPECT_EQ(two_scales.size(), 10u);
}

TEST(SegmentElement, FillCropAndResize) {
  // 6×5 RGB image with value (10x+y, 100+y, 200-x) at (x, y).
  cv::Mat rgb(5, 6, CV_8UC3);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 6; ++x) rgb.at<cv::Vec3b>(y, x) = cv::Vec3b(10 * x + y, 100 + y, 200 - x);
  // An L-shaped mask touching the last row and column: (5,2),(5,3),(5,4),(4,4),(3,4).
  cv::Mat labels(5, 6, CV_32S, cv::Scalar(0));
  for (const auto& [x, y] :
       std::vector<std::pair<int, int>>{{5, 2}, {5, 3}, {5, 4}, {4, 4}, {3, 4}})
    labels.at<int32_t>(y, x) = 1;
  SegmentSelection keep_all;
  keep_all.masks_per_scale = 10;
  const auto masks = select_segments({{2, labels}}, keep_all);
  ASSERT_EQ(masks.size(), 2u);
  const SegmentMask& l = masks[1];
  ASSERT_EQ(l.bbox, cv::Rect(3, 2, 3, 3));  // last row and column included (defect 3)

  // The composite before resizing, built by hand: image inside, 117 outside the mask.
  cv::Mat expected_crop(3, 3, CV_8UC3, cv::Scalar::all(117));
  for (const auto& [x, y] :
       std::vector<std::pair<int, int>>{{5, 2}, {5, 3}, {5, 4}, {4, 4}, {3, 4}})
    expected_crop.at<cv::Vec3b>(y - 2, x - 3) = rgb.at<cv::Vec3b>(y, x);
  const cv::Mat expected =
      image::resize_like_pil(expected_crop, 6, 5, image::Interpolation::Bicubic);
  const cv::Mat element = segment_element(rgb, l, 117);
  ASSERT_EQ(element.size(), rgb.size());
  ASSERT_EQ(element.type(), CV_8UC3);
  EXPECT_EQ(cv::norm(element, expected, cv::NORM_INF), 0);

  // A mask covering the whole image: no crop, resize to the same size is the identity, so
  // the element is the image itself; and the fill shows where the mask is 0.
  cv::Mat whole(5, 6, CV_32S, cv::Scalar(0));
  const auto one = select_segments({{1, whole}});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(cv::norm(segment_element(rgb, one[0], 117), rgb, cv::NORM_INF), 0);
  SegmentMask holed = one[0];
  holed.mask.at<uint8_t>(0, 0) = 0;
  EXPECT_EQ(segment_element(rgb, holed, 7).at<cv::Vec3b>(0, 0), cv::Vec3b(7, 7, 7));
  EXPECT_EQ(segment_element(rgb, holed, 7).at<cv::Vec3b>(4, 5), rgb.at<cv::Vec3b>(4, 5));
}

TEST(SegmentElement, OnePixelImage) {
  cv::Mat rgb(1, 1, CV_8UC3, cv::Scalar(1, 2, 3));
  const auto masks = select_segments({{10, cv::Mat(1, 1, CV_32S, cv::Scalar(0))}});
  ASSERT_EQ(masks.size(), 1u);
  EXPECT_EQ(segment_element(rgb, masks[0]).at<cv::Vec3b>(0, 0), cv::Vec3b(1, 2, 3));
}

}  // namespace
}  // namespace iis::elements
