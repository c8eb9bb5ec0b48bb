// Reading and checking the inputs of `iis fit`.
#include "iis/fit/detail/inputs.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <sstream>

#include "iis/concepts/concept_type.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/heads/train.hpp"
#include "iis/io/npy.hpp"
#include "iis/text/lines.hpp"

namespace iis::fit::detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Labels in [0, C): names the first offending row.
void check_label_range(const torch::Tensor& labels, int64_t num_classes, const std::string& flag,
                       const std::string& path, const std::string& why) {
  auto bad = (labels >= num_classes).nonzero();
  if (bad.size(0) == 0) return;
  const int64_t row = bad[0][0].item<int64_t>();
  IIS_FAIL(flag << " " << path << ": label " << labels[row].item<int64_t>() << " at row " << row
                << " is out of range: " << why,
           "labels must be class indices 0.." << num_classes - 1
                                              << "; pass --num-classes if some classes never "
                                                 "occur in training");
}

// The class count the training labels imply, C = largest label + 1, checked before anything of
// size C exists: one stray label (5 000 000, 2^40) would otherwise size every head. Refused
// when C exceeds the training rows, twice the distinct labels, or kMaxClasses.
int64_t inferred_class_count(const torch::Tensor& labels, const std::string& path) {
  const int64_t rows = labels.size(0);
  const int64_t top = labels.max().item<int64_t>();
  const int64_t distinct =
      std::get<0>(torch::unique_consecutive(std::get<0>(labels.sort()))).size(0);
  std::ostringstream why;
  if (top >= kMaxClasses) {
    why << "more than the " << kMaxClasses << " classes `iis fit` takes";
  } else if (top >= rows) {
    why << "more than the " << rows << " training rows";
  } else if (top >= 2 * distinct) {
    why << "while only " << distinct << " distinct labels occur";
  } else {
    return top + 1;
  }
  const int64_t row = labels.argmax().item<int64_t>();  // the first row holding `top`
  IIS_FAIL("--train-labels " << path << ": label " << top << " at row " << row << " would make "
                             << static_cast<uint64_t>(top) + 1 << " classes, " << why.str(),
           "labels must be class indices 0..C-1"
               << (top >= kMaxClasses
                       ? ", with C at most " + std::to_string(kMaxClasses)
                       : "; if there really are " + std::to_string(top + 1) +
                             " classes, say so with --num-classes " + std::to_string(top + 1)));
}

// The shapes of the five (six) arrays agree: one label per row, one dimension D.
void check_shapes(const Inputs& in) {
  const int64_t n = in.train_x.size(0), nv = in.val_x.size(0), d = in.train_x.size(1);
  IIS_CHECK_HINT(in.train_y.size(0) == n,
                 "--train-labels has " << in.train_y.size(0) << " labels but --train-features has "
                                       << n << " rows",
                 "give one label per feature row, in the same order");
  IIS_CHECK_HINT(
      in.val_y.size(0) == nv,
      "--val-labels has " << in.val_y.size(0) << " labels but --val-features has " << nv << " rows",
      "give one label per feature row, in the same order");
  IIS_CHECK_HINT(
      in.val_x.size(1) == d,
      "--val-features has dimension " << in.val_x.size(1) << " but --train-features has " << d,
      "both splits must come from the same backbone layer");
  if (!in.elements.defined()) return;  // a concept type without elements (text)
  IIS_CHECK_HINT(
      in.elements.size(1) == d,
      "--concepts has dimension " << in.elements.size(1) << " but the features have " << d,
      "concept vectors must come from the same backbone as the features");
  if (in.element_labels.defined()) {
    IIS_CHECK_HINT(in.element_labels.size(0) == in.elements.size(0),
                   "--concept-labels has " << in.element_labels.size(0)
                                           << " labels but --concepts has " << in.elements.size(0)
                                           << " rows",
                   "give one label per concept row, in the same order");
  }
}

// The class count (given or inferred) and every label within it; K within the elements; a
// hold-out split that leaves rows to train on.
void check_classes_and_sizes(const FitOptions& o, Inputs& in) {
  in.num_classes =
      o.num_classes > 0 ? o.num_classes : inferred_class_count(in.train_y, o.train_labels);
  check_label_range(in.train_y, in.num_classes, "--train-labels", o.train_labels,
                    "--num-classes is " + std::to_string(in.num_classes));
  check_label_range(in.val_y, in.num_classes, "--val-labels", o.val_labels,
                    "the training labels only reach " + std::to_string(in.num_classes - 1));
  IIS_CHECK_HINT(in.num_classes >= 2,
                 "--train-labels holds a single class (" << in.num_classes << ")",
                 "a classifier needs at least 2 classes");
  if (o.select_on == "holdout") heads::holdout_count(in.train_x.size(0), o.holdout_fraction);
  if (!in.elements.defined()) return;
  const int64_t m = in.elements.size(0);
  IIS_CHECK_HINT(o.num_concepts <= m,
                 "--num-concepts " << o.num_concepts << " is more than the " << m
                                   << " concepts in --concepts " << o.concepts,
                 "pass --num-concepts " << m << " or fewer, or a larger --concepts file");
  if (in.element_labels.defined()) {
    // A label outside the classes would silently become a stratum of its own.
    check_label_range(in.element_labels, in.num_classes, "--concept-labels", o.concept_labels,
                      "there are " + std::to_string(in.num_classes) + " classes");
  }
}

// A concept type's own input: a .npy file's shape from its header, a text file's line count.
results::InputFile describe_type_input(const std::string& path) {
  results::InputFile f{fs::absolute(path).string(), core::fingerprint_file(path), {}};
  if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0) {
    f.shape = io::read_npy_header(path).shape;
  } else {
    f.shape = {static_cast<int64_t>(text::read_lines(path).size())};
  }
  return f;
}

// An input's record: for a file its absolute path and fingerprint, for an array in memory its
// name and the fingerprint of its checked values (float32 or int64, C order); and its shape.
results::InputFile describe(const std::string& path, const torch::Tensor& t, bool in_memory) {
  if (!in_memory) {
    return {fs::absolute(path).string(), core::fingerprint_file(path), t.sizes().vec()};
  }
  const auto bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
  return {path, core::fingerprint_bytes(t.data_ptr(), bytes), t.sizes().vec()};
}

// Each input's path (or name) fingerprint and shape, and one key over all fingerprints.
void describe_inputs(const FitOptions& o, const FitArrays& arrays, Inputs& in) {
  in.files["train_features"] =
      describe(o.train_features, in.train_x, arrays.train_features.defined());
  in.files["train_labels"] = describe(o.train_labels, in.train_y, arrays.train_labels.defined());
  in.files["val_features"] = describe(o.val_features, in.val_x, arrays.val_features.defined());
  in.files["val_labels"] = describe(o.val_labels, in.val_y, arrays.val_labels.defined());
  if (in.elements.defined()) {
    in.files["concepts"] = describe(o.concepts, in.elements, arrays.concepts.defined());
  }
  for (const auto& file :
       concepts::find_concept_type(o.concept_type).input_files(o.concept_options))
    in.files[file.name] = describe_type_input(file.path);
  if (in.element_labels.defined()) {
    in.files["concept_labels"] =
        describe(o.concept_labels, in.element_labels, arrays.concept_labels.defined());
  }
  std::string all;  // in name order, as the JSON object listed them
  for (const auto& [name, file] : in.files) all += name + "=" + file.fingerprint + ";";
  in.key = core::fingerprint_text(all);
}

// Features from `array` when it is defined, else from the file `path`.
torch::Tensor features(const torch::Tensor& array, const std::string& path, const char* flag) {
  return array.defined() ? io::features_from_array(array, path, flag)
                         : io::load_features(path, flag);
}

torch::Tensor labels(const torch::Tensor& array, const std::string& path, const char* flag) {
  return array.defined() ? io::labels_from_array(array, path, flag) : io::load_labels(path, flag);
}

}  // namespace

Inputs load_inputs(const FitOptions& o, const FitArrays& arrays) {
  Inputs in;
  in.train_x = features(arrays.train_features, o.train_features, "--train-features");
  in.train_y = labels(arrays.train_labels, o.train_labels, "--train-labels");
  in.val_x = features(arrays.val_features, o.val_features, "--val-features");
  in.val_y = labels(arrays.val_labels, o.val_labels, "--val-labels");
  if (!o.concepts.empty()) in.elements = features(arrays.concepts, o.concepts, "--concepts");
  if (!o.concept_labels.empty() && in.elements.defined()) {
    in.element_labels = labels(arrays.concept_labels, o.concept_labels, "--concept-labels");
  }
  check_shapes(in);
  concepts::find_concept_type(o.concept_type)
      .check_inputs(o.concept_options, in.train_x.size(0), in.val_x.size(0));
  check_classes_and_sizes(o, in);
  describe_inputs(o, arrays, in);
  return in;
}

}  // namespace iis::fit::detail
