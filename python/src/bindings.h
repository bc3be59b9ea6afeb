// The pieces of the _native extension module; each registers its functions on the module given.
#pragma once

#include <pybind11/pybind11.h>

namespace lw::python {

// acl: init/finalize, errors, data buffers, tensor descriptions (acl_base.h, acl.h).
void register_acl_base(pybind11::module_& m);
// acl.rt: devices, contexts, streams, memory (acl_rt.h).
void register_acl_rt(pybind11::module_& m);
// acl.mdl: datasets, model descriptions, models and bundles (acl_mdl.h).
void register_acl_mdl(pybind11::module_& m);
// acl.util: pointers <-> bytes and numpy arrays.
void register_acl_util(pybind11::module_& m);
// liveweight: build() and the Session-backed bundle.
void register_native(pybind11::module_& m);

}  // namespace lw::python
