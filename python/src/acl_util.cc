// pyACL acl.util: addresses of Python bytes and numpy arrays, and views/copies of raw memory.
// These have no C counterpart and no ret: a bad value raises ValueError.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "liveweight/memory.h"

namespace py = pybind11;

namespace lw::python {

namespace {
void* checked_ptr(const PyInt& v, const char* func) {
  if (v.negative || v.overflow) throw py::value_error(std::string(func) + ": ptr must be an address in [0, 2^64)");
  return reinterpret_cast<void*>(static_cast<uintptr_t>(v.magnitude));
}

// Reading device memory from the host would crash the interpreter; refuse it with a hint.
void refuse_device_memory(const void* p, const char* func) {
  if (lw::is_device_pointer(p))
    throw py::value_error(std::string(func) +
                          ": ptr is CUDA device memory (acl.rt.malloc on the cuda backend); copy it to host memory "
                          "with acl.rt.memcpy first");
}

size_t checked_size(const PyInt& v, const char* func, const char* name) {
  if (v.negative || v.overflow) throw py::value_error(std::string(func) + ": " + name + " must be >= 0");
  return static_cast<size_t>(v.magnitude);
}
}  // namespace

void register_acl_util(py::module_& m) {
  m.def(
      "bytes_to_ptr",
      [](py::bytes data) { return reinterpret_cast<uintptr_t>(PyBytes_AS_STRING(data.ptr())); },
      py::arg("data"), "Address of the bytes' contents, no copy: keep the bytes object alive while it is used.");
  m.def(
      "ptr_to_bytes",
      [](PyInt ptr, PyInt size) {
        void* p = checked_ptr(ptr, "ptr_to_bytes");
        size_t n = checked_size(size, "ptr_to_bytes", "size");
        if (!p && n > 0) throw py::value_error("ptr_to_bytes: ptr is NULL");
        if (n > static_cast<size_t>(PY_SSIZE_T_MAX)) throw py::value_error("ptr_to_bytes: size is too large");
        refuse_device_memory(p, "ptr_to_bytes");
        return py::bytes(static_cast<const char*>(p), n);
      },
      py::arg("ptr"), py::arg("size"), "Copies size bytes at ptr into a new bytes object.");
  m.def(
      "numpy_to_ptr",
      [](py::array array) {
        if (!(array.flags() & py::array::c_style))
          throw py::value_error("numpy_to_ptr: the array is not C-contiguous (use numpy.ascontiguousarray)");
        return reinterpret_cast<uintptr_t>(array.data());
      },
      py::arg("array"), "Address of a C-contiguous array's data, no copy: keep the array alive while it is used.");
  m.def(
      "ptr_to_numpy",
      [](PyInt ptr, std::vector<PyInt> shape, py::object npy_type) {
        void* p = checked_ptr(ptr, "ptr_to_numpy");
        py::dtype dt = py::isinstance<py::int_>(npy_type) ? py::dtype(npy_type.cast<int>()) : py::dtype::from_args(npy_type);
        std::vector<py::ssize_t> dims;
        size_t count = 1;
        for (const PyInt& d : shape) {
          size_t n = checked_size(d, "ptr_to_numpy", "every dim");
          if (n > static_cast<size_t>(PY_SSIZE_T_MAX) || (n != 0 && count > SIZE_MAX / n))
            throw py::value_error("ptr_to_numpy: the shape is too large");
          count *= n;
          dims.push_back(static_cast<py::ssize_t>(n));
        }
        if (!p && count > 0 && dt.itemsize() > 0) throw py::value_error("ptr_to_numpy: ptr is NULL");
        refuse_device_memory(p, "ptr_to_numpy");
        // A do-nothing base makes numpy view the memory instead of copying it.
        py::capsule no_owner(p ? p : reinterpret_cast<void*>(1), [](void*) {});
        return py::array(dt, dims, p, no_owner);
      },
      py::arg("ptr"), py::arg("shape"), py::arg("npy_type"),
      "A numpy array viewing the memory at ptr (no copy): the memory must outlive the array. npy_type is a numpy "
      "type number (e.g. numpy.dtype('float32').num) or a dtype.");
}

}  // namespace lw::python
