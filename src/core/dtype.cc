#include "liveweight/dtype.h"

#include <string>

namespace lw {

namespace {
struct DTypeInfo {
  DType type;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kInfos[] = {
    {DType::kFloat32, "float32", 4}, {DType::kFloat16, "float16", 2},
    {DType::kInt8, "int8", 1},       {DType::kInt32, "int32", 4},
    {DType::kUint8, "uint8", 1},     {DType::kInt16, "int16", 2},
    {DType::kUint16, "uint16", 2},   {DType::kUint32, "uint32", 4},
    {DType::kInt64, "int64", 8},     {DType::kUint64, "uint64", 8},
    {DType::kFloat64, "float64", 8}, {DType::kBool, "bool", 1},
    {DType::kString, "string", 0},   {DType::kComplex64, "complex64", 8},
    {DType::kComplex128, "complex128", 16}, {DType::kBFloat16, "bfloat16", 2},
};
const DTypeInfo* find(DType t) {
  for (const auto& info : kInfos)
    if (info.type == t) return &info;
  return nullptr;
}
}  // namespace

size_t dtype_size(DType t) {
  const DTypeInfo* info = find(t);
  return info ? info->size : 0;
}

const char* dtype_name(DType t) {
  const DTypeInfo* info = find(t);
  return info ? info->name : "undefined";
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& info : kInfos)
    if (name == info.name) return info.type;
  return std::nullopt;
}

bool dtype_is_valid(int32_t raw) { return find(static_cast<DType>(raw)) != nullptr; }

bool dtype_is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kFloat64 || t == DType::kBFloat16;
}

}  // namespace lw
