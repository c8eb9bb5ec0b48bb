// The extension module iis._iis: errors as iis.Error, the GIL released around library calls
// with Ctrl-C checked, JSON results as Python objects, and the functions of fit.cpp and
// calls.cpp. The package iis (python/iis/__init__.py) wraps it with signatures and docstrings.
#include <pybind11/stl.h>
#include <torch/torch.h>

#include <mutex>

#include "arrays.hpp"
#include "binding.hpp"
#include "iis/core/error.hpp"
#include "iis/core/progress.hpp"
#include "iis/core/threads.hpp"

namespace iis::python {

namespace {

// Python's error, taken from the interpreter by the interrupt check and carried out of the
// library call. Deliberately not a std::exception: nothing in the library that handles errors
// (adding context, skipping an image) may take it for one.
struct Interrupted {
  PyObject *type = nullptr, *value = nullptr, *trace = nullptr;
};

// Runs Python's signal handlers (on the main thread; elsewhere there are none to run) with the
// GIL held for that moment; throws Interrupted when one raised.
void check_signals() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() == 0) return;
  Interrupted interrupted;
  PyErr_Fetch(&interrupted.type, &interrupted.value, &interrupted.trace);
  throw interrupted;
}

// While alive: this thread's interrupt check, and with `quiet` no progress output. The mode is
// process-wide (as the tool's): the first of overlapping quiet calls silences it and the last
// restores it, so that one call ending does not make another one's progress appear.
class CallScope {
 public:
  explicit CallScope(bool quiet) : quiet_(quiet) {
    if (quiet_) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (quiet_calls_++ == 0) {
        saved_mode_ = core::progress_mode();
        core::set_progress_mode(core::ProgressMode::Quiet);
      }
    }
    core::set_interrupt_check(check_signals);
  }
  ~CallScope() {
    core::set_interrupt_check({});
    if (quiet_) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--quiet_calls_ == 0) core::set_progress_mode(saved_mode_);
    }
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  bool quiet_;
  static inline std::mutex mutex_;
  static inline int quiet_calls_ = 0;
  static inline core::ProgressMode saved_mode_ = core::ProgressMode::Auto;
};

// iis::Error as iis.Error(message, hint), a broken invariant as RuntimeError, LibTorch's and
// OpenCV's own errors (the library wraps those it expects) as RuntimeError with their message.
void translate_errors(std::exception_ptr error) {
  try {
    if (error) std::rethrow_exception(error);
  } catch (const Error& e) {
    py::object type = py::module_::import("iis").attr("Error");
    py::object instance = type(e.what(), e.hint());
    PyErr_SetObject(type.ptr(), instance.ptr());
  } catch (const InternalError& e) {
    const std::string text = std::string("internal error: ") + e.what() + " (" + e.where() +
                             "); this is a bug in iis, please report it";
    PyErr_SetString(PyExc_RuntimeError, text.c_str());
  }
}

}  // namespace

void run_released(bool quiet, const std::function<void()>& call) {
  try {
    py::gil_scoped_release release;
    CallScope scope(quiet);
    call();
  } catch (Interrupted& interrupted) {
    PyErr_Restore(interrupted.type, interrupted.value, interrupted.trace);
    throw py::error_already_set();
  }
}

py::object to_python(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return py::none();
    case nlohmann::json::value_t::boolean:
      return py::bool_(value.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return py::int_(value.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return py::int_(value.get<uint64_t>());
    case nlohmann::json::value_t::number_float:
      return py::float_(value.get<double>());
    case nlohmann::json::value_t::string:
      return py::str(value.get<std::string>());
    case nlohmann::json::value_t::array: {
      py::list list;
      for (const auto& item : value) list.append(to_python(item));
      return std::move(list);
    }
    case nlohmann::json::value_t::object: {
      py::dict dict;
      for (const auto& [key, item] : value.items()) dict[py::str(key)] = to_python(item);
      return std::move(dict);
    }
    default:
      IIS_ASSERT(false, "to_python: a JSON value of no known type");
  }
}

}  // namespace iis::python

PYBIND11_MODULE(_iis, m) {
  namespace py = pybind11;
  using namespace iis::python;
  m.doc() = "The iis library's calls (wrapped by the package iis).";
  py::register_exception_translator(translate_errors);
  // As the tool does: every core (Debian's LibTorch would start with one thread).
  iis::core::set_threads(0);
  m.attr("version") = IIS_VERSION;
  m.attr("libtorch") = TORCH_VERSION;
  m.def("set_threads", &iis::core::set_threads, py::arg("n"));
  m.def("threads", &iis::core::threads);
  m.def("_feature_data_address", &feature_data_address, py::arg("x"));
  add_fit(m);
  add_calls(m);
}
