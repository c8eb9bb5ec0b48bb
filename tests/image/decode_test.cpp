// Tests of read_rgb/decode_rgb: every colour layout converted to 8-bit RGB with known values,
// and every kind of damaged file refused with an error naming it, silently.
#include "iis/image/decode.hpp"

// clang-format off
#include <cstdio>
#include <jpeglib.h>
// clang-format on
#include <gtest/gtest.h>
#include <png.h>
#include <zlib.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "test_support.hpp"

namespace iis::image {
namespace {

using Bytes = std::vector<unsigned char>;

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// A PNG of any libpng colour type and bit depth; `samples` are row-major, big-endian for 16 bits
// handled here. `palette` is used for PNG_COLOR_TYPE_PALETTE.
Bytes encode_png(int width, int height, int color_type, int bit_depth,
                 const std::vector<uint16_t>& samples, const std::vector<png_color>& palette = {}) {
  Bytes out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, png_size_t n) {
        auto* o = static_cast<Bytes*>(png_get_io_ptr(p));
        o->insert(o->end(), data, data + n);
      },
      nullptr);
  png_set_IHDR(png, info, width, height, bit_depth, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!palette.empty()) {
    png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  }
  png_write_info(png, info);
  if (bit_depth < 8) png_set_packing(png);  // one sample per byte in, packed out
  const int channels = static_cast<int>(samples.size()) / (width * height);
  const int bytes_per_sample = bit_depth == 16 ? 2 : 1;
  std::vector<unsigned char> row(static_cast<size_t>(width * channels * bytes_per_sample));
  for (int y = 0; y < height; ++y) {
    for (int i = 0; i < width * channels; ++i) {
      const uint16_t v = samples[static_cast<size_t>(y * width * channels + i)];
      if (bytes_per_sample == 2) {
        row[2 * i] = static_cast<unsigned char>(v >> 8);
        row[2 * i + 1] = static_cast<unsigned char>(v & 0xFF);
      } else {
        row[i] = static_cast<unsigned char>(v);
      }
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// A CMYK JPEG as Photoshop writes it (Adobe marker, inverted samples), of one flat colour.
Bytes encode_cmyk_jpeg(int width, int height, const unsigned char stored[4]) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_colorspace(&cinfo, JCS_CMYK);  // writes the Adobe marker
  jpeg_set_quality(&cinfo, 100, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<unsigned char> row(static_cast<size_t>(width) * 4);
  for (int x = 0; x < width; ++x) std::copy(stored, stored + 4, &row[4 * x]);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&cinfo, &r, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  Bytes out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

Bytes encode(const std::string& ext, const cv::Mat& bgr, std::vector<int> params = {}) {
  Bytes out;
  EXPECT_TRUE(cv::imencode(ext, bgr, out, params));
  return out;
}

// A 5×4 BGR test pattern with distinct values in every pixel and channel.
cv::Mat pattern_bgr() {
  cv::Mat m(4, 5, CV_8UC3);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 5; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(10 * x + y, 100 + 7 * y, 250 - x);
  return m;
}

cv::Vec3b at(const cv::Mat& m, int y, int x) { return m.at<cv::Vec3b>(y, x); }

TEST(Decode, LosslessFormatsGiveExactRgb) {
  const cv::Mat bgr = pattern_bgr();
  for (const std::string ext : {".png", ".bmp", ".tiff", ".webp"}) {
    std::vector<int> params;
    if (ext == ".webp") params = {cv::IMWRITE_WEBP_QUALITY, 101};  // lossless
    const cv::Mat rgb = decode_rgb(encode(ext, bgr, params), "pattern" + ext);
    ASSERT_EQ(rgb.type(), CV_8UC3) << ext;
    ASSERT_EQ(rgb.size(), bgr.size()) << ext;
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 5; ++x) {
        const cv::Vec3b b = at(bgr, y, x), r = at(rgb, y, x);
        EXPECT_EQ(r, cv::Vec3b(b[2], b[1], b[0])) << ext << " at " << x << "," << y;
      }
  }
}

TEST(Decode, JpegIsRgbOrdered) {
  cv::Mat bgr(16, 16, CV_8UC3, cv::Scalar(20, 120, 220));  // flat: JPEG keeps it nearly exact
  const cv::Mat rgb = decode_rgb(encode(".jpg", bgr, {cv::IMWRITE_JPEG_QUALITY, 100}), "x.jpg");
  const cv::Vec3b p = at(rgb, 7, 7);
  EXPECT_NEAR(p[0], 220, 2);
  EXPECT_NEAR(p[1], 120, 2);
  EXPECT_NEAR(p[2], 20, 2);
}

TEST(Decode, GrayscaleIsReplicated) {
  cv::Mat gray(3, 4, CV_8UC1);
  for (int i = 0; i < 12; ++i) gray.data[i] = static_cast<unsigned char>(20 * i + 3);
  for (const std::string ext : {".png", ".jpg"}) {
    const cv::Mat rgb =
        decode_rgb(encode(ext, gray, {cv::IMWRITE_JPEG_QUALITY, 100}), "gray" + ext);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    for (int i = 0; i < 12; ++i) {
      const cv::Vec3b p = rgb.at<cv::Vec3b>(i / 4, i % 4);
      EXPECT_EQ(p[0], p[1]);
      EXPECT_EQ(p[1], p[2]);
      EXPECT_NEAR(p[0], gray.data[i], ext == ".png" ? 0 : 3) << ext;
    }
  }
}

TEST(Decode, AlphaIsDroppedNotComposited) {
  // RGBA: colour kept even where fully transparent.
  const Bytes rgba = encode_png(2, 1, PNG_COLOR_TYPE_RGBA, 8, {10, 20, 30, 0, 40, 50, 60, 255});
  const cv::Mat a = decode_rgb(rgba, "rgba.png");
  EXPECT_EQ(at(a, 0, 0), cv::Vec3b(10, 20, 30));
  EXPECT_EQ(at(a, 0, 1), cv::Vec3b(40, 50, 60));
  // Grey + alpha.
  const Bytes la = encode_png(2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, {77, 0, 200, 128});
  const cv::Mat b = decode_rgb(la, "la.png");
  EXPECT_EQ(at(b, 0, 0), cv::Vec3b(77, 77, 77));
  EXPECT_EQ(at(b, 0, 1), cv::Vec3b(200, 200, 200));
  // OpenCV path: 4-channel TIFF.
  cv::Mat bgra(1, 1, CV_8UC4, cv::Scalar(1, 2, 3, 0));
  EXPECT_EQ(at(decode_rgb(encode(".tiff", bgra), "a.tiff"), 0, 0), cv::Vec3b(3, 2, 1));
}

TEST(Decode, PaletteIsExpanded) {
  const std::vector<png_color> palette = {{255, 0, 0}, {0, 128, 255}, {9, 8, 7}};
  const Bytes png = encode_png(3, 1, PNG_COLOR_TYPE_PALETTE, 8, {2, 0, 1}, palette);
  const cv::Mat rgb = decode_rgb(png, "palette.png");
  EXPECT_EQ(at(rgb, 0, 0), cv::Vec3b(9, 8, 7));
  EXPECT_EQ(at(rgb, 0, 1), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(at(rgb, 0, 2), cv::Vec3b(0, 128, 255));
  // 1-bit grey (sub-byte depth) is expanded to 0/255.
  const cv::Mat bits = decode_rgb(encode_png(2, 1, PNG_COLOR_TYPE_GRAY, 1, {1, 0}), "1bit.png");
  EXPECT_EQ(at(bits, 0, 0), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(at(bits, 0, 1), cv::Vec3b(0, 0, 0));
}

TEST(Decode, SixteenBitIsScaledBy257) {
  // round(v / 257) for v = 0, 257·100, 257·100 + 128 (rounds down), 257·100 + 129 (up), 65535.
  const std::vector<uint16_t> values = {0, 25700, 25828, 25829, 65535};
  const std::vector<int> expected = {0, 100, 100, 101, 255};
  const cv::Mat gray = decode_rgb(encode_png(5, 1, PNG_COLOR_TYPE_GRAY, 16, values), "g16.png");
  std::vector<uint16_t> rgb_values;
  for (uint16_t v : values) rgb_values.insert(rgb_values.end(), {v, v, v});
  const cv::Mat rgb = decode_rgb(encode_png(5, 1, PNG_COLOR_TYPE_RGB, 16, rgb_values), "c16.png");
  cv::Mat tiff16(1, 5, CV_16UC3);
  for (int x = 0; x < 5; ++x)
    tiff16.at<cv::Vec3w>(0, x) = cv::Vec3w(values[x], values[x], values[x]);
  const cv::Mat tiff = decode_rgb(encode(".tiff", tiff16), "c16.tiff");
  for (int x = 0; x < 5; ++x) {
    const auto e = static_cast<unsigned char>(expected[x]);
    EXPECT_EQ(at(gray, 0, x), cv::Vec3b(e, e, e)) << "grey16 " << values[x];
    EXPECT_EQ(at(rgb, 0, x), cv::Vec3b(e, e, e)) << "rgb16 " << values[x];
    EXPECT_EQ(at(tiff, 0, x), cv::Vec3b(e, e, e)) << "tiff16 " << values[x];
  }
}

TEST(Decode, CmykJpegFollowsPil) {
  // Stored (inverted) samples s; PIL: C = 255 - s, R = (255-K) - C·(255-K)/255 = s_c·s_k/255.
  const unsigned char stored[4] = {200, 100, 50, 230};
  const cv::Mat rgb = decode_rgb(encode_cmyk_jpeg(8, 8, stored), "cmyk.jpg");
  ASSERT_EQ(rgb.type(), CV_8UC3);
  const cv::Vec3b p = at(rgb, 4, 4);
  EXPECT_NEAR(p[0], 200 * 230 / 255.0, 2);
  EXPECT_NEAR(p[1], 100 * 230 / 255.0, 2);
  EXPECT_NEAR(p[2], 50 * 230 / 255.0, 2);
}

TEST(Decode, OnePixelImages) {
  for (const std::string ext : {".png", ".jpg", ".bmp", ".tiff", ".webp"}) {
    cv::Mat one(1, 1, CV_8UC3, cv::Scalar(50, 150, 250));
    const cv::Mat rgb = decode_rgb(encode(ext, one), "one" + ext);
    EXPECT_EQ(rgb.size(), cv::Size(1, 1)) << ext;
    EXPECT_EQ(rgb.type(), CV_8UC3) << ext;
  }
}

TEST(Decode, DamagedFilesAreRefusedSilentlyNamingTheFile) {
  test::TempDir dir;
  cv::Mat noise(64, 48, CV_8UC3);
  cv::randu(noise, 0, 255);
  auto half = [](Bytes b) { return Bytes(b.begin(), b.begin() + b.size() / 2); };
  const Bytes jpg = encode(".jpg", noise), png = encode(".png", noise);
  Bytes corrupt_jpg = jpg;
  for (size_t i = 200; i + 2 < corrupt_jpg.size(); i += 5) corrupt_jpg[i] ^= 0x5A;
  Bytes corrupt_png = png;
  corrupt_png[40] ^= 0xFF;  // inside IDAT: CRC mismatch
  Bytes huge_jpg = jpg;     // SOF0 claims 65000×65000: refused before any allocation
  for (size_t i = 2; i + 9 < huge_jpg.size(); ++i) {
    if (huge_jpg[i] == 0xFF && huge_jpg[i + 1] == 0xC0) {
      for (size_t k : {i + 5, i + 7}) huge_jpg[k] = 0xFD, huge_jpg[k + 1] = 0xE8;
      break;
    }
  }
  const std::string text = "hello, this is not an image\n";
  const std::vector<std::pair<std::string, Bytes>> cases = {
      {"zero byte.png", {}},
      {"truncated.jpg", half(jpg)},
      {"truncated.png", half(png)},
      {"truncated.bmp", half(encode(".bmp", noise))},
      {"truncated.tiff", half(encode(".tiff", noise))},
      {"truncated.webp", half(encode(".webp", noise))},
      {"corrupt.jpg", corrupt_jpg},
      {"corrupt.png", corrupt_png},
      {"not an image.jpg", Bytes(text.begin(), text.end())},
      {"header only.jpg", Bytes(jpg.begin(), jpg.begin() + 3)},
      {"huge.jpg", huge_jpg},
  };
  for (const auto& [name, bytes] : cases) {
    const std::string path = dir / name;
    write_file(path, bytes);
    testing::internal::CaptureStderr();
    const std::string error = test::error_of([&] { read_rgb(path); });
    const std::string printed = testing::internal::GetCapturedStderr();
    EXPECT_NE(error.find(path), std::string::npos) << name << ": '" << error << "'";
    EXPECT_EQ(printed, "") << name << " printed to stderr";
  }
  EXPECT_IIS_ERROR(read_rgb(dir / "zero byte.png"), "empty file");
  EXPECT_IIS_ERROR(read_rgb(dir / "truncated.jpg"), "truncated JPEG");
  EXPECT_IIS_ERROR(read_rgb(dir / "truncated.png"), "truncated PNG");
  EXPECT_IIS_ERROR(read_rgb(dir / "huge.jpg"), "image too large (65000x65000");
  EXPECT_IIS_ERROR(read_rgb(dir / "missing.png"), "cannot open");
  EXPECT_IIS_ERROR(read_rgb(dir.str()), "is a folder");
}

void put_u32_be(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<unsigned char>(v >> (24 - 8 * i));
}

// A 1 MB-class decompression bomb in miniature: a small PNG whose header (with a valid CRC)
// declares 20000×20000 pixels. It must be refused from the header, not decoded.
Bytes png_declaring(const Bytes& png, uint32_t width, uint32_t height) {
  Bytes b = png;
  put_u32_be(b, 16, width);
  put_u32_be(b, 20, height);
  put_u32_be(b, 29, static_cast<uint32_t>(crc32(0, &b[12], 17)));  // over "IHDR" + 13 bytes
  return b;
}

TEST(Decode, ImagesAboveThePixelCapAreRefusedFromTheHeader) {
  cv::Mat noise(64, 48, CV_8UC3);
  cv::randu(noise, 0, 255);
  EXPECT_EQ(max_image_pixels(), kDefaultMaxImagePixels);
  EXPECT_IIS_ERROR(decode_rgb(png_declaring(encode(".png", noise), 20000, 20000), "bomb.png"),
                   "bomb.png: image too large (20000x20000 = 400000000 pixels");
  // WebP (lossless) declares 16383×16383 in 14-bit fields.
  Bytes webp = encode(".webp", noise, {cv::IMWRITE_WEBP_QUALITY, 101});
  ASSERT_EQ(std::string(webp.begin() + 12, webp.begin() + 16), "VP8L");
  for (int i = 21; i < 25; ++i) webp[i] |= (i == 24 ? 0x0F : 0xFF);
  EXPECT_IIS_ERROR(decode_rgb(webp, "bomb.webp"), "image too large (16384x16384");
  // Every format follows the configured cap; 0 restores the default.
  set_max_image_pixels(64 * 48 - 1);
  for (const char* ext : {".png", ".jpg", ".bmp", ".tiff", ".webp"}) {
    EXPECT_IIS_ERROR(decode_rgb(encode(ext, noise), ext), "image too large (48x64 = 3072 pixels");
  }
  set_max_image_pixels(64 * 48);
  for (const char* ext : {".png", ".jpg", ".bmp", ".tiff", ".webp"}) {
    EXPECT_EQ(decode_rgb(encode(ext, noise), ext).size(), cv::Size(48, 64)) << ext;
  }
  set_max_image_pixels(0);
  EXPECT_EQ(max_image_pixels(), kDefaultMaxImagePixels);
}

TEST(Decode, OddFileNames) {
  test::TempDir dir;
  const std::string path = dir / "ünïcødé name with spaces, 画像 (1).PNG";
  write_file(path, encode(".png", pattern_bgr()));
  EXPECT_EQ(read_rgb(path).size(), cv::Size(5, 4));
}

}  // namespace
}  // namespace iis::image
