// Selection of superpixel masks across scales and their compositing into element images.
#include "iis/elements/segments.hpp"

#include <algorithm>

#include "iis/core/error.hpp"
#include "iis/image/preprocess.hpp"

namespace iis::elements {

namespace {

// Area and tight bounding box of every label of a map, in one pass.
struct LabelStats {
  std::vector<int64_t> area;
  std::vector<int> x0, y0, x1, y1;  // inclusive
};

LabelStats label_stats(const cv::Mat& labels, int count) {
  LabelStats s;
  s.area.assign(count, 0);
  s.x0.assign(count, labels.cols);
  s.y0.assign(count, labels.rows);
  s.x1.assign(count, -1);
  s.y1.assign(count, -1);
  for (int y = 0; y < labels.rows; ++y) {
    const int32_t* row = labels.ptr<int32_t>(y);
    for (int x = 0; x < labels.cols; ++x) {
      const int l = row[x];
      ++s.area[l];
      s.x0[l] = std::min(s.x0[l], x);
      s.x1[l] = std::max(s.x1[l], x);
      s.y0[l] = std::min(s.y0[l], y);
      s.y1[l] = std::max(s.y1[l], y);
    }
  }
  return s;
}

}  // namespace

std::vector<SegmentMask> select_segments(const std::vector<ScaleLabels>& scales,
                                         const SegmentSelection& selection) {
  std::vector<SegmentMask> accepted;
  std::vector<int64_t> accepted_area;
  for (const ScaleLabels& scale : scales) {
    const cv::Mat& labels = scale.labels;
    IIS_ASSERT(labels.type() == CV_32SC1 && !labels.empty(),
               "label map of scale " << scale.scale << " must be a non-empty CV_32S matrix");
    IIS_ASSERT(accepted.empty() || labels.size() == accepted.front().mask.size(),
               "label maps of different sizes");
    double min_label = 0, max_label = 0;
    cv::minMaxLoc(labels, &min_label, &max_label);
    IIS_ASSERT(min_label >= 0, "negative label in the map of scale " << scale.scale);
    const int count = static_cast<int>(max_label) + 1;
    const LabelStats stats = label_stats(labels, count);
    const double pixels = static_cast<double>(labels.total());

    // overlap[k][l]: pixels of label l inside the k-th mask accepted at an earlier scale.
    // Masks accepted at this scale are disjoint from every other label of it (overlap 0).
    const size_t earlier = accepted.size();
    std::vector<std::vector<int64_t>> overlap(earlier, std::vector<int64_t>(count, 0));
    for (size_t k = 0; k < earlier; ++k) {
      for (int y = 0; y < labels.rows; ++y) {
        const int32_t* row = labels.ptr<int32_t>(y);
        const uint8_t* inside = accepted[k].mask.ptr<uint8_t>(y);
        for (int x = 0; x < labels.cols; ++x) overlap[k][row[x]] += inside[x];
      }
    }

    int taken = 0;
    for (int l = 0; l < count && taken < selection.masks_per_scale; ++l) {
      const int64_t area = stats.area[l];
      if (area == 0 || area / pixels <= selection.min_area) continue;
      bool unique = true;
      for (size_t k = 0; k < earlier && unique; ++k) {
        const double intersection = static_cast<double>(overlap[k][l]);
        const double union_ = static_cast<double>(area + accepted_area[k]) - intersection;
        unique = intersection / union_ <= selection.jaccard;
      }
      if (!unique) continue;
      SegmentMask m;
      m.scale = scale.scale;
      m.label = l;
      m.bbox = cv::Rect(stats.x0[l], stats.y0[l], stats.x1[l] - stats.x0[l] + 1,
                        stats.y1[l] - stats.y0[l] + 1);
      m.area = area / pixels;
      cv::compare(labels, cv::Scalar(l), m.mask, cv::CMP_EQ);  // 255 inside
      m.mask &= 1;
      accepted.push_back(std::move(m));
      accepted_area.push_back(area);
      ++taken;
    }
  }
  return accepted;
}

cv::Mat segment_element(const cv::Mat& rgb, const SegmentMask& mask, int fill) {
  IIS_ASSERT(rgb.type() == CV_8UC3 && rgb.size() == mask.mask.size(),
             "segment_element needs an RGB image of the mask's size");
  const cv::Mat image = rgb(mask.bbox), inside = mask.mask(mask.bbox);
  cv::Mat crop(image.size(), CV_8UC3, cv::Scalar::all(fill));
  image.copyTo(crop, inside);
  return image::resize_like_pil(crop, rgb.cols, rgb.rows, image::Interpolation::Bicubic);
}

}  // namespace iis::elements
