// Registration of every op schema; each group lives in its own file.
#include "graph/ops/ops.h"

namespace lw::ir {

void register_all_ops(std::vector<OpSchema>& registry) {
  register_elementwise_ops(registry);
  register_nn_ops(registry);
  register_shape_ops(registry);
  register_reduce_ops(registry);
  register_tensor_ops(registry);
}

std::optional<DType> dtype_from_onnx(int64_t onnx_type) {
  switch (onnx_type) {
    case 1: return DType::kFloat32;
    case 2: return DType::kUint8;
    case 3: return DType::kInt8;
    case 4: return DType::kUint16;
    case 5: return DType::kInt16;
    case 6: return DType::kInt32;
    case 7: return DType::kInt64;
    case 8: return DType::kString;
    case 9: return DType::kBool;
    case 10: return DType::kFloat16;
    case 11: return DType::kFloat64;
    case 12: return DType::kUint32;
    case 13: return DType::kUint64;
    case 14: return DType::kComplex64;
    case 15: return DType::kComplex128;
    case 16: return DType::kBFloat16;
    default: return std::nullopt;
  }
}

int64_t dtype_to_onnx(DType t) {
  for (int64_t code = 1; code <= 16; ++code)
    if (dtype_from_onnx(code) == t) return code;
  return 0;
}

}  // namespace lw::ir
