// NumPy arrays (and whatever np.asarray takes: PyTorch CPU tensors, lists) <-> LibTorch tensors
// for the Python module, sharing memory where the layouts allow it.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <torch/types.h>

#include <string>

namespace iis::python {

namespace py = pybind11;

// An array argument as a CPU tensor viewing its memory. `keep` receives the NumPy array the
// tensor views, which must outlive every use of the tensor (the caller holds it while the GIL is
// released). Anything np.asarray accepts is taken: a PyTorch CPU tensor through the array
// protocol, without a copy. A layout a tensor cannot view (negative or unaligned strides) or a
// dtype LibTorch lacks (uint16..uint64, float128) is converted once by NumPy: floats to float32,
// integers to int64. `name` names the argument in errors. Needs the GIL.
torch::Tensor tensor_of(py::handle object, const std::string& name, py::object& keep);

// A NumPy array viewing `tensor`'s CPU memory, which the array keeps alive. Needs the GIL.
py::array array_of(const torch::Tensor& tensor);

// The address of the float32 features the library uses for `object` (no copy when it is C-order
// float32): for tests of the zero-copy path.
uintptr_t feature_data_address(py::handle object);

}  // namespace iis::python
