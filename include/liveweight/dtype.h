// Element types. The numeric values equal aclDataType's so the C API converts by cast;
// 5 is unused there and here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lw {

enum class DType : int32_t {
  kUndefined = -1,
  kFloat32 = 0,
  kFloat16 = 1,
  kInt8 = 2,
  kInt32 = 3,
  kUint8 = 4,
  kInt16 = 6,
  kUint16 = 7,
  kUint32 = 8,
  kInt64 = 9,
  kUint64 = 10,
  kFloat64 = 11,
  kBool = 12,
  kString = 13,
  kComplex64 = 16,
  kComplex128 = 17,
  kBFloat16 = 27,
};

// Bytes per element; 0 for kUndefined, kString and values outside the enum.
size_t dtype_size(DType t);
// Short lower-case name ("float32", "int64", ...); "undefined" for unknown values.
const char* dtype_name(DType t);
// Parses what dtype_name prints.
std::optional<DType> dtype_from_name(std::string_view name);
// True when `raw` is one of the enum's values.
bool dtype_is_valid(int32_t raw);
bool dtype_is_float(DType t);

// Compile-time mapping from C++ types, for kernels and tests.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <> constexpr DType dtype_of<double>() { return DType::kFloat64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kInt64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kInt32; }
template <> constexpr DType dtype_of<int8_t>() { return DType::kInt8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kUint8; }
template <> constexpr DType dtype_of<bool>() { return DType::kBool; }

}  // namespace lw
