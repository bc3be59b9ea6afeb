// numpy dtypes <-> lw::DType (values equal aclDataType).
#pragma once

#include <liveweight/dtype.h>
#include <pybind11/numpy.h>

#include <optional>

namespace lw::python {

// The DType of a numpy dtype with native byte order; nullopt when liveweight has no such type.
std::optional<DType> dtype_from_numpy(const pybind11::dtype& dt);
// The numpy dtype of `t`; nullopt for types numpy lacks (bfloat16, string, undefined).
std::optional<pybind11::dtype> numpy_from_dtype(DType t);

}  // namespace lw::python
