// pyACL acl.mdl: datasets, model descriptions, loading and running models and bundles.
#include <acl/acl.h>

#include <cstring>
#include <string>

#include "args.h"
#include "bindings.h"

namespace py = pybind11;

namespace lw::python {

namespace {
uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

py::dict io_dims_dict(const aclmdlIODims& d, bool ok) {
  py::dict out;
  py::list dims;
  size_t count = ok ? d.dimCount : 0;
  if (count > ACL_MAX_DIM_CNT) count = ACL_MAX_DIM_CNT;
  for (size_t i = 0; i < count; ++i) dims.append(d.dims[i]);
  out["name"] = ok ? std::string(d.name, strnlen(d.name, ACL_MAX_TENSOR_NAME_LEN)) : std::string();
  out["dimCount"] = count;
  out["dims"] = dims;
  return out;
}

using DimsFn = aclError (*)(const aclmdlDesc*, size_t, aclmdlIODims*);

// get_input_dims / get_output_dims / get_cur_output_dims: ({"name", "dimCount", "dims"}, ret).
void def_dims(py::module_& m, const char* name, const char* c_name, DimsFn fn) {
  m.def(
      name,
      [c_name, fn](PyInt desc, PyInt index) {
        Args a(c_name);
        void* d = a.ptr(desc, "model_desc");
        size_t i = a.size(index, "index");
        aclmdlIODims dims{};
        int ret = a.ok() ? fn(static_cast<aclmdlDesc*>(d), i, &dims) : a.fail(ACL_ERROR_INVALID_PARAM);
        return py::make_tuple(io_dims_dict(dims, ret == ACL_SUCCESS), ret);
      },
      py::arg("model_desc"), py::arg("index"), "Returns ({\"name\": str, \"dimCount\": int, \"dims\": list}, ret).");
}

using SizeFn = size_t (*)(aclmdlDesc*, size_t);
void def_size(py::module_& m, const char* name, const char* c_name, SizeFn fn) {
  m.def(
      name,
      [c_name, fn](PyInt desc, PyInt index) -> uint64_t {
        Args a(c_name);
        void* d = a.ptr(desc, "model_desc");
        size_t i = a.size(index, "index");
        if (!a.ok()) return a.fail(0);
        return fn(static_cast<aclmdlDesc*>(d), i);
      },
      py::arg("model_desc"), py::arg("index"));
}

using NameFn = const char* (*)(const aclmdlDesc*, size_t);
void def_name(py::module_& m, const char* name, const char* c_name, NameFn fn) {
  m.def(
      name,
      [c_name, fn](PyInt desc, PyInt index) {
        Args a(c_name);
        void* d = a.ptr(desc, "model_desc");
        size_t i = a.size(index, "index");
        if (!a.ok()) {
          a.fail(0);
          return std::string();
        }
        const char* s = fn(static_cast<aclmdlDesc*>(d), i);
        return s ? std::string(s) : std::string();
      },
      py::arg("model_desc"), py::arg("index"), "The name (\"\" on failure, with an error text).");
}

template <typename Fn>
void def_enum_getter(py::module_& m, const char* name, const char* c_name, Fn fn, int fallback) {
  m.def(
      name,
      [c_name, fn, fallback](PyInt desc, PyInt index) -> int {
        Args a(c_name);
        void* d = a.ptr(desc, "model_desc");
        size_t i = a.size(index, "index");
        if (!a.ok()) return a.fail(fallback);
        return static_cast<int>(fn(static_cast<aclmdlDesc*>(d), i));
      },
      py::arg("model_desc"), py::arg("index"));
}

using IndexFn = aclError (*)(const aclmdlDesc*, const char*, size_t*);
void def_index(py::module_& m, const char* name, const char* c_name, IndexFn fn) {
  m.def(
      name,
      [c_name, fn](PyInt desc, const std::string& io_name) {
        Args a(c_name);
        void* d = a.ptr(desc, "model_desc");
        size_t index = 0;
        int ret = a.ok() ? fn(static_cast<aclmdlDesc*>(d), io_name.c_str(), &index) : a.fail(ACL_ERROR_INVALID_PARAM);
        return py::make_tuple(index, ret);
      },
      py::arg("model_desc"), py::arg("name"), "Returns (index, ret).");
}

using LoadFileFn = aclError (*)(const char*, uint32_t*);
void def_load_file(py::module_& m, const char* name, LoadFileFn fn) {
  m.def(
      name,
      [fn](const std::string& path) {
        uint32_t id = 0;
        int ret;
        {
          py::gil_scoped_release nogil;
          ret = fn(path.c_str(), &id);
        }
        return py::make_tuple(id, ret);
      },
      py::arg("model_path"), "Returns (id, ret).");
}

using LoadMemFn = aclError (*)(const void*, size_t, uint32_t*);
void def_load_mem(py::module_& m, const char* name, const char* c_name, LoadMemFn fn) {
  m.def(
      name,
      [c_name, fn](PyInt model, PyInt size) {
        Args a(c_name);
        void* p = a.ptr(model, "model");
        size_t n = a.size(size, "model_size");
        uint32_t id = 0;
        int ret;
        if (!a.ok()) {
          ret = a.fail(ACL_ERROR_INVALID_PARAM);
        } else {
          py::gil_scoped_release nogil;
          ret = fn(p, n, &id);
        }
        return py::make_tuple(id, ret);
      },
      py::arg("model"), py::arg("model_size"), "model is an address (acl.util.bytes_to_ptr). Returns (id, ret).");
}

// For functions taking one id (unload, bundle_unload).
void def_id_call(py::module_& m, const char* name, const char* c_name, aclError (*fn)(uint32_t), int bad_code) {
  m.def(
      name,
      [c_name, fn, bad_code](PyInt id) {
        Args a(c_name);
        uint32_t v = a.u32(id, "id");
        if (!a.ok()) return a.fail(bad_code);
        py::gil_scoped_release nogil;
        return fn(v);
      },
      py::arg("id"));
}
}  // namespace

void register_acl_mdl(py::module_& m) {
  // ---- datasets ----
  m.def("create_dataset", [] { return addr(aclmdlCreateDataset()); }, "Returns the dataset handle (0 on failure).");
  m.def(
      "destroy_dataset",
      [](PyInt dataset) {
        Args a("aclmdlDestroyDataset");
        void* d = a.ptr(dataset, "dataset");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        return aclmdlDestroyDataset(static_cast<aclmdlDataset*>(d));
      },
      py::arg("dataset"));
  m.def(
      "add_dataset_buffer",
      [](PyInt dataset, PyInt buffer) {
        Args a("aclmdlAddDatasetBuffer");
        void* d = a.ptr(dataset, "dataset");
        void* b = a.ptr(buffer, "data_buffer");
        int ret = a.ok() ? aclmdlAddDatasetBuffer(static_cast<aclmdlDataset*>(d), static_cast<aclDataBuffer*>(b))
                         : a.fail(ACL_ERROR_INVALID_PARAM);
        return py::make_tuple(dataset, ret);
      },
      py::arg("dataset"), py::arg("data_buffer"), "Returns (dataset, ret).");
  m.def(
      "get_dataset_num_buffers",
      [](PyInt dataset) -> uint64_t {
        Args a("aclmdlGetDatasetNumBuffers");
        void* d = a.ptr(dataset, "dataset");
        if (!a.ok()) return a.fail(0);
        return aclmdlGetDatasetNumBuffers(static_cast<aclmdlDataset*>(d));
      },
      py::arg("dataset"));
  m.def(
      "get_dataset_buffer",
      [](PyInt dataset, PyInt index) -> uintptr_t {
        Args a("aclmdlGetDatasetBuffer");
        void* d = a.ptr(dataset, "dataset");
        size_t i = a.size(index, "index");
        if (!a.ok()) return a.fail(0);
        return addr(aclmdlGetDatasetBuffer(static_cast<aclmdlDataset*>(d), i));
      },
      py::arg("dataset"), py::arg("index"));
  m.def(
      "set_dataset_tensor_desc",
      [](PyInt dataset, PyInt desc, PyInt index) {
        Args a("aclmdlSetDatasetTensorDesc");
        void* d = a.ptr(dataset, "dataset");
        void* t = a.ptr(desc, "tensor_desc");
        size_t i = a.size(index, "index");
        int ret = a.ok() ? aclmdlSetDatasetTensorDesc(static_cast<aclmdlDataset*>(d), static_cast<aclTensorDesc*>(t), i)
                         : a.fail(ACL_ERROR_INVALID_PARAM);
        return py::make_tuple(dataset, ret);
      },
      py::arg("dataset"), py::arg("tensor_desc"), py::arg("index"), "Returns (dataset, ret).");
  m.def(
      "get_dataset_tensor_desc",
      [](PyInt dataset, PyInt index) -> uintptr_t {
        Args a("aclmdlGetDatasetTensorDesc");
        void* d = a.ptr(dataset, "dataset");
        size_t i = a.size(index, "index");
        if (!a.ok()) return a.fail(0);
        return addr(aclmdlGetDatasetTensorDesc(static_cast<aclmdlDataset*>(d), i));
      },
      py::arg("dataset"), py::arg("index"), "The slot's description handle (owned by the dataset), 0 when none.");

  // ---- model descriptions ----
  m.def("create_desc", [] { return addr(aclmdlCreateDesc()); }, "Returns the description handle (0 on failure).");
  m.def(
      "destroy_desc",
      [](PyInt desc) {
        Args a("aclmdlDestroyDesc");
        void* d = a.ptr(desc, "model_desc");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        return aclmdlDestroyDesc(static_cast<aclmdlDesc*>(d));
      },
      py::arg("model_desc"));
  m.def(
      "get_desc",
      [](PyInt desc, PyInt model_id) {
        Args a("aclmdlGetDesc");
        void* d = a.ptr(desc, "model_desc");
        uint32_t id = a.u32(model_id, "model_id");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        return aclmdlGetDesc(static_cast<aclmdlDesc*>(d), id);
      },
      py::arg("model_desc"), py::arg("model_id"));
  m.def(
      "get_num_inputs",
      [](PyInt desc) -> uint64_t {
        Args a("aclmdlGetNumInputs");
        void* d = a.ptr(desc, "model_desc");
        if (!a.ok()) return a.fail(0);
        return aclmdlGetNumInputs(static_cast<aclmdlDesc*>(d));
      },
      py::arg("model_desc"));
  m.def(
      "get_num_outputs",
      [](PyInt desc) -> uint64_t {
        Args a("aclmdlGetNumOutputs");
        void* d = a.ptr(desc, "model_desc");
        if (!a.ok()) return a.fail(0);
        return aclmdlGetNumOutputs(static_cast<aclmdlDesc*>(d));
      },
      py::arg("model_desc"));
  def_size(m, "get_input_size_by_index", "aclmdlGetInputSizeByIndex", &aclmdlGetInputSizeByIndex);
  def_size(m, "get_output_size_by_index", "aclmdlGetOutputSizeByIndex", &aclmdlGetOutputSizeByIndex);
  def_dims(m, "get_input_dims", "aclmdlGetInputDims", &aclmdlGetInputDims);
  def_dims(m, "get_output_dims", "aclmdlGetOutputDims", &aclmdlGetOutputDims);
  def_dims(m, "get_cur_output_dims", "aclmdlGetCurOutputDims", &aclmdlGetCurOutputDims);
  def_name(m, "get_input_name_by_index", "aclmdlGetInputNameByIndex", &aclmdlGetInputNameByIndex);
  def_name(m, "get_output_name_by_index", "aclmdlGetOutputNameByIndex", &aclmdlGetOutputNameByIndex);
  def_enum_getter(m, "get_input_format", "aclmdlGetInputFormat", &aclmdlGetInputFormat, ACL_FORMAT_UNDEFINED);
  def_enum_getter(m, "get_output_format", "aclmdlGetOutputFormat", &aclmdlGetOutputFormat, ACL_FORMAT_UNDEFINED);
  def_enum_getter(m, "get_input_data_type", "aclmdlGetInputDataType", &aclmdlGetInputDataType, ACL_DT_UNDEFINED);
  def_enum_getter(m, "get_output_data_type", "aclmdlGetOutputDataType", &aclmdlGetOutputDataType, ACL_DT_UNDEFINED);
  def_index(m, "get_input_index_by_name", "aclmdlGetInputIndexByName", &aclmdlGetInputIndexByName);
  def_index(m, "get_output_index_by_name", "aclmdlGetOutputIndexByName", &aclmdlGetOutputIndexByName);

  // ---- models ----
  def_load_file(m, "load_from_file", &aclmdlLoadFromFile);
  def_load_mem(m, "load_from_mem", "aclmdlLoadFromMem", &aclmdlLoadFromMem);
  def_id_call(m, "unload", "aclmdlUnload", &aclmdlUnload, ACL_ERROR_INVALID_MODEL_ID);
  m.def(
      "execute",
      [](PyInt model_id, PyInt input, PyInt output) {
        Args a("aclmdlExecute");
        uint32_t id = a.u32(model_id, "model_id");
        void* in = a.ptr(input, "input");
        void* out = a.ptr(output, "output");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        py::gil_scoped_release nogil;
        return aclmdlExecute(id, static_cast<aclmdlDataset*>(in), static_cast<aclmdlDataset*>(out));
      },
      py::arg("model_id"), py::arg("input"), py::arg("output"));
  m.def(
      "execute_async",
      [](PyInt model_id, PyInt input, PyInt output, PyInt stream) {
        Args a("aclmdlExecuteAsync");
        uint32_t id = a.u32(model_id, "model_id");
        void* in = a.ptr(input, "input");
        void* out = a.ptr(output, "output");
        void* s = a.ptr(stream, "stream");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        py::gil_scoped_release nogil;
        return aclmdlExecuteAsync(id, static_cast<aclmdlDataset*>(in), static_cast<aclmdlDataset*>(out), s);
      },
      py::arg("model_id"), py::arg("input"), py::arg("output"), py::arg("stream"));

  // ---- bundles ----
  def_load_file(m, "bundle_load_from_file", &aclmdlBundleLoadFromFile);
  def_load_mem(m, "bundle_load_from_mem", "aclmdlBundleLoadFromMem", &aclmdlBundleLoadFromMem);
  m.def(
      "bundle_get_model_num",
      [](PyInt bundle_id) {
        Args a("aclmdlBundleGetModelNum");
        uint32_t id = a.u32(bundle_id, "bundle_id");
        size_t n = 0;
        int ret = a.ok() ? aclmdlBundleGetModelNum(id, &n) : a.fail(ACL_ERROR_INVALID_BUNDLE_MODEL_ID);
        return py::make_tuple(n, ret);
      },
      py::arg("bundle_id"), "Returns (model_num, ret).");
  m.def(
      "bundle_get_model_id",
      [](PyInt bundle_id, PyInt index) {
        Args a("aclmdlBundleGetModelId");
        uint32_t id = a.u32(bundle_id, "bundle_id");
        size_t i = a.size(index, "index");
        uint32_t model_id = 0;
        int ret = a.ok() ? aclmdlBundleGetModelId(id, i, &model_id) : a.fail(ACL_ERROR_INVALID_PARAM);
        return py::make_tuple(model_id, ret);
      },
      py::arg("bundle_id"), py::arg("index"), "Returns (model_id, ret).");
  def_id_call(m, "bundle_unload", "aclmdlBundleUnload", &aclmdlBundleUnload, ACL_ERROR_INVALID_BUNDLE_MODEL_ID);
}

}  // namespace lw::python
