// Decoding image files into 8-bit RGB: JPEG and PNG through libjpeg and libpng directly
// (silent, and strict about truncation), every other format through OpenCV.
#include "iis/image/decode.hpp"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE and size_t first
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#include <png.h>

#include <atomic>
#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "iis/core/error.hpp"

namespace iis::image {

namespace {

std::atomic<uint64_t> g_max_pixels{kDefaultMaxImagePixels};

constexpr const char* kDamagedHint =
    "the file is damaged or not an image; replace or remove it (`iis elements` skips and lists "
    "such files)";

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  IIS_FAIL(name << ": " << what, kDamagedHint);
}

// Checked from the header, before any pixel buffer is allocated: a small compressed file
// can declare an image of gigabytes (a decompression bomb).
void check_size(const std::string& name, uint64_t width, uint64_t height) {
  if (width == 0 || height == 0) fail(name, "image has zero width or height");
  const uint64_t cap = max_image_pixels();
  if (width * height > cap) {
    IIS_FAIL(name << ": image too large (" << width << "x" << height << " = " << width * height
                  << " pixels, above the cap of " << cap << ")",
             "downscale the image, or raise the cap with `iis --max-image-pixels N` (each image "
             "in flight takes about 3 bytes a pixel decoded, several times that while it is "
             "processed, once per worker thread)");
  }
}

// ---- JPEG (libjpeg) --------------------------------------------------------------------

struct JpegErrors {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated = false;
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings are not printed. The only one that matters is the end of the data before the end
// of the image: libjpeg then fills the rest with grey, PIL refuses the file, and so do we.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    reinterpret_cast<JpegErrors*>(cinfo->err)->truncated = true;
  }
}

// PIL's CMYK -> RGB (Pillow 9): R = (255-K) - (C·(255-K))/255 with rounding; files with an
// Adobe marker store inverted CMYK (Photoshop's convention, which PIL follows).
inline uint8_t mul_div_255(int a, int b) {
  int t = a * b + 128;
  return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}

void cmyk_row_to_rgb(const uint8_t* in, uint8_t* out, int width, bool inverted) {
  for (int x = 0; x < width; ++x, in += 4, out += 3) {
    int c = in[0], m = in[1], y = in[2], k = in[3];
    if (inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
    int nk = 255 - k;
    out[0] = static_cast<uint8_t>(nk - mul_div_255(c, nk));
    out[1] = static_cast<uint8_t>(nk - mul_div_255(m, nk));
    out[2] = static_cast<uint8_t>(nk - mul_div_255(y, nk));
  }
}

cv::Mat decode_jpeg(const std::vector<unsigned char>& bytes, const std::string& name) {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.pub);
  errors.pub.error_exit = jpeg_on_error;
  errors.pub.emit_message = jpeg_on_message;
  // Declared before setjmp: nothing with a destructor may start its life after it.
  cv::Mat rgb;
  std::vector<uint8_t> cmyk_row;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    fail(name, std::string("corrupt JPEG (") + errors.message + ")");
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  // Checked before start_decompress, which allocates whole-image buffers for progressive
  // files.
  try {
    check_size(name, cinfo.image_width, cinfo.image_height);
  } catch (...) {
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  // Grayscale, YCbCr and RGB all come out as RGB (grey replicated, as PIL's convert("RGB")).
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int width = static_cast<int>(cinfo.output_width);
  rgb.create(static_cast<int>(cinfo.output_height), width, CV_8UC3);
  if (cmyk) cmyk_row.resize(static_cast<size_t>(width) * 4);
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t* out = rgb.ptr<uint8_t>(static_cast<int>(cinfo.output_scanline));
    JSAMPROW row = cmyk ? cmyk_row.data() : out;
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (cmyk) cmyk_row_to_rgb(cmyk_row.data(), out, width, cinfo.saw_Adobe_marker);
    if (errors.truncated) break;
  }
  const bool truncated = errors.truncated;
  if (!truncated) jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (truncated) fail(name, "truncated JPEG (the data ends before the image does)");
  return rgb;
}

// ---- PNG (libpng) ----------------------------------------------------------------------

struct PngSource {
  const unsigned char* data;
  size_t size, offset;
};

struct PngErrors {
  std::string message;
};

void png_on_error(png_structp png, png_const_charp message) {
  static_cast<PngErrors*>(png_get_error_ptr(png))->message = message;
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}  // e.g. "iCCP: known incorrect sRGB profile"

void png_read_memory(png_structp png, png_bytep out, png_size_t length) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (source->size - source->offset < length) png_error(png, "truncated PNG");
  std::memcpy(out, source->data + source->offset, length);
  source->offset += length;
}

cv::Mat decode_png(const std::vector<unsigned char>& bytes, const std::string& name) {
  PngErrors errors;
  PngSource source{bytes.data(), bytes.size(), 0};
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &errors, png_on_error, png_on_warning);
  IIS_CHECK(png != nullptr, name << ": out of memory starting the PNG decoder");
  png_infop info = png_create_info_struct(png);
  cv::Mat rgb;
  std::vector<png_bytep> rows;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    fail(name, errors.message.find("truncated") != std::string::npos
                   ? std::string("truncated PNG (the data ends before the image does)")
                   : "corrupt PNG (" + errors.message + ")");
  }
  if (info == nullptr) png_error(png, "out of memory");
  png_set_read_fn(png, &source, png_read_memory);
  png_set_benign_errors(png, 1);
  png_read_info(png, info);
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, nullptr, nullptr, nullptr);
  try {
    check_size(name, width, height);
  } catch (...) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw;
  }
  png_set_expand(png);  // palette -> RGB, grey < 8 bits -> 8 bits, tRNS -> alpha
  if (bit_depth == 16) png_set_scale_16(png);  // round(v / 257)
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_gray_to_rgb(png);
  }
  png_set_strip_alpha(png);  // dropped, not composited (PIL's convert("RGB"))
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8) {
    png_error(png, "unexpected pixel layout after conversion");
  }
  rgb.create(static_cast<int>(height), static_cast<int>(width), CV_8UC3);
  rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = rgb.ptr<uint8_t>(static_cast<int>(y));
  png_read_image(png, rows.data());
  // The end of the file (IEND, text after the image) is not read: the pixels are complete.
  png_destroy_read_struct(&png, &info, nullptr);
  return rgb;
}

// ---- Everything else (OpenCV) ----------------------------------------------------------

uint32_t read_u32(const unsigned char* p, bool little) {
  return little ? p[0] | p[1] << 8 | p[2] << 16 | uint32_t{p[3]} << 24
                : uint32_t{p[0]} << 24 | p[1] << 16 | p[2] << 8 | p[3];
}
uint16_t read_u16(const unsigned char* p, bool little) {
  return static_cast<uint16_t>(little ? p[0] | p[1] << 8 : p[0] << 8 | p[1]);
}

// OpenCV prints to stderr when its BMP or TIFF decoders run out of data, so truncation is
// detected here first. Returns a reason, or "" when the file looks complete.
std::string bmp_truncation(const std::vector<unsigned char>& b) {
  if (b.size() < 34) return "truncated BMP header";
  const uint32_t data_offset = read_u32(&b[10], true), header_size = read_u32(&b[14], true);
  if (header_size < 40) return "";  // old OS/2 header: left to OpenCV
  const int64_t width = static_cast<int32_t>(read_u32(&b[18], true));
  const int64_t height =
      std::abs(static_cast<int64_t>(static_cast<int32_t>(read_u32(&b[22], true))));
  const uint32_t bits = read_u16(&b[28], true), compression = read_u32(&b[30], true);
  if (compression != 0 && compression != 3) return "";  // RLE: length unknown in advance
  const uint64_t stride =
      ((static_cast<uint64_t>(std::max<int64_t>(width, 0)) * bits + 31) / 32) * 4;
  if (uint64_t{data_offset} + stride * height > b.size()) return "truncated BMP";
  return "";
}

std::string tiff_truncation(const std::vector<unsigned char>& b) {
  if (b.size() < 8) return "truncated TIFF header";
  const bool little = b[0] == 'I';
  if (read_u16(&b[2], little) != 42) return "";  // BigTIFF: left to OpenCV
  const uint64_t ifd = read_u32(&b[4], little);
  if (ifd + 2 > b.size()) return "truncated TIFF (directory beyond the end of the file)";
  const uint32_t entries = read_u16(&b[ifd], little);
  if (ifd + 2 + uint64_t{entries} * 12 > b.size()) return "truncated TIFF directory";
  // Values of a SHORT (3) or LONG (4) array tag, inline or at an offset.
  auto values = [&](const unsigned char* entry, std::vector<uint64_t>& out) -> bool {
    const uint16_t type = read_u16(entry + 2, little);
    const uint64_t count = read_u32(entry + 4, little);
    const uint64_t size = type == 3 ? 2 : type == 4 ? 4 : 0;
    if (size == 0 || count > (uint64_t{1} << 24)) return false;
    const unsigned char* p = entry + 8;
    if (count * size > 4) {
      const uint64_t offset = read_u32(entry + 8, little);
      if (offset + count * size > b.size()) return false;
      p = &b[offset];
    }
    out.resize(count);
    for (uint64_t i = 0; i < count; ++i) {
      out[i] = size == 2 ? read_u16(p + 2 * i, little) : read_u32(p + 4 * i, little);
    }
    return true;
  };
  std::vector<uint64_t> offsets, counts;
  bool bad_array = false;
  for (uint32_t i = 0; i < entries; ++i) {
    const unsigned char* entry = &b[ifd + 2 + i * 12];
    const uint16_t tag = read_u16(entry, little);
    if (tag == 273 || tag == 324) bad_array |= !values(entry, offsets);  // strip/tile offsets
    if (tag == 279 || tag == 325) bad_array |= !values(entry, counts);   // their byte counts
  }
  if (bad_array) return "truncated or corrupt TIFF directory";
  for (size_t i = 0; i < offsets.size() && i < counts.size(); ++i) {
    if (offsets[i] + counts[i] > b.size()) return "truncated TIFF (image data cut off)";
  }
  return "";
}

// The width and height a TIFF's first directory or a WebP's header declares, checked
// before OpenCV allocates (both can compress a huge image into a small file). Other formats
// are checked by OpenCV's own limit and again after decoding.
void check_tiff_size(const std::vector<unsigned char>& b, const std::string& name) {
  const bool little = b[0] == 'I';
  const uint64_t ifd = read_u32(&b[4], little);
  if (ifd + 2 > b.size()) return;
  const uint32_t entries = read_u16(&b[ifd], little);
  uint64_t width = 0, height = 0;
  for (uint32_t i = 0; i < entries && ifd + 2 + (i + 1) * 12 <= b.size(); ++i) {
    const unsigned char* entry = &b[ifd + 2 + i * 12];
    const uint16_t tag = read_u16(entry, little), type = read_u16(entry + 2, little);
    const uint64_t value = type == 3 ? read_u16(entry + 8, little) : read_u32(entry + 8, little);
    if (tag == 256) width = value;
    if (tag == 257) height = value;
  }
  if (width > 0 && height > 0) check_size(name, width, height);
}

void check_webp_size(const std::vector<unsigned char>& b, const std::string& name) {
  if (b.size() < 30) return;
  const unsigned char* chunk = &b[12];
  if (std::memcmp(chunk, "VP8X", 4) == 0) {  // canvas size, 24 bits each, minus one
    check_size(name, 1 + (b[24] | b[25] << 8 | uint64_t{b[26]} << 16),
               1 + (b[27] | b[28] << 8 | uint64_t{b[29]} << 16));
  } else if (std::memcmp(chunk, "VP8L", 4) == 0) {  // 14 bits each, minus one
    const uint32_t bits = read_u32(&b[21], true);
    check_size(name, 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF));
  } else if (std::memcmp(chunk, "VP8 ", 4) == 0) {  // key frame: 14 bits each
    check_size(name, read_u16(&b[26], true) & 0x3FFF, read_u16(&b[28], true) & 0x3FFF);
  }
}

// An OpenCV image of any depth and channel count (BGR order) as 8-bit RGB.
cv::Mat opencv_to_rgb(const cv::Mat& image, const std::string& name) {
  cv::Mat eight;
  switch (image.depth()) {
    case CV_8U:
      eight = image;
      break;
    case CV_8S:
      image.convertTo(eight, CV_8U, 1.0, 128.0);
      break;
    case CV_16U:
      image.convertTo(eight, CV_8U, 1.0 / 257.0);
      break;
    case CV_16S:
      image.convertTo(eight, CV_8U, 1.0 / 257.0, 128.0);
      break;
    case CV_32F:
    case CV_64F:  // HDR/EXR/float TIFF: [0, 1] is the displayable range
      image.convertTo(eight, CV_8U, 255.0);
      break;
    default:
      fail(name, "unsupported pixel depth");
  }
  cv::Mat rgb;
  switch (eight.channels()) {
    case 1:
      cv::cvtColor(eight, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 2: {  // grey + alpha
      cv::Mat grey;
      cv::extractChannel(eight, grey, 0);
      cv::cvtColor(grey, rgb, cv::COLOR_GRAY2RGB);
      break;
    }
    case 3:
      cv::cvtColor(eight, rgb, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(eight, rgb, cv::COLOR_BGRA2RGB);
      break;
    default:
      fail(name, "unsupported channel count " + std::to_string(eight.channels()));
  }
  return rgb;
}

cv::Mat decode_with_opencv(const std::vector<unsigned char>& bytes, const std::string& name) {
  static std::once_flag quiet_once;
  std::call_once(quiet_once, [] {
    // Corrupt files are reported through iis::Error; OpenCV's own warnings would only break
    // progress bars.
    if (cv::utils::logging::getLogLevel() > cv::utils::logging::LOG_LEVEL_ERROR) {
      cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    }
  });
  const bool bmp = bytes.size() >= 2 && bytes[0] == 'B' && bytes[1] == 'M';
  const bool tiff = bytes.size() >= 4 && ((bytes[0] == 'I' && bytes[1] == 'I' && bytes[2] == 42) ||
                                          (bytes[0] == 'M' && bytes[1] == 'M' && bytes[3] == 42));
  const std::string truncation = bmp ? bmp_truncation(bytes) : tiff ? tiff_truncation(bytes) : "";
  if (!truncation.empty()) fail(name, truncation);
  if (tiff) check_tiff_size(bytes, name);
  const bool webp = bytes.size() >= 12 && std::memcmp(&bytes[0], "RIFF", 4) == 0 &&
                    std::memcmp(&bytes[8], "WEBP", 4) == 0;
  if (webp) check_webp_size(bytes, name);
  cv::Mat image;
  try {
    image = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    fail(name, std::string("cannot be decoded (") + e.what() + ")");
  }
  if (image.empty()) {
    fail(name, bmp || tiff ? std::string("corrupt ") + (bmp ? "BMP" : "TIFF")
                           : "not an image, or a corrupt or unsupported one");
  }
  check_size(name, static_cast<uint64_t>(image.cols), static_cast<uint64_t>(image.rows));
  return opencv_to_rgb(image, name);
}

}  // namespace

void set_max_image_pixels(uint64_t pixels) {
  g_max_pixels = pixels == 0 ? kDefaultMaxImagePixels : pixels;
}

uint64_t max_image_pixels() { return g_max_pixels; }

cv::Mat decode_rgb(const std::vector<unsigned char>& bytes, const std::string& name) {
  if (bytes.empty()) fail(name, "empty file (0 bytes)");
  const unsigned char* b = bytes.data();
  if (bytes.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
    return decode_jpeg(bytes, name);
  }
  static const unsigned char kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (bytes.size() >= 8 && std::memcmp(b, kPngSignature, 8) == 0) return decode_png(bytes, name);
  return decode_with_opencv(bytes, name);
}

cv::Mat read_rgb(const std::string& path) {
  std::error_code ec;
  IIS_CHECK_HINT(!std::filesystem::is_directory(path, ec), path << ": is a folder, not an image",
                 "give the path of an image file");
  std::ifstream file(path, std::ios::binary);
  IIS_CHECK_HINT(file.good(), path << ": cannot open the image file",
                 "check that the path exists and is readable");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(file)),
                                   std::istreambuf_iterator<char>());
  IIS_CHECK_HINT(!file.bad(), path << ": read error", "check the file system");
  return decode_rgb(bytes, path);
}

}  // namespace iis::image
