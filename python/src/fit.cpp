// iis.fit: `iis fit` on arrays, its options taken from the same table as the tool's flags
// (fit::fit_options), so that names, defaults and checks are the tool's.
#include <pybind11/stl.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <optional>
#include <type_traits>
#include <variant>

#include "arrays.hpp"
#include "binding.hpp"
#include "iis/core/error.hpp"
#include "iis/core/files.hpp"
#include "iis/core/text.hpp"
#include "iis/fit/fit.hpp"

namespace iis::python {

namespace {

namespace fs = std::filesystem;

// The options a Python caller sets by keyword: the table's, but for the input paths and --out
// (the arrays and `out` arguments).
bool is_keyword(const core::Option& option) {
  static const char* const kArguments[] = {
      "train_features", "train_labels",   "val_features", "val_labels",
      "concepts",       "concept_labels", "out"};
  for (const char* name : kArguments)
    if (option.key == name) return false;
  return true;
}

// A Python value as T, or an iis.Error naming the flag and what it takes.
template <typename T>
T value_as(py::handle value, const std::string& key, const char* expected) {
  const bool is_bool = py::isinstance<py::bool_>(value);
  try {
    if constexpr (std::is_same_v<T, bool>) {
      if (is_bool) return value.cast<bool>();
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (py::isinstance<py::str>(value)) return value.cast<std::string>();
      if (py::hasattr(value, "__fspath__")) {  // a pathlib.Path for the text type's files
        return py::str(py::module_::import("os").attr("fspath")(value)).cast<std::string>();
      }
    } else if (!is_bool) {
      return value.cast<T>();
    }
  } catch (const py::cast_error&) {
  }
  IIS_FAIL(key << "=" << py::repr(value).cast<std::string>() << " is not " << expected,
           "see help(iis.fit) for each option's type and default");
}

// A list option from a sequence or a single value.
template <typename T>
std::vector<T> list_as(py::handle value, const std::string& key, const char* expected) {
  std::vector<T> list;
  if (py::isinstance<py::str>(value) || !py::hasattr(value, "__iter__")) {
    list.push_back(value_as<T>(value, key, expected));
    return list;
  }
  for (py::handle item : value) list.push_back(value_as<T>(item, key, expected));
  return list;
}

// Sets the table's option `key` from a Python value.
void set_option(const core::Option& option, py::handle value) {
  const std::string& key = option.key;
  std::visit(
      [&](auto* field) {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, bool>) {
          *field = value_as<bool>(value, key, "True or False");
        } else if constexpr (std::is_same_v<T, int64_t>) {
          *field = value_as<int64_t>(value, key, "an integer");
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          *field = value_as<uint64_t>(value, key, "a non-negative integer");
        } else if constexpr (std::is_same_v<T, double>) {
          *field = value_as<double>(value, key, "a number");
        } else if constexpr (std::is_same_v<T, std::string>) {
          *field = value_as<std::string>(value, key, "a string");
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          *field = list_as<double>(value, key, "a list of numbers");
        } else {
          static_assert(std::is_same_v<T, std::vector<uint64_t>>);
          *field = list_as<uint64_t>(value, key, "a list of non-negative integers");
        }
      },
      option.value);
}

// Sets every keyword option; an unknown name is refused naming the nearest valid one.
void set_options(const core::Options& table, const py::dict& options) {
  std::vector<std::string> keys;
  for (const auto& option : table)
    if (is_keyword(option)) keys.push_back(option.key);
  for (const auto& [name, value] : options) {
    const auto key = name.cast<std::string>();
    const core::Option* found = nullptr;
    for (const auto& option : table)
      if (option.key == key && is_keyword(option)) found = &option;
    IIS_CHECK_HINT(found, "iis.fit has no option '" << key << "'",
                   "did you mean '" << core::nearest(key, keys) << "'? see help(iis.fit)");
    set_option(*found, value);
  }
}

// The table's keyword options with their defaults and help, for the stubs and help(iis.fit).
py::dict fit_option_table() {
  fit::FitOptions defaults;
  py::dict table;
  for (const auto& option : fit::fit_options(defaults)) {
    if (!is_keyword(option)) continue;
    py::object value = std::visit([](auto* field) { return py::cast(*field); }, option.value);
    table[py::str(option.key)] = py::make_tuple(value, option.help);
  }
  return table;
}

// A folder of its own under the temporary directory, removed with everything in it when the
// guard ends: where a fit with out=None writes its files.
class TemporaryFolder {
 public:
  TemporaryFolder() {
    std::string pattern = (fs::temp_directory_path() / "iis-fit-XXXXXX").string();
    IIS_CHECK_HINT(::mkdtemp(pattern.data()) != nullptr,
                   "cannot make a temporary folder " << pattern,
                   "set TMPDIR to a writable folder, or pass out=");
    path_ = pattern;
  }
  ~TemporaryFolder() { core::remove_tree(path_); }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The inputs as tensors viewing the arrays, each named in FitOptions where a path would stand.
fit::FitArrays fit_arrays(const py::tuple& arrays, fit::FitOptions& o, py::list& keep) {
  struct Input {
    const char* name;
    std::string fit::FitOptions::*path;
    torch::Tensor fit::FitArrays::*tensor;
  };
  static const Input kInputs[] = {
      {"train_x", &fit::FitOptions::train_features, &fit::FitArrays::train_features},
      {"train_y", &fit::FitOptions::train_labels, &fit::FitArrays::train_labels},
      {"val_x", &fit::FitOptions::val_features, &fit::FitArrays::val_features},
      {"val_y", &fit::FitOptions::val_labels, &fit::FitArrays::val_labels},
      {"concepts", &fit::FitOptions::concepts, &fit::FitArrays::concepts},
      {"concept_labels", &fit::FitOptions::concept_labels, &fit::FitArrays::concept_labels}};
  fit::FitArrays out;
  for (size_t i = 0; i < std::size(kInputs); ++i) {
    const py::object array = arrays[i];
    if (array.is_none()) continue;  // validate_fit_options says which one is required
    py::object held;
    out.*kInputs[i].tensor = tensor_of(array, kInputs[i].name, held);
    keep.append(held);
    o.*kInputs[i].path = kInputs[i].name;
  }
  return out;
}

// iis._iis.fit(arrays, out, quiet, options): iis.fit without its Python signature.
py::object fit(const py::tuple& arrays, const py::object& out, bool quiet,
               const py::dict& options) {
  IIS_ASSERT(arrays.size() == 6, "fit: six inputs, got " << arrays.size());
  fit::FitOptions o;
  set_options(fit::fit_options(o), options);
  py::list keep;  // the arrays the tensors view, alive until the fit ends
  const fit::FitArrays tensors = fit_arrays(arrays, o, keep);
  std::optional<TemporaryFolder> scratch;
  if (out.is_none()) {
    scratch.emplace();
    o.out = scratch->path();
  } else {
    o.out = py::str(py::module_::import("os").attr("fspath")(out)).cast<std::string>();
  }
  nlohmann::json written;  // what results.json holds (or would hold, with out=None)
  run_released(quiet, [&] { written = results::to_json(fit::run_fit(o, tensors).results); });
  return to_python(written);
}

}  // namespace

void add_fit(py::module_& m) {
  m.def("fit", &fit, py::arg("arrays"), py::arg("out"), py::arg("quiet"), py::arg("options"));
  m.def("fit_options", &fit_option_table);
}

}  // namespace iis::python
