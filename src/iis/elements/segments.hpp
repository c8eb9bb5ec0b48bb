// Superpixel segments as concept candidates (the reference's segment_extractor, from ACE):
// mask selection across SLIC scales, and the compositing of one mask into an element image.
#pragma once

#include <opencv2/core.hpp>
#include <vector>

namespace iis::elements {

// Which superpixels become elements. Defaults are the reference's.
struct SegmentSelection {
  int masks_per_scale = 5;  // at most this many accepted masks per scale
  double min_area = 0.001;  // masks covering <= this fraction of the image are skipped
  double jaccard = 0.5;  // masks whose Jaccard overlap with an accepted one is > this are skipped
};

// One accepted superpixel mask.
struct SegmentMask {
  int scale = 0;    // the n_segments of the label map it came from
  int label = 0;    // its label in that map
  cv::Rect bbox;    // tight bounding box, last row and column included
  double area = 0;  // fraction of the image it covers, in (0, 1]
  cv::Mat mask;     // H×W CV_8UC1, 1 inside, 0 outside
};

// A label map of one scale: H×W CV_32S, labels 0..n-1 (as iis::image::slic returns).
struct ScaleLabels {
  int scale = 0;
  cv::Mat labels;
};

// Goes through the scales in order and, in each, through every label 0..max in order: skips a
// mask covering <= min_area of the image, or whose Jaccard overlap with any mask accepted so
// far (any scale) is > jaccard; accepts at most masks_per_scale per scale. All maps must have
// the same size. Returns the accepted masks in acceptance order.
std::vector<SegmentMask> select_segments(const std::vector<ScaleLabels>& scales,
                                         const SegmentSelection& selection = {});

// The element image of one mask: `rgb` (H×W CV_8UC3) inside the mask, the constant `fill`
// outside, cropped to bbox and resized back to H×W with PIL's bicubic filter (bit-exact).
cv::Mat segment_element(const cv::Mat& rgb, const SegmentMask& mask, int fill = 117);

}  // namespace iis::elements
