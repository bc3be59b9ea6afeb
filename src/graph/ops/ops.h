// Per-group registration of op schemas; register_all_ops (ops.cc) calls each once.
#pragma once

#include <optional>
#include <vector>

#include "graph/op_registry.h"

namespace lw::ir {

void register_elementwise_ops(std::vector<OpSchema>& registry);  // elementwise_ops.cc
void register_nn_ops(std::vector<OpSchema>& registry);           // nn_ops.cc
void register_shape_ops(std::vector<OpSchema>& registry);        // shape_ops.cc
void register_reduce_ops(std::vector<OpSchema>& registry);       // reduce_ops.cc
void register_tensor_ops(std::vector<OpSchema>& registry);       // tensor_ops.cc

// ONNX TensorProto element-type codes (Cast's `to` attribute) to and from DType.
std::optional<DType> dtype_from_onnx(int64_t onnx_type);
int64_t dtype_to_onnx(DType t);

}  // namespace lw::ir
