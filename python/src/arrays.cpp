// NumPy <-> LibTorch for the Python module (arrays.hpp).
#include "arrays.hpp"

#include <torch/torch.h>

#include <vector>

#include "iis/core/error.hpp"
#include "iis/io/npy.hpp"

namespace iis::python {

namespace {

// The LibTorch dtype of a NumPy dtype a tensor can view; Undefined when there is none.
torch::ScalarType scalar_type_of(const py::dtype& dtype) {
  const char kind = dtype.kind();
  const auto size = dtype.itemsize();
  if (kind == 'f' && size == 4) return torch::kFloat32;
  if (kind == 'f' && size == 2) return torch::kFloat16;
  if (kind == 'f' && size == 8) return torch::kFloat64;
  if (kind == 'i' && size == 8) return torch::kInt64;
  if (kind == 'i' && size == 4) return torch::kInt32;
  if (kind == 'i' && size == 2) return torch::kInt16;
  if (kind == 'i' && size == 1) return torch::kInt8;
  if (kind == 'u' && size == 1) return torch::kUInt8;
  if (kind == 'b') return torch::kBool;
  return torch::ScalarType::Undefined;
}

// Whether a tensor can view the array as it is: element strides, none negative, native order.
bool viewable(const py::array& a) {
  if (!a.dtype().attr("isnative").cast<bool>()) return false;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (a.strides(i) < 0 || a.strides(i) % a.itemsize() != 0) return false;
  }
  return true;
}

}  // namespace

torch::Tensor tensor_of(py::handle object, const std::string& name, py::object& keep) {
  auto np = py::module_::import("numpy");
  py::array a = np.attr("asarray")(object);
  const char kind = a.dtype().kind();
  IIS_CHECK_HINT(
      kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b',
      name << ": an array of " << py::str(a.dtype()).cast<std::string>() << " is not numbers",
      "pass a NumPy array (or a PyTorch CPU tensor) of floats or integers");
  if (scalar_type_of(a.dtype()) == torch::ScalarType::Undefined || !viewable(a)) {
    // One conversion by NumPy, straight to the type the library computes in.
    a = np.attr("ascontiguousarray")(a, kind == 'f' ? "float32" : "int64");
  }
  keep = a;
  std::vector<int64_t> sizes, strides;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    sizes.push_back(a.shape(i));
    strides.push_back(a.strides(i) / a.itemsize());
  }
  // The library only reads its inputs: a read-only array is safe to view.
  return torch::from_blob(const_cast<void*>(a.data()), sizes, strides,
                          torch::TensorOptions().dtype(scalar_type_of(a.dtype())));
}

py::array array_of(const torch::Tensor& tensor) {
  const torch::Tensor t = tensor.cpu();
  std::vector<py::ssize_t> shape, strides;
  for (int64_t i = 0; i < t.dim(); ++i) {
    shape.push_back(t.size(i));
    strides.push_back(t.stride(i) * t.element_size());
  }
  py::dtype dtype;
  switch (t.scalar_type()) {
    case torch::kFloat32:
      dtype = py::dtype::of<float>();
      break;
    case torch::kFloat64:
      dtype = py::dtype::of<double>();
      break;
    case torch::kInt64:
      dtype = py::dtype::of<int64_t>();
      break;
    case torch::kInt32:
      dtype = py::dtype::of<int32_t>();
      break;
    case torch::kUInt8:
      dtype = py::dtype::of<uint8_t>();
      break;
    case torch::kBool:
      dtype = py::dtype::of<bool>();
      break;
    default:
      IIS_ASSERT(false, "array_of: no NumPy dtype for " << t.scalar_type());
  }
  auto* owner = new torch::Tensor(t);
  py::capsule base(owner, [](void* p) { delete static_cast<torch::Tensor*>(p); });
  return py::array(dtype, shape, strides, t.data_ptr(), base);
}

uintptr_t feature_data_address(py::handle object) {
  py::object keep;
  const torch::Tensor t = io::features_from_array(tensor_of(object, "x", keep), "x", "x");
  return reinterpret_cast<uintptr_t>(t.data_ptr());
}

}  // namespace iis::python
