// pyACL acl.rt: devices, contexts, streams and memory.
#include <acl/acl.h>

#include "args.h"
#include "bindings.h"

namespace py = pybind11;

namespace lw::python {

namespace {
uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }
}  // namespace

void register_acl_rt(py::module_& m) {
  // ---- devices ----
  m.def(
      "set_device",
      [](PyInt device_id) {
        Args a("aclrtSetDevice");
        int32_t id = a.i32(device_id, "device_id");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_DEVICE);
        return aclrtSetDevice(id);
      },
      py::arg("device_id"));
  m.def(
      "reset_device",
      [](PyInt device_id) {
        Args a("aclrtResetDevice");
        int32_t id = a.i32(device_id, "device_id");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_DEVICE);
        py::gil_scoped_release nogil;
        return aclrtResetDevice(id);
      },
      py::arg("device_id"));
  m.def(
      "get_device",
      [] {
        int32_t id = 0;
        int ret = aclrtGetDevice(&id);
        return py::make_tuple(id, ret);
      },
      "Returns (device_id, ret).");
  m.def(
      "get_run_mode",
      [] {
        aclrtRunMode mode = ACL_HOST;
        int ret = aclrtGetRunMode(&mode);
        return py::make_tuple(static_cast<int>(mode), ret);
      },
      "Returns (run_mode, ret); 1 (ACL_HOST) on the CPU backend.");

  // ---- contexts ----
  m.def(
      "create_context",
      [](PyInt device_id) {
        Args a("aclrtCreateContext");
        int32_t id = a.i32(device_id, "device_id");
        aclrtContext ctx = nullptr;
        int ret = a.ok() ? aclrtCreateContext(&ctx, id) : a.fail(ACL_ERROR_INVALID_DEVICE);
        return py::make_tuple(addr(ctx), ret);
      },
      py::arg("device_id"), "Returns (context, ret).");
  m.def(
      "destroy_context",
      [](PyInt context) {
        Args a("aclrtDestroyContext");
        void* c = a.ptr(context, "context");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        return aclrtDestroyContext(c);
      },
      py::arg("context"));
  m.def(
      "set_current_context",
      [](PyInt context) {
        Args a("aclrtSetCurrentContext");
        void* c = a.ptr(context, "context");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        return aclrtSetCurrentContext(c);
      },
      py::arg("context"));
  m.def(
      "get_current_context",
      [] {
        aclrtContext ctx = nullptr;
        int ret = aclrtGetCurrentContext(&ctx);
        return py::make_tuple(addr(ctx), ret);
      },
      "Returns (context, ret).");

  // ---- streams ----
  m.def(
      "create_stream",
      [] {
        aclrtStream stream = nullptr;
        int ret = aclrtCreateStream(&stream);
        return py::make_tuple(addr(stream), ret);
      },
      "Returns (stream, ret).");
  m.def(
      "destroy_stream",
      [](PyInt stream) {
        Args a("aclrtDestroyStream");
        void* s = a.ptr(stream, "stream");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        py::gil_scoped_release nogil;
        return aclrtDestroyStream(s);
      },
      py::arg("stream"));
  m.def(
      "synchronize_stream",
      [](PyInt stream) {
        Args a("aclrtSynchronizeStream");
        void* s = a.ptr(stream, "stream");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        py::gil_scoped_release nogil;
        return aclrtSynchronizeStream(s);
      },
      py::arg("stream"));

  // ---- memory ----
  m.def(
      "malloc",
      [](PyInt size, PyInt policy) {
        Args a("aclrtMalloc");
        size_t n = a.size(size, "size");
        int32_t p = a.i32(policy, "policy");
        void* ptr = nullptr;
        int ret = a.ok() ? aclrtMalloc(&ptr, n, static_cast<aclrtMemMallocPolicy>(p)) : a.fail(ACL_ERROR_INVALID_PARAM);
        return py::make_tuple(addr(ptr), ret);
      },
      py::arg("size"), py::arg("policy"), "Returns (dev_ptr, ret).");
  m.def(
      "free",
      [](PyInt dev_ptr) {
        Args a("aclrtFree");
        void* p = a.ptr(dev_ptr, "dev_ptr");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        return aclrtFree(p);
      },
      py::arg("dev_ptr"));
  m.def(
      "malloc_host",
      [](PyInt size) {
        Args a("aclrtMallocHost");
        size_t n = a.size(size, "size");
        void* ptr = nullptr;
        int ret = a.ok() ? aclrtMallocHost(&ptr, n) : a.fail(ACL_ERROR_INVALID_PARAM);
        return py::make_tuple(addr(ptr), ret);
      },
      py::arg("size"), "Returns (host_ptr, ret).");
  m.def(
      "free_host",
      [](PyInt host_ptr) {
        Args a("aclrtFreeHost");
        void* p = a.ptr(host_ptr, "host_ptr");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        return aclrtFreeHost(p);
      },
      py::arg("host_ptr"));
  m.def(
      "memcpy",
      [](PyInt dst, PyInt dest_max, PyInt src, PyInt count, PyInt kind) {
        Args a("aclrtMemcpy");
        void* d = a.ptr(dst, "dst");
        size_t max = a.size(dest_max, "dest_max");
        void* s = a.ptr(src, "src");
        size_t n = a.size(count, "count");
        int32_t k = a.i32(kind, "kind");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        py::gil_scoped_release nogil;
        return aclrtMemcpy(d, max, s, n, static_cast<aclrtMemcpyKind>(k));
      },
      py::arg("dst"), py::arg("dest_max"), py::arg("src"), py::arg("count"), py::arg("kind"));
  m.def(
      "memcpy_async",
      [](PyInt dst, PyInt dest_max, PyInt src, PyInt count, PyInt kind, PyInt stream) {
        Args a("aclrtMemcpyAsync");
        void* d = a.ptr(dst, "dst");
        size_t max = a.size(dest_max, "dest_max");
        void* s = a.ptr(src, "src");
        size_t n = a.size(count, "count");
        int32_t k = a.i32(kind, "kind");
        void* st = a.ptr(stream, "stream");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        py::gil_scoped_release nogil;
        return aclrtMemcpyAsync(d, max, s, n, static_cast<aclrtMemcpyKind>(k), st);
      },
      py::arg("dst"), py::arg("dest_max"), py::arg("src"), py::arg("count"), py::arg("kind"), py::arg("stream"));
  m.def(
      "memset",
      [](PyInt dev_ptr, PyInt max_count, PyInt value, PyInt count) {
        Args a("aclrtMemset");
        void* d = a.ptr(dev_ptr, "dev_ptr");
        size_t max = a.size(max_count, "max_count");
        int32_t v = a.i32(value, "value");
        size_t n = a.size(count, "count");
        if (!a.ok()) return a.fail(ACL_ERROR_INVALID_PARAM);
        py::gil_scoped_release nogil;
        return aclrtMemset(d, max, v, n);
      },
      py::arg("dev_ptr"), py::arg("max_count"), py::arg("value"), py::arg("count"));
}

}  // namespace lw::python
