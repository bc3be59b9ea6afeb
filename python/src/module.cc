// liveweight._native: the one extension behind both Python packages. `acl` re-exports the
// submodules acl / acl_rt / acl_mdl / acl_util; `liveweight` wraps the rest. Both call the shared
// library's public C and C++ APIs, so they drive the same runtime as C code in the process.
#include "bindings.h"

namespace py = pybind11;

PYBIND11_MODULE(_native, m) {
  m.doc() = "liveweight native bindings (use the acl and liveweight packages)";
  py::module_ acl = m.def_submodule("acl", "pyACL top level");
  lw::python::register_acl_base(acl);
  py::module_ rt = m.def_submodule("acl_rt", "pyACL acl.rt");
  lw::python::register_acl_rt(rt);
  py::module_ mdl = m.def_submodule("acl_mdl", "pyACL acl.mdl");
  lw::python::register_acl_mdl(mdl);
  py::module_ util = m.def_submodule("acl_util", "pyACL acl.util");
  lw::python::register_acl_util(util);
  lw::python::register_native(m);
}
