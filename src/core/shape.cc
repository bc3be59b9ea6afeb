#include "core/shape.h"

namespace lw {

bool Shape::is_static() const {
  if (!rank_known_) return false;
  for (int64_t d : dims_)
    if (d < 0) return false;
  return true;
}

bool Shape::is_empty() const {
  for (int64_t d : dims_)
    if (d == 0) return true;
  return false;
}

std::string Shape::to_string() const {
  if (!rank_known_) return "[unknown rank]";
  return dims_to_string(dims_);
}

std::string dims_to_string(const Dims& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    s += dims[i] == kDynamicDim ? std::string("?") : std::to_string(dims[i]);
  }
  return s + "]";
}

Result<uint64_t> element_count(const Dims& dims) {
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return make_error(StatusCode::kInvalidArgument, "dims ", dims_to_string(dims), " are not static");
    if (d == 0) return uint64_t{0};
  }
  for (int64_t d : dims) {
    if (static_cast<uint64_t>(d) > kMaxTensorBytes || n > kMaxTensorBytes / static_cast<uint64_t>(d))
      return make_error(StatusCode::kInvalidArgument, "dims ", dims_to_string(dims), " describe too many elements");
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

Result<uint64_t> byte_size(DType dtype, const Dims& dims) {
  LW_ASSIGN_OR_RETURN(uint64_t n, element_count(dims));
  uint64_t es = dtype_size(dtype);
  if (es == 0) return make_error(StatusCode::kUnsupportedDtype, "data type ", dtype_name(dtype), " has no fixed size");
  if (n > kMaxTensorBytes / es)
    return make_error(StatusCode::kInvalidArgument, "tensor of ", dims_to_string(dims), " ", dtype_name(dtype), " is too large");
  return n * es;
}

}  // namespace lw
