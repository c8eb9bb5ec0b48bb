// What the Python module's functions share: running a library call with the GIL released and
// Ctrl-C checked, JSON to Python objects, and each function group's registration.
#pragma once

#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>

#include <functional>

namespace iis::python {

namespace py = pybind11;

// The JSON `value` as Python objects: dict, list, str, int, float, bool, None.
py::object to_python(const nlohmann::json& value);

// Runs `call` with the GIL released (other Python threads run meanwhile), progress shown as the
// tool shows it or not at all (`quiet`), and Ctrl-C checked at every progress step: the GIL is
// taken back for a moment to run Python's signal handlers, and a KeyboardInterrupt (or whatever
// a handler raised) stops the call, unwinds it like any error and is raised here. Needs the GIL.
void run_released(bool quiet, const std::function<void()>& call);

// The module's functions, by group.
void add_fit(py::module_& m);    // fit, fit_options (fit.cpp)
void add_calls(py::module_& m);  // score, kmeans, superpixels, elements, embed (calls.cpp)

}  // namespace iis::python
