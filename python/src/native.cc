// liveweight._native: build() and NativeBundle, a thin owner of lw::Session. The Python package
// (liveweight/_bundle.py) adds the Pythonic surface: argument conversion, `with`, Variable records.
#include <liveweight/build.h>
#include <liveweight/session.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "bindings.h"
#include "errors.h"
#include "np_dtype.h"

namespace py = pybind11;

namespace lw::python {

namespace {

// A view of a C-contiguous numpy array of a known dtype; refuses anything else (the Python layer
// converts first, so only a direct caller of _native sees these errors).
ArrayView view_of(const py::array& a, const std::string& what) {
  if (!(a.flags() & py::array::c_style)) throw py::value_error(what + " is not a C-contiguous array");
  std::optional<DType> t = dtype_from_numpy(a.dtype());
  if (!t) throw py::type_error(what + " has dtype " + py::str(a.dtype()).cast<std::string>() + ", which liveweight does not support");
  ArrayView v;
  v.data = a.data();
  v.dtype = *t;
  v.dims.assign(a.shape(), a.shape() + a.ndim());
  v.bytes = static_cast<size_t>(a.nbytes());
  return v;
}

// Hands the output's shared buffer to numpy without copying: the capsule keeps it alive.
py::array to_numpy(Array out, size_t index) {
  std::optional<py::dtype> dt = numpy_from_dtype(out.dtype);
  if (!dt)
    throw NativeError(acl_error_of(StatusCode::kUnsupportedDtype),
                      "output " + std::to_string(index) + " has a dtype numpy cannot represent");
  auto* owner = new std::shared_ptr<uint8_t>(std::move(out.data));
  py::capsule base(owner, [](void* p) { delete static_cast<std::shared_ptr<uint8_t>*>(p); });
  std::vector<py::ssize_t> shape(out.dims.begin(), out.dims.end());
  return py::array(*dt, shape, owner->get(), base);
}

py::list specs(const std::vector<TensorSpec>& list) {
  py::list out;
  for (const TensorSpec& t : list) out.append(py::make_tuple(t.name, static_cast<int>(t.dtype), t.dims));
  return out;
}

// close() must not race with infer/update (session.h): they share the lock, close takes it alone.
class NativeBundle {
 public:
  explicit NativeBundle(std::unique_ptr<Session> s) : session_(std::move(s)) {}

  static std::unique_ptr<NativeBundle> open(const std::string& path, bool in_place_updates, uint32_t keep_versions) {
    Result<std::unique_ptr<Session>> s = [&] {
      py::gil_scoped_release nogil;
      return Session::open(path, SessionOptions{in_place_updates, keep_versions});
    }();
    throw_if_error(s.status());
    return std::make_unique<NativeBundle>(std::move(s).value());
  }

  static std::unique_ptr<NativeBundle> open_bytes(const py::bytes& data, bool in_place_updates,
                                                  uint32_t keep_versions) {
    char* p = nullptr;
    py::ssize_t n = 0;
    if (PyBytes_AsStringAndSize(data.ptr(), &p, &n) != 0) throw py::error_already_set();
    Result<std::unique_ptr<Session>> s = [&] {
      py::gil_scoped_release nogil;  // `data` is immutable and kept alive by the caller's frame
      return Session::open_bytes(p, static_cast<size_t>(n), SessionOptions{in_place_updates, keep_versions});
    }();
    throw_if_error(s.status());
    return std::make_unique<NativeBundle>(std::move(s).value());
  }

  void init() {
    Status st;
    {
      py::gil_scoped_release nogil;
      std::shared_lock lock(mu_);
      st = session_->init();
    }
    throw_if_error(st);
  }

  py::list infer(const std::vector<py::array>& inputs) {
    std::vector<ArrayView> views;
    for (size_t i = 0; i < inputs.size(); ++i) views.push_back(view_of(inputs[i], "input " + std::to_string(i)));
    Result<std::vector<Array>> out = [&] {
      py::gil_scoped_release nogil;
      std::shared_lock lock(mu_);
      return session_->infer(views);
    }();
    throw_if_error(out.status());
    py::list result;
    for (size_t k = 0; k < out->size(); ++k) result.append(to_numpy(std::move((*out)[k]), k));
    return result;
  }

  void update(const std::map<std::string, py::array>& weights) {
    std::map<std::string, ArrayView> views;
    for (const auto& [name, a] : weights) views.emplace(name, view_of(a, "weight '" + name + "'"));
    Status st;
    {
      py::gil_scoped_release nogil;
      std::shared_lock lock(mu_);
      st = session_->update(views);
    }
    throw_if_error(st);
  }

  uint64_t version() {
    std::shared_lock lock(mu_);
    return session_->version();
  }

  std::vector<uint64_t> kept_versions() {
    std::shared_lock lock(mu_);
    return session_->kept_versions();
  }

  // version None: the newest kept version. Returns the new current version.
  uint64_t rollback(std::optional<uint64_t> version) {
    Result<uint64_t> r = [&] {
      py::gil_scoped_release nogil;
      std::shared_lock lock(mu_);
      return version ? session_->rollback(*version) : session_->rollback();
    }();
    throw_if_error(r.status());
    return *r;
  }

  void save(const std::string& path) {
    Status st;
    {
      py::gil_scoped_release nogil;
      std::shared_lock lock(mu_);
      st = session_->save(path);
    }
    throw_if_error(st);
  }

  py::list weights() {
    std::shared_lock lock(mu_);
    py::list out;
    for (const WeightInfo& w : session_->weights())
      out.append(py::make_tuple(w.name, w.source, static_cast<int>(w.dtype), w.dims, w.bytes));
    return out;
  }

  py::list inputs() {
    std::shared_lock lock(mu_);
    return specs(session_->inputs());
  }
  py::list outputs() {
    std::shared_lock lock(mu_);
    return specs(session_->outputs());
  }
  uint32_t bundle_id() {
    std::shared_lock lock(mu_);
    return session_->bundle_id();
  }
  bool is_open() {
    std::shared_lock lock(mu_);
    return session_->is_open();
  }

  void close() {
    Status st;
    {
      py::gil_scoped_release nogil;
      std::unique_lock lock(mu_);
      st = session_->close();
    }
    throw_if_error(st);
  }

 private:
  std::unique_ptr<Session> session_;
  std::shared_mutex mu_;
};

}  // namespace

void register_native(py::module_& m) {
  register_error_translator();

  m.def(
      "build",
      [](const std::string& onnx_path, const std::string& out_path, std::vector<std::string> refresh, bool init) {
        OnnxBuildOptions options;
        options.refresh = std::move(refresh);
        options.init = init;
        Status st;
        {
          py::gil_scoped_release nogil;
          st = build_bundle_from_onnx(onnx_path, out_path, options);
        }
        throw_if_error(st);
      },
      py::arg("onnx_path"), py::arg("out_path"), py::arg("refresh"), py::arg("init"));

  m.def(
      "numpy_dtype",
      [](int code) -> py::object {
        std::optional<py::dtype> dt = numpy_from_dtype(static_cast<DType>(code));
        if (!dt) return py::none();
        return *dt;
      },
      py::arg("code"), "The numpy dtype of an aclDataType value, or None.");

  py::class_<NativeBundle>(m, "NativeBundle")
      .def_static("open", &NativeBundle::open, py::arg("path"), py::arg("in_place_updates") = false,
                  py::arg("keep_versions") = 0)
      .def_static("open_bytes", &NativeBundle::open_bytes, py::arg("data"), py::arg("in_place_updates") = false,
                  py::arg("keep_versions") = 0)
      .def("kept_versions", &NativeBundle::kept_versions)
      .def("rollback", &NativeBundle::rollback, py::arg("version") = py::none())
      .def("init", &NativeBundle::init)
      .def("infer", &NativeBundle::infer, py::arg("inputs"))
      .def("update", &NativeBundle::update, py::arg("weights"))
      .def("version", &NativeBundle::version)
      .def("save", &NativeBundle::save, py::arg("path"))
      .def("weights", &NativeBundle::weights, "[(name, source, dtype code, dims, bytes)]")
      .def("inputs", &NativeBundle::inputs, "[(name, dtype code, dims)]")
      .def("outputs", &NativeBundle::outputs, "[(name, dtype code, dims)]")
      .def("bundle_id", &NativeBundle::bundle_id)
      .def("is_open", &NativeBundle::is_open)
      .def("close", &NativeBundle::close);
}

}  // namespace lw::python
