// iis.score, iis.kmeans, iis.superpixels, iis.elements, iis.embed: the library calls behind the
// tool's subcommands, on arrays where the tool reads files. Defaults are read from the options
// structs, so that they are the tool's.
#include <pybind11/stl.h>
#include <torch/torch.h>

#include <map>
#include <tuple>

#include "arrays.hpp"
#include "binding.hpp"
#include "iis/concepts/kmeans.hpp"
#include "iis/core/error.hpp"
#include "iis/core/launcher.hpp"
#include "iis/elements/elements.hpp"
#include "iis/elements/superpixels.hpp"
#include "iis/embed/embed.hpp"
#include "iis/fit/score_results.hpp"
#include "iis/io/npy.hpp"

namespace iis::python {

namespace {

std::string path_of(const py::handle& path) {
  return py::str(py::module_::import("os").attr("fspath")(path)).cast<std::string>();
}

// iis.score: each item a results.json path or a dict as iis.fit returns it; the table `iis score
// --json` prints.
py::object score(const py::list& items) {
  auto json = py::module_::import("json");
  fit::ScoreTable table;
  for (size_t i = 0; i < items.size(); ++i) {
    if (py::isinstance<py::dict>(items[i])) {
      const auto text = json.attr("dumps")(items[i]).cast<std::string>();
      table.rows.push_back(fit::read_score_row(text, "results[" + std::to_string(i) + "]"));
    } else {
      fit::ScoreOptions options;
      options.results = {path_of(items[i])};
      table.rows.push_back(fit::run_score(options).rows.at(0));
    }
  }
  return to_python(table.to_json());
}

// iis.kmeans: what `iis kmeans` computes (run_kmeans), on an array.
py::dict kmeans(const py::object& x, int64_t k, uint64_t seed, int64_t max_elements, double tol,
                int64_t max_iter, bool normalise, bool quiet) {
  concepts::KMeansOptions options;
  options.k = k;
  options.seed = seed;
  options.max_elements = max_elements;
  options.tol = tol;
  options.max_iter = max_iter;
  concepts::validate(options);
  py::object keep;
  const torch::Tensor elements = io::features_from_array(tensor_of(x, "x", keep), "x", "elements");
  concepts::KMeansResult result;
  torch::Tensor centres;
  run_released(quiet, [&] {
    with_context("clustering x", [&] {
      if (normalise) {
        centres = concepts::cluster_concepts(elements, options, &result);
      } else {
        result = concepts::kmeans(elements, options);
        centres = result.centres;
      }
    });
  });
  py::dict out;
  out["centres"] = array_of(centres);
  out["labels"] = array_of(result.labels);
  out["sample"] = array_of(result.sample);
  out["inertia"] = result.inertia;
  out["iterations"] = result.iterations;
  out["converged"] = result.converged;
  out["inertia_trace"] = result.inertia_trace;
  out["seconds"] = result.seconds;
  return out;
}

// iis.superpixels: the label map `iis superpixels --out X.npy` writes, of a uint8 H×W×3 RGB array.
py::array superpixels(const py::object& image, int n_segments, double compactness, double sigma) {
  py::object keep;
  torch::Tensor rgb = tensor_of(image, "image", keep);
  IIS_CHECK_HINT(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.scalar_type() == torch::kUInt8,
                 "image: expected a uint8 H×W×3 RGB array, got " << rgb.scalar_type()
                                                                 << " of shape " << rgb.sizes(),
                 "e.g. numpy.asarray(PIL.Image.open(path).convert('RGB'))");
  rgb = rgb.contiguous();
  elements::SuperpixelsOptions options;
  options.n_segments = n_segments;
  options.compactness = compactness;
  options.sigma = sigma;
  torch::Tensor labels;
  run_released(/*quiet=*/true, [&] {
    const cv::Mat mat(static_cast<int>(rgb.size(0)), static_cast<int>(rgb.size(1)), CV_8UC3,
                      rgb.data_ptr());
    const cv::Mat map = elements::superpixel_labels(mat, options);
    labels = torch::from_blob(const_cast<int32_t*>(map.ptr<int32_t>(0)), {map.rows, map.cols},
                              torch::kInt32)
                 .clone();
  });
  return array_of(labels);
}

// iis.elements: `iis elements`, writing into `out`; returns what it did.
py::dict run_elements(const py::object& data, const py::object& out, const std::string& kind,
                      int images_per_class, const std::string& image_select, uint64_t seed,
                      const std::vector<int>& scales, double compactness, double sigma,
                      int masks_per_scale, double min_area, double jaccard, int fill, int grid,
                      int patch_size, bool force, const std::string& shard, bool quiet) {
  static const std::map<std::string, elements::ElementKind> kKinds{
      {"segments", elements::ElementKind::Segments}, {"patches", elements::ElementKind::Patches}};
  static const std::map<std::string, elements::ImageSelect> kSelects{
      {"first", elements::ImageSelect::First}, {"random", elements::ImageSelect::Random}};
  IIS_CHECK_HINT(kKinds.count(kind), "--kind must be segments or patches, got '" << kind << "'",
                 "segments: SLIC superpixels; patches: grid cells");
  IIS_CHECK_HINT(kSelects.count(image_select),
                 "--image-select must be first or random, got '" << image_select << "'",
                 "first: in sorted order; random: a seeded sample");
  elements::ElementsOptions o;
  o.data = path_of(data);
  o.out = path_of(out);
  o.kind = kKinds.at(kind);
  o.images_per_class = images_per_class;
  o.select = kSelects.at(image_select);
  o.seed = seed;
  o.scales = scales;
  o.compactness = compactness;
  o.sigma = sigma;
  o.masks_per_scale = masks_per_scale;
  o.min_area = min_area;
  o.jaccard = jaccard;
  o.fill = fill;
  o.grid = grid;
  o.patch_size = patch_size;
  o.force = force;
  const core::Environment env = core::process_environment();  // read with the GIL held
  elements::ElementsSummary s;
  run_released(quiet, [&] {
    if (!shard.empty()) elements::apply_shard(o, shard, env);
    s = elements::run_elements(o);
  });
  py::dict summary;
  summary["images"] = s.images;
  summary["images_resumed"] = s.images_resumed;
  summary["images_skipped"] = s.images_skipped;
  summary["elements"] = s.elements;
  summary["seconds"] = s.seconds;
  summary["out"] = s.out;
  return summary;
}

// iis.embed: `iis embed`, writing OUT.features.npy and the rest; returns what it did.
py::dict run_embed(const py::object& backbone, const py::object& data, const py::object& out,
                   const std::string& preset, const std::string& preprocess_yaml,
                   int64_t resize_size, int64_t crop_size, const std::string& interpolation,
                   const std::vector<float>& mean, const std::vector<float>& std, bool no_normalize,
                   int64_t channels, int64_t batch_size, const std::string& device, bool half,
                   bool bf16, bool half_storage, int64_t workers, int64_t limit,
                   const std::string& shard, bool quiet) {
  embed::EmbedOptions o;
  o.backbone = py::isinstance<py::str>(backbone) ? backbone.cast<std::string>() : path_of(backbone);
  o.data = path_of(data);
  o.out = path_of(out);
  o.preprocess.preset = preset;
  o.preprocess.yaml = preprocess_yaml;
  o.preprocess.resize_size = resize_size;
  o.preprocess.crop_size = crop_size;
  o.preprocess.interpolation = interpolation;
  o.preprocess.mean = mean;
  o.preprocess.std = std;
  o.preprocess.no_normalize = no_normalize;
  o.preprocess.channels = channels;
  o.batch_size = batch_size;
  o.device = device;
  o.half = half;
  o.bf16 = bf16;
  o.half_storage = half_storage;
  o.workers = workers;
  o.limit = limit;
  const core::Environment env = core::process_environment();  // read with the GIL held
  embed::EmbedResult r;
  run_released(quiet, [&] {
    if (!shard.empty()) embed::apply_shard(o, shard, env);
    r = embed::run_embed(o);
  });
  py::dict result;
  result["embedded"] = r.embedded;
  result["skipped"] = r.skipped;
  result["feature_dim"] = r.feature_dim;
  result["range"] = py::make_tuple(r.range_begin, r.range_end);
  result["seconds"] = r.seconds;
  result["images_per_second"] = r.images_per_second;
  result["preprocessing"] = r.preprocessing;
  result["files"] = r.files;
  return result;
}

// Each function's keyword options with the defaults of its options struct, in one place: what
// add_calls registers after the positional arguments, and what _defaults returns (the type
// stubs are checked against it).
auto kmeans_keywords() {
  const concepts::KMeansOptions k{};
  return std::make_tuple(py::arg("seed") = k.seed, py::arg("kmeans_max_elements") = k.max_elements,
                         py::arg("kmeans_tol") = k.tol, py::arg("kmeans_max_iter") = k.max_iter,
                         py::arg("normalise") = false, py::arg("quiet") = false);
}

auto superpixels_keywords() {
  const elements::SuperpixelsOptions s{};
  return std::make_tuple(py::arg("compactness") = s.compactness, py::arg("sigma") = s.sigma);
}

auto elements_keywords() {
  const elements::ElementsOptions e{};
  return std::make_tuple(
      py::arg("kind") = elements::to_string(e.kind),
      py::arg("images_per_class") = e.images_per_class,
      py::arg("image_select") = elements::to_string(e.select), py::arg("seed") = e.seed,
      py::arg("scales") = e.scales, py::arg("compactness") = e.compactness,
      py::arg("sigma") = e.sigma, py::arg("masks_per_scale") = e.masks_per_scale,
      py::arg("min_area") = e.min_area, py::arg("jaccard") = e.jaccard, py::arg("fill") = e.fill,
      py::arg("grid") = e.grid, py::arg("patch_size") = e.patch_size, py::arg("force") = e.force,
      py::arg("shard") = "", py::arg("quiet") = false);
}

auto embed_keywords() {
  const embed::EmbedOptions b{};
  const embed::PreprocessFlags& p = b.preprocess;
  return std::make_tuple(py::arg("preset") = p.preset, py::arg("preprocess_yaml") = p.yaml,
                         py::arg("resize_size") = p.resize_size, py::arg("crop_size") = p.crop_size,
                         py::arg("interpolation") = p.interpolation, py::arg("mean") = p.mean,
                         py::arg("std") = p.std, py::arg("no_normalize") = p.no_normalize,
                         py::arg("channels") = p.channels, py::arg("batch_size") = b.batch_size,
                         py::arg("device") = b.device, py::arg("half") = b.half,
                         py::arg("bf16") = b.bf16, py::arg("half_storage") = b.half_storage,
                         py::arg("workers") = b.workers, py::arg("limit") = b.limit,
                         py::arg("shard") = "", py::arg("quiet") = false);
}

// {name: default} of a tuple of keywords.
template <class Keywords>
py::dict defaults_of(const Keywords& keywords) {
  py::dict d;
  std::apply([&](const auto&... k) { ((d[k.name] = k.value), ...); }, keywords);
  return d;
}

py::dict defaults() {
  py::dict all;
  all["kmeans"] = defaults_of(kmeans_keywords());
  all["superpixels"] = defaults_of(superpixels_keywords());
  all["elements"] = defaults_of(elements_keywords());
  all["embed"] = defaults_of(embed_keywords());
  return all;
}

// m.def(name, f, positional..., keywords...).
template <class Function, class Keywords, class... Positional>
void def(py::module_& m, const char* name, Function f, const Keywords& keywords,
         Positional... positional) {
  std::apply([&](const auto&... k) { m.def(name, f, positional..., k...); }, keywords);
}

}  // namespace

void add_calls(py::module_& m) {
  m.def("_defaults", &defaults);
  m.def("score", &score, py::arg("items"));
  def(m, "kmeans", &kmeans, kmeans_keywords(), py::arg("x"), py::arg("k"));
  def(m, "superpixels", &superpixels, superpixels_keywords(), py::arg("image"),
      py::arg("n_segments"));
  def(m, "elements", &run_elements, elements_keywords(), py::arg("data"), py::arg("out"));
  def(m, "embed", &run_embed, embed_keywords(), py::arg("backbone"), py::arg("data"),
      py::arg("out"));
}

}  // namespace iis::python
