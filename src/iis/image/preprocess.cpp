// Evaluation preprocessing: PIL-exact antialiased resize, torchvision's centre crop, scaling
// and normalisation into CHW float tensors.
#include "iis/image/preprocess.hpp"

#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "iis/core/error.hpp"
#include "iis/core/text.hpp"

namespace iis::image {

namespace {

// PIL's fixed-point precision for 8-bit resampling (Resample.c: 32 - 8 - 2).
constexpr int kPrecisionBits = 22;

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys' cubic with a = -0.5, as PIL.
double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Fixed-point weights of output positions [first, last) of a 1-D resample in_size → out_size.
struct Taps {
  int ksize = 0;
  std::vector<int> start;        // first input index per output position
  std::vector<int> count;        // number of inputs per output position
  std::vector<int32_t> weights;  // (last - first) × ksize

  int lowest() const { return *std::min_element(start.begin(), start.end()); }
  int highest() const {
    int h = 0;
    for (size_t i = 0; i < start.size(); ++i) h = std::max(h, start[i] + count[i]);
    return h;
  }
};

Taps precompute_taps(int in_size, int out_size, int first, int last, Interpolation interpolation) {
  double (*filter)(double) =
      interpolation == Interpolation::Bicubic ? bicubic_filter : bilinear_filter;
  const double filter_support = interpolation == Interpolation::Bicubic ? 2.0 : 1.0;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(1.0, scale);
  const double support = filter_support * filterscale;
  Taps taps;
  taps.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  const int n = last - first;
  taps.start.resize(n);
  taps.count.resize(n);
  taps.weights.assign(static_cast<size_t>(n) * taps.ksize, 0);
  std::vector<double> w(taps.ksize);
  for (int xx = first; xx < last; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);  // truncation, as PIL's C cast
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = filter((x + xmin - center + 0.5) * ss);
      total += w[x];
    }
    int32_t* k = &taps.weights[static_cast<size_t>(xx - first) * taps.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double v = total != 0.0 ? w[x] / total : w[x];
      const double scaled = v * (1 << kPrecisionBits);
      k[x] = static_cast<int32_t>(v < 0 ? scaled - 0.5 : scaled + 0.5);
    }
    taps.start[xx - first] = xmin;
    taps.count[xx - first] = xmax;
  }
  return taps;
}

inline uint8_t clip8(int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// PIL's NEAREST resize is an affine scale: source index = int((i + 0.5) * in/out), with the
// position accumulated step by step as PIL does.
std::vector<int> nearest_table(int in_size, int out_size) {
  std::vector<int> table(out_size);
  const double a = static_cast<double>(in_size) / out_size;
  double pos = a * 0.5;
  for (int i = 0; i < out_size; ++i) {
    table[i] = std::min(in_size - 1, std::max(0, static_cast<int>(pos)));
    pos += a;
  }
  return table;
}

// Writes the part [x_first, x_last) × [y_first, y_last) of `src` resized to out_w×out_h into
// `dst` (a (y_last-y_first)×(x_last-x_first) view of the same type).
void resample_region(const cv::Mat& src, int out_w, int out_h, int x_first, int x_last, int y_first,
                     int y_last, Interpolation interpolation, cv::Mat& dst) {
  const int cn = src.channels();
  const int nx = x_last - x_first, ny = y_last - y_first;
  if (nx <= 0 || ny <= 0) return;
  if (interpolation == Interpolation::Nearest) {
    const bool same = out_w == src.cols && out_h == src.rows;
    auto xs = same ? std::vector<int>() : nearest_table(src.cols, out_w);
    auto ys = same ? std::vector<int>() : nearest_table(src.rows, out_h);
    for (int y = 0; y < ny; ++y) {
      const int sy = same ? y + y_first : ys[y + y_first];
      const uint8_t* in = src.ptr<uint8_t>(sy);
      uint8_t* out = dst.ptr<uint8_t>(y);
      for (int x = 0; x < nx; ++x) {
        const int sx = same ? x + x_first : xs[x + x_first];
        for (int c = 0; c < cn; ++c) out[x * cn + c] = in[sx * cn + c];
      }
    }
    return;
  }
  const bool need_h = out_w != src.cols;
  const bool need_v = out_h != src.rows;

  // Input rows the vertical pass reads.
  Taps vtaps;
  int row_lo = y_first, row_hi = y_last;
  if (need_v) {
    vtaps = precompute_taps(src.rows, out_h, y_first, y_last, interpolation);
    row_lo = vtaps.lowest();
    row_hi = vtaps.highest();
  }
  // Horizontal pass (or a plain copy of the needed columns) into `mid`, 8-bit like PIL.
  cv::Mat mid(row_hi - row_lo, nx, src.type());
  if (need_h) {
    Taps htaps = precompute_taps(src.cols, out_w, x_first, x_last, interpolation);
    for (int r = row_lo; r < row_hi; ++r) {
      const uint8_t* in = src.ptr<uint8_t>(r);
      uint8_t* out = mid.ptr<uint8_t>(r - row_lo);
      for (int x = 0; x < nx; ++x) {
        const int32_t* k = &htaps.weights[static_cast<size_t>(x) * htaps.ksize];
        const uint8_t* p = in + htaps.start[x] * cn;
        const int count = htaps.count[x];
        if (cn == 3) {
          int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
          for (int t = 0; t < count; ++t) {
            s0 += p[3 * t] * k[t];
            s1 += p[3 * t + 1] * k[t];
            s2 += p[3 * t + 2] * k[t];
          }
          out[3 * x] = clip8(s0);
          out[3 * x + 1] = clip8(s1);
          out[3 * x + 2] = clip8(s2);
        } else {
          for (int c = 0; c < cn; ++c) {
            int32_t s = 1 << (kPrecisionBits - 1);
            for (int t = 0; t < count; ++t) s += p[cn * t + c] * k[t];
            out[cn * x + c] = clip8(s);
          }
        }
      }
    }
  } else {
    for (int r = row_lo; r < row_hi; ++r) {
      std::copy_n(src.ptr<uint8_t>(r) + x_first * cn, nx * cn, mid.ptr<uint8_t>(r - row_lo));
    }
  }
  if (!need_v) {
    mid.copyTo(dst);
    return;
  }
  // Vertical pass, one output row at a time over whole rows (vectorises well).
  const int width = nx * cn;
  std::vector<int32_t> acc(width);
  for (int y = 0; y < ny; ++y) {
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    const int32_t* k = &vtaps.weights[static_cast<size_t>(y) * vtaps.ksize];
    for (int t = 0; t < vtaps.count[y]; ++t) {
      const uint8_t* in = mid.ptr<uint8_t>(vtaps.start[y] + t - row_lo);
      const int32_t kt = k[t];
      for (int i = 0; i < width; ++i) acc[i] += in[i] * kt;
    }
    uint8_t* out = dst.ptr<uint8_t>(y);
    for (int i = 0; i < width; ++i) out[i] = clip8(acc[i]);
  }
}

// RGB (or gray) 8-bit → the requested channel count: PIL's convert("L") luma for 1 channel.
cv::Mat to_channels(const cv::Mat& image, int64_t channels) {
  IIS_CHECK(image.depth() == CV_8U && (image.channels() == 3 || image.channels() == 1),
            "preprocess expects an 8-bit RGB image, got OpenCV type " << image.type());
  if (image.channels() == channels) return image;
  if (channels == 3) {
    cv::Mat rgb(image.rows, image.cols, CV_8UC3);
    for (int y = 0; y < image.rows; ++y) {
      const uint8_t* in = image.ptr<uint8_t>(y);
      uint8_t* out = rgb.ptr<uint8_t>(y);
      for (int x = 0; x < image.cols; ++x) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[x];
    }
    return rgb;
  }
  cv::Mat gray(image.rows, image.cols, CV_8UC1);
  for (int y = 0; y < image.rows; ++y) {
    const uint8_t* in = image.ptr<uint8_t>(y);
    uint8_t* out = gray.ptr<uint8_t>(y);
    for (int x = 0; x < image.cols; ++x) {
      out[x] = static_cast<uint8_t>(
          (in[3 * x] * 19595 + in[3 * x + 1] * 38470 + in[3 * x + 2] * 7471 + 0x8000) >> 16);
    }
  }
  return gray;
}

// The size after resizing (torchvision's _compute_resized_output_size for one int).
std::pair<int64_t, int64_t> resized_hw(const Preprocess& p, int64_t h, int64_t w) {
  if (p.resize_size <= 0) return {h, w};
  const int64_t shorter = std::min(h, w), longer = std::max(h, w);
  const auto new_long = static_cast<int64_t>(static_cast<double>(p.resize_size * longer) / shorter);
  return w <= h ? std::make_pair(new_long, p.resize_size) : std::make_pair(p.resize_size, new_long);
}

// torchvision's centre-crop offset along one axis: int(round((size - crop) / 2)) with
// Python's round-half-to-even, or minus the left padding when the crop is larger.
int64_t crop_offset(int64_t size, int64_t crop) {
  if (crop > size) return -((crop - size) / 2);
  return static_cast<int64_t>(std::nearbyint((size - crop) / 2.0));
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The shortest text, with at least 6 significant digits (the stream's default), that reads
// back as exactly `x`: 0.485f stays "0.485", 0.1234567f needs "0.1234567".
std::string float_text(float x) {
  std::string text;
  for (int digits = 6; digits <= 9; ++digits) {
    std::ostringstream out;
    out.precision(digits);
    out << x;
    text = out.str();
    if (std::strtof(text.c_str(), nullptr) == x) break;
  }
  return text;
}

std::string list_text(const std::vector<float>& v) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << float_text(v[i]);
  out << "]";
  return out.str();
}

}  // namespace

Interpolation parse_interpolation(const std::string& name, const std::string& what) {
  const std::string n = lower(name);
  if (n == "bilinear") return Interpolation::Bilinear;
  if (n == "bicubic") return Interpolation::Bicubic;
  if (n == "nearest") return Interpolation::Nearest;
  IIS_FAIL(what << ": unknown interpolation '" << name << "'", "use bilinear, bicubic or nearest");
}

std::string to_string(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::Nearest:
      return "nearest";
    case Interpolation::Bicubic:
      return "bicubic";
    default:
      return "bilinear";
  }
}

void Preprocess::validate() const {
  IIS_CHECK_HINT(resize_size >= 0 && resize_size <= 16384,
                 "--resize-size must be in [0, 16384] (0 = no resize), got " << resize_size,
                 "torchvision models use 256 or the size in their YAML");
  IIS_CHECK_HINT(crop_size >= 0 && crop_size <= 16384,
                 "--crop-size must be in [0, 16384] (0 = no crop), got " << crop_size,
                 "torchvision models use 224");
  IIS_CHECK_HINT(channels == 1 || channels == 3, "--channels must be 1 or 3, got " << channels,
                 "1 for grayscale models (e.g. Fashion-MNIST), 3 for RGB");
  IIS_CHECK_HINT(mean.empty() == std.empty(),
                 "--mean and --std must be given together (" << mean.size() << " mean values, "
                                                             << std.size() << " std values)",
                 "give both, or neither for no normalisation");
  for (const auto* v : {&mean, &std}) {
    IIS_CHECK_HINT(v->empty() || v->size() == 1 || static_cast<int64_t>(v->size()) == channels,
                   "--" << (v == &mean ? "mean" : "std") << " needs 1 or " << channels
                        << " values, got " << v->size(),
                   "one value per channel");
  }
  for (float s : std) {
    IIS_CHECK_HINT(s > 0 && std::isfinite(s), "--std values must be > 0, got " << s,
                   "ImageNet models use 0.229,0.224,0.225");
  }
  for (float m : mean) IIS_CHECK(std::isfinite(m), "--mean values must be finite, got " << m);
}

std::string Preprocess::describe() const {
  std::ostringstream out;
  out << "preset " << preset << ": ";
  if (resize_size > 0) {
    out << "resize " << resize_size << " " << to_string(interpolation);
  } else {
    out << "no resize";
  }
  out << ", " << (crop_size > 0 ? "crop " + std::to_string(crop_size) : std::string("no crop"));
  if (!mean.empty()) {
    out << ", mean " << list_text(mean) << ", std " << list_text(std);
  } else {
    out << ", no normalisation";
  }
  out << ", " << channels << (channels == 1 ? " channel" : " channels");
  return out.str();
}

Preprocess preprocess_preset(const std::string& name) {
  Preprocess p;
  if (name == "imagenet") return p;
  if (name == "none") {
    p.preset = "none";
    p.resize_size = 0;
    p.crop_size = 0;
    p.mean.clear();
    p.std.clear();
    return p;
  }
  if (name == "clip") {  // CLIP's _transform at ViT-B/16's 224; `clip:` backbones set the side
    p.preset = "clip";
    p.resize_size = 224;
    p.crop_size = 224;
    p.interpolation = Interpolation::Bicubic;
    p.mean = {0.48145466f, 0.4578275f, 0.40821073f};
    p.std = {0.26862954f, 0.26130258f, 0.27577711f};
    return p;
  }
  IIS_FAIL("unknown preprocessing preset '" << name << "'", "use --preset imagenet, clip or none");
}

namespace {

// The training-recipe keys of torchvision's references/classification/train.py (its
// arguments with '_' for '-'): the reference's model_configs/*.yaml hold them beside the
// evaluation settings. They say nothing about evaluation and are ignored.
const std::vector<std::string>& recipe_keys() {
  static const std::vector<std::string> keys = {
      "data_path",
      "model",
      "weights",
      "device",
      "batch_size",
      "epochs",
      "workers",
      "opt",
      "lr",
      "momentum",
      "wd",
      "weight_decay",
      "norm_weight_decay",
      "bias_weight_decay",
      "transformer_embedding_decay",
      "label_smoothing",
      "mixup_alpha",
      "cutmix_alpha",
      "lr_scheduler",
      "lr_warmup_epochs",
      "lr_warmup_method",
      "lr_warmup_decay",
      "lr_step_size",
      "lr_gamma",
      "lr_min",
      "print_freq",
      "output_dir",
      "resume",
      "start_epoch",
      "cache_dataset",
      "sync_bn",
      "test_only",
      "auto_augment",
      "ra_magnitude",
      "augmix_severity",
      "random_erase",
      "amp",
      "world_size",
      "dist_url",
      "model_ema",
      "model_ema_steps",
      "model_ema_decay",
      "use_deterministic_algorithms",
      "train_crop_size",
      "clip_grad_norm",
      "ra_sampler",
      "ra_reps",
      "backend",
      "use_v2",
      "feature_dim"};  // feature_dim: written by scripts/export_backbone.py
  return keys;
}

// Every key must be a setting or a recipe key; a typo (`val_resize_sise`) would otherwise
// silently keep the default.
void check_preprocess_keys(const YAML::Node& root) {
  static const std::vector<std::string> kSettings = {
      "preset",    "val_resize_size", "resize_size", "val_crop_size",
      "crop_size", "interpolation",   "mean",        "std",
      "channels"};
  for (const auto& entry : root) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    const auto known = [&](const std::vector<std::string>& keys) {
      return std::find(keys.begin(), keys.end(), key) != keys.end();
    };
    if (known(kSettings) || known(recipe_keys())) continue;
    std::vector<std::string> all = kSettings;
    all.insert(all.end(), recipe_keys().begin(), recipe_keys().end());
    IIS_FAIL("unknown key '" << key << "' (line " << entry.first.Mark().line + 1
                             << "); did you mean '" << core::nearest(key, all) << "'?",
             "the settings are preset, val_resize_size, val_crop_size, interpolation, mean, "
             "std and channels; the keys of torchvision's training recipes are accepted and "
             "ignored");
  }
}

}  // namespace

void apply_preprocess_yaml(Preprocess& p, const std::string& yaml_text, const std::string& source) {
  with_context("reading preprocessing " + source, [&] {
    YAML::Node root;
    try {
      root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
      IIS_FAIL("not valid YAML: " << e.what(), "fix the file or pass --preset/--resize-size");
    }
    if (root.IsNull()) return;
    IIS_CHECK_HINT(root.IsMap(), "expected a mapping of keys to values",
                   "e.g. `val_resize_size: 256` on one line, `val_crop_size: 224` on the next");
    check_preprocess_keys(root);
    auto get_int = [&](const char* key, const char* alias, int64_t& out) {
      for (const char* k : {key, alias}) {
        if (!root[k]) continue;
        try {
          out = root[k].as<int64_t>();
        } catch (const YAML::Exception&) {
          IIS_FAIL("key " << k << " must be an integer", "e.g. " << k << ": 224");
        }
      }
    };
    auto get_floats = [&](const char* key, std::vector<float>& out) {
      if (!root[key]) return;
      try {
        if (root[key].IsNull()) {
          out.clear();
        } else if (root[key].IsSequence()) {
          out = root[key].as<std::vector<float>>();
        } else {
          out = {root[key].as<float>()};
        }
      } catch (const YAML::Exception&) {
        IIS_FAIL("key " << key << " must be a number or a list of numbers",
                 "e.g. " << key << ": [0.485, 0.456, 0.406]");
      }
    };
    if (root["preset"]) p = preprocess_preset(root["preset"].as<std::string>());
    get_int("val_resize_size", "resize_size", p.resize_size);
    get_int("val_crop_size", "crop_size", p.crop_size);
    if (root["interpolation"]) {
      p.interpolation =
          parse_interpolation(root["interpolation"].as<std::string>(), "key interpolation");
    }
    get_floats("mean", p.mean);
    get_floats("std", p.std);
    get_int("channels", "channels", p.channels);
    p.validate();
  });
}

std::string preprocess_yaml(const Preprocess& p) {
  std::ostringstream out;
  out << "preset: " << p.preset << "\n"
      << "val_resize_size: " << p.resize_size << "\n"
      << "val_crop_size: " << p.crop_size << "\n"
      << "interpolation: " << to_string(p.interpolation) << "\n";
  out << "mean: " << (p.mean.empty() ? "null" : list_text(p.mean)) << "\n"
      << "std: " << (p.std.empty() ? "null" : list_text(p.std)) << "\n"
      << "channels: " << p.channels << "\n";
  return out.str();
}

std::array<int64_t, 3> preprocessed_shape(const Preprocess& p, int64_t h, int64_t w) {
  auto [rh, rw] = resized_hw(p, h, w);
  if (p.crop_size > 0) rh = rw = p.crop_size;
  return {p.channels, rh, rw};
}

cv::Mat resize_and_crop(const cv::Mat& rgb, const Preprocess& p) {
  IIS_CHECK(!rgb.empty(), "preprocess got an empty image");
  const cv::Mat src = to_channels(rgb, p.channels);
  const auto [rh, rw] = resized_hw(p, src.rows, src.cols);
  const int64_t ch = p.crop_size > 0 ? p.crop_size : rh;
  const int64_t cw = p.crop_size > 0 ? p.crop_size : rw;
  const int64_t oy = crop_offset(rh, ch), ox = crop_offset(rw, cw);
  cv::Mat out(static_cast<int>(ch), static_cast<int>(cw), src.type(), cv::Scalar::all(0));
  // The part of the output that lies inside the resized image (the rest is padding).
  const int y0 = static_cast<int>(std::max<int64_t>(0, -oy));
  const int y1 = static_cast<int>(std::min<int64_t>(ch, rh - oy));
  const int x0 = static_cast<int>(std::max<int64_t>(0, -ox));
  const int x1 = static_cast<int>(std::min<int64_t>(cw, rw - ox));
  if (y1 <= y0 || x1 <= x0) return out;
  cv::Mat view = out(cv::Rect(x0, y0, x1 - x0, y1 - y0));
  resample_region(src, static_cast<int>(rw), static_cast<int>(rh), static_cast<int>(x0 + ox),
                  static_cast<int>(x1 + ox), static_cast<int>(y0 + oy), static_cast<int>(y1 + oy),
                  p.interpolation, view);
  return out;
}

cv::Mat resize_like_pil(const cv::Mat& image, int64_t out_w, int64_t out_h,
                        Interpolation interpolation) {
  IIS_CHECK(out_w > 0 && out_h > 0, "resize to " << out_w << "x" << out_h << " is empty");
  const cv::Mat src = to_channels(image, image.channels());
  cv::Mat out(static_cast<int>(out_h), static_cast<int>(out_w), src.type());
  resample_region(src, static_cast<int>(out_w), static_cast<int>(out_h), 0, static_cast<int>(out_w),
                  0, static_cast<int>(out_h), interpolation, out);
  return out;
}

std::vector<float> normalization_table(const Preprocess& p, int channels) {
  std::vector<float> lut(static_cast<size_t>(channels) * 256);
  for (int c = 0; c < channels; ++c) {
    for (int v = 0; v < 256; ++v) {
      float x = static_cast<float>(v) / 255.0f;
      if (!p.mean.empty()) {
        const float m = p.mean.size() == 1 ? p.mean[0] : p.mean[c];
        const float s = p.std.size() == 1 ? p.std[0] : p.std[c];
        x = (x - m) / s;
      }
      lut[static_cast<size_t>(c) * 256 + v] = x;
    }
  }
  return lut;
}

void preprocess_into(const cv::Mat& rgb, const Preprocess& p, float* out) {
  const cv::Mat small = resize_and_crop(rgb, p);
  const int cn = small.channels();
  const int64_t plane = static_cast<int64_t>(small.rows) * small.cols;
  const std::vector<float> lut = normalization_table(p, cn);
  for (int y = 0; y < small.rows; ++y) {
    const uint8_t* in = small.ptr<uint8_t>(y);
    for (int x = 0; x < small.cols; ++x) {
      for (int c = 0; c < cn; ++c) {
        out[c * plane + static_cast<int64_t>(y) * small.cols + x] = lut[c * 256 + in[x * cn + c]];
      }
    }
  }
}

torch::Tensor preprocess(const cv::Mat& rgb, const Preprocess& p) {
  const auto shape = preprocessed_shape(p, rgb.rows, rgb.cols);
  auto out = torch::empty({shape[0], shape[1], shape[2]}, torch::kFloat32);
  preprocess_into(rgb, p, out.data_ptr<float>());
  return out;
}

}  // namespace iis::image
