// Tests of the patch grid: cell geometry, order, resize, and images smaller than the grid.
#include "iis/elements/patches.hpp"

#include "test_support.hpp"

namespace iis::elements {
namespace {

TEST(GridPatches, GeometryAndValues) {
  // 10×9 image: cells of floor(10/4)=2 × floor(9/4)=2 pixels; each cell one flat colour, so
  // its resized patch is flat too. The unused right columns and bottom row are 255.
  cv::Mat rgb(9, 10, CV_8UC3, cv::Scalar::all(255));
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      rgb(cv::Rect(2 * c, 2 * r, 2, 2)).setTo(cv::Scalar(10 * r + c, 50 + c, 100 + r));
  const auto patches = grid_patches(rgb, 4, 16);
  ASSERT_EQ(patches.size(), 16u);
  for (int i = 0; i < 16; ++i) {
    const Patch& p = patches[static_cast<size_t>(i)];
    EXPECT_EQ(p.row, i / 4);  // row by row
    EXPECT_EQ(p.col, i % 4);
    EXPECT_EQ(p.cell, cv::Rect(2 * p.col, 2 * p.row, 2, 2));
    ASSERT_EQ(p.image.size(), cv::Size(16, 16));
    ASSERT_EQ(p.image.type(), CV_8UC3);
    cv::Mat expected(16, 16, CV_8UC3, cv::Scalar(10 * p.row + p.col, 50 + p.col, 100 + p.row));
    EXPECT_EQ(cv::norm(p.image, expected, cv::NORM_INF), 0) << i;
  }
  // Other grid and size options.
  const auto two = grid_patches(rgb, 2, 3);
  ASSERT_EQ(two.size(), 4u);
  EXPECT_EQ(two[3].cell, cv::Rect(5, 4, 5, 4));
  EXPECT_EQ(two[3].image.size(), cv::Size(3, 3));
}

TEST(GridPatches, SmallerThanTheGrid) {
  cv::Mat one(1, 1, CV_8UC3, cv::Scalar::all(9));
  EXPECT_IIS_ERROR(grid_patches(one, 4, 224), "smaller than the 4x4 patch grid");
  cv::Mat thin(3, 40, CV_8UC3, cv::Scalar::all(9));
  EXPECT_IIS_ERROR(grid_patches(thin, 4, 224), "smaller than the 4x4 patch grid");
  cv::Mat exact(4, 4, CV_8UC3, cv::Scalar::all(9));
  EXPECT_EQ(grid_patches(exact, 4, 8).size(), 16u);  // 1×1 cells
  EXPECT_EQ(grid_patches(one, 1, 5)[0].image.at<cv::Vec3b>(2, 2), cv::Vec3b(9, 9, 9));
}

}  // namespace
}  // namespace iis::elements
