// pyACL top level: init, finalize, error text, data buffers, tensor descriptions.
#include <acl/acl.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"

namespace py = pybind11;

namespace lw::python {

namespace {
uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

std::string text_or_empty(const char* s) { return s ? std::string(s) : std::string(); }
}  // namespace

void register_acl_base(py::module_& m) {
  m.def(
      "init",
      [](std::optional<std::string> config_path) {
        py::gil_scoped_release nogil;
        return aclInit(config_path ? config_path->c_str() : nullptr);
      },
      py::arg("config_path") = py::none(), "aclInit; returns ret. config_path may be None or \"\".");
  m.def(
      "finalize",
      [] {
        py::gil_scoped_release nogil;
        return aclFinalize();
      },
      "aclFinalize; returns ret.");
  m.def("get_recent_err_msg", &take_recent_error_text,
        "Text of the calling thread's most recent failure, then cleared (\"\" when none).");

  // ---- data buffers ----
  m.def(
      "create_data_buffer",
      [](PyInt data, PyInt size) -> uintptr_t {
        Args a("aclCreateDataBuffer");
        void* p = a.ptr(data, "data");
        size_t n = a.size(size, "size");
        if (!a.ok()) return a.fail(0);
        return addr(aclCreateDataBuffer(p, n));
      },
      py::arg("data"), py::arg("size"), "aclCreateDataBuffer; returns the buffer handle (0 on failure).");
  m.def(
      "destroy_data_buffer",
      [](PyInt buffer) {
        Args a("aclDestroyDataBuffer");
        void* b = a.ptr(buffer, "data_buffer");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        return aclDestroyDataBuffer(static_cast<aclDataBuffer*>(b));
      },
      py::arg("data_buffer"));
  m.def(
      "update_data_buffer",
      [](PyInt buffer, PyInt data, PyInt size) {
        Args a("aclUpdateDataBuffer");
        void* b = a.ptr(buffer, "data_buffer");
        void* p = a.ptr(data, "data");
        size_t n = a.size(size, "size");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        return aclUpdateDataBuffer(static_cast<aclDataBuffer*>(b), p, n);
      },
      py::arg("data_buffer"), py::arg("data"), py::arg("size"));
  m.def(
      "get_data_buffer_addr",
      [](PyInt buffer) -> uintptr_t {
        Args a("aclGetDataBufferAddr");
        void* b = a.ptr(buffer, "data_buffer");
        if (!a.ok()) return a.fail(0);
        return addr(aclGetDataBufferAddr(static_cast<aclDataBuffer*>(b)));
      },
      py::arg("data_buffer"));
  m.def(
      "get_data_buffer_size",
      [](PyInt buffer) -> uint64_t {
        Args a("aclGetDataBufferSize");
        void* b = a.ptr(buffer, "data_buffer");
        if (!a.ok()) return a.fail(0);
        return aclGetDataBufferSize(static_cast<aclDataBuffer*>(b));
      },
      py::arg("data_buffer"));
  m.def(
      "get_data_buffer_size_v2",
      [](PyInt buffer) -> uint64_t {
        Args a("aclGetDataBufferSizeV2");
        void* b = a.ptr(buffer, "data_buffer");
        if (!a.ok()) return a.fail(0);
        return aclGetDataBufferSizeV2(static_cast<aclDataBuffer*>(b));
      },
      py::arg("data_buffer"));
  m.def(
      "data_type_size",
      [](PyInt dtype) -> uint64_t {
        Args a("aclDataTypeSize");
        int32_t t = a.i32(dtype, "data_type");
        if (!a.ok()) return a.fail(0);
        return aclDataTypeSize(static_cast<aclDataType>(t));
      },
      py::arg("data_type"));

  // ---- tensor descriptions ----
  m.def(
      "create_tensor_desc",
      [](PyInt dtype, std::vector<PyInt> dims, PyInt format) -> uintptr_t {
        Args a("aclCreateTensorDesc");
        int32_t t = a.i32(dtype, "data_type");
        int32_t f = a.i32(format, "format");
        std::vector<int64_t> d;
        for (const PyInt& v : dims) d.push_back(a.i64(v, "dims[i]"));
        if (d.size() > static_cast<size_t>(INT32_MAX)) return a.fail(0);
        if (!a.ok()) return a.fail(0);
        return addr(aclCreateTensorDesc(static_cast<aclDataType>(t), static_cast<int>(d.size()),
                                        d.empty() ? nullptr : d.data(), static_cast<aclFormat>(f)));
      },
      py::arg("data_type"), py::arg("dims"), py::arg("format"),
      "aclCreateTensorDesc(data_type, dims_list, format); [] makes a scalar. Returns the handle (0 on failure).");
  m.def(
      "destroy_tensor_desc",
      [](PyInt desc) {
        Args a("aclDestroyTensorDesc");
        void* d = a.ptr(desc, "desc");
        if (!a.ok()) {
          a.fail(0);
          return;
        }
        aclDestroyTensorDesc(static_cast<aclTensorDesc*>(d));
      },
      py::arg("desc"), "aclDestroyTensorDesc; returns None (failures leave an error text).");
  m.def(
      "get_tensor_desc_type",
      [](PyInt desc) -> int {
        Args a("aclGetTensorDescType");
        void* d = a.ptr(desc, "desc");
        if (!a.ok()) return a.fail(ACL_DT_UNDEFINED);
        return aclGetTensorDescType(static_cast<aclTensorDesc*>(d));
      },
      py::arg("desc"));
  m.def(
      "get_tensor_desc_format",
      [](PyInt desc) -> int {
        Args a("aclGetTensorDescFormat");
        void* d = a.ptr(desc, "desc");
        if (!a.ok()) return a.fail(ACL_FORMAT_UNDEFINED);
        return aclGetTensorDescFormat(static_cast<aclTensorDesc*>(d));
      },
      py::arg("desc"));
  m.def(
      "get_tensor_desc_size",
      [](PyInt desc) -> uint64_t {
        Args a("aclGetTensorDescSize");
        void* d = a.ptr(desc, "desc");
        if (!a.ok()) return a.fail(0);
        return aclGetTensorDescSize(static_cast<aclTensorDesc*>(d));
      },
      py::arg("desc"));
  m.def(
      "get_tensor_desc_element_count",
      [](PyInt desc) -> uint64_t {
        Args a("aclGetTensorDescElementCount");
        void* d = a.ptr(desc, "desc");
        if (!a.ok()) return a.fail(0);
        return aclGetTensorDescElementCount(static_cast<aclTensorDesc*>(d));
      },
      py::arg("desc"));
  m.def(
      "get_tensor_desc_num_dims",
      [](PyInt desc) -> uint64_t {
        Args a("aclGetTensorDescNumDims");
        void* d = a.ptr(desc, "desc");
        if (!a.ok()) return a.fail(0);
        return aclGetTensorDescNumDims(static_cast<aclTensorDesc*>(d));
      },
      py::arg("desc"));
  m.def(
      "get_tensor_desc_dim_v2",
      [](PyInt desc, PyInt index) {
        Args a("aclGetTensorDescDimV2");
        void* d = a.ptr(desc, "desc");
        size_t i = a.size(index, "index");
        int64_t dim = 0;
        int ret = a.ok() ? aclGetTensorDescDimV2(static_cast<aclTensorDesc*>(d), i, &dim)
                         : a.fail(ACL_ERROR_INVALID_PARAM);
        return py::make_tuple(dim, ret);
      },
      py::arg("desc"), py::arg("index"), "Returns (dim_size, ret).");
  m.def(
      "get_tensor_desc_dim",
      [](PyInt desc, PyInt index) -> int64_t {
        Args a("aclGetTensorDescDim");
        void* d = a.ptr(desc, "desc");
        size_t i = a.size(index, "index");
        if (!a.ok()) return a.fail(-1);
        return aclGetTensorDescDim(static_cast<aclTensorDesc*>(d), i);
      },
      py::arg("desc"), py::arg("index"));
  m.def(
      "set_tensor_desc_name",
      [](PyInt desc, const std::string& name) {
        Args a("aclSetTensorDescName");
        void* d = a.ptr(desc, "desc");
        if (!a.ok()) {
          a.fail(0);
          return;
        }
        aclSetTensorDescName(static_cast<aclTensorDesc*>(d), name.c_str());
      },
      py::arg("desc"), py::arg("name"), "aclSetTensorDescName; returns None.");
  m.def(
      "get_tensor_desc_name",
      [](PyInt desc) {
        Args a("aclGetTensorDescName");
        void* d = a.ptr(desc, "desc");
        if (!a.ok()) {
          a.fail(0);
          return std::string();
        }
        return text_or_empty(aclGetTensorDescName(static_cast<aclTensorDesc*>(d)));
      },
      py::arg("desc"), "The name (\"\" when none, or on failure with an error text).");
}

}  // namespace lw::python
