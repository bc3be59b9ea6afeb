#include "np_dtype.h"

namespace py = pybind11;

namespace lw::python {

namespace {
struct Entry {
  DType dtype;
  const char* numpy_name;
};
constexpr Entry kTable[] = {
    {DType::kFloat32, "float32"}, {DType::kFloat16, "float16"},     {DType::kFloat64, "float64"},
    {DType::kInt8, "int8"},       {DType::kInt16, "int16"},         {DType::kInt32, "int32"},
    {DType::kInt64, "int64"},     {DType::kUint8, "uint8"},         {DType::kUint16, "uint16"},
    {DType::kUint32, "uint32"},   {DType::kUint64, "uint64"},       {DType::kBool, "bool"},
    {DType::kComplex64, "complex64"}, {DType::kComplex128, "complex128"},
};
}  // namespace

std::optional<DType> dtype_from_numpy(const py::dtype& dt) {
  // Non-native byte order ('>' on x86) would be misread by the kernels.
  if (dt.byteorder() == '>') return std::nullopt;
  for (const Entry& e : kTable)
    if (dt.equal(py::dtype(std::string(e.numpy_name)))) return e.dtype;
  return std::nullopt;
}

std::optional<py::dtype> numpy_from_dtype(DType t) {
  for (const Entry& e : kTable)
    if (e.dtype == t) return py::dtype(std::string(e.numpy_name));
  return std::nullopt;
}

}  // namespace lw::python
