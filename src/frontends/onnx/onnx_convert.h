// Conversions from ONNX protobuf messages to IR pieces: element types, tensors, value types
// and node attributes. Internal to the ONNX frontend (includes the protobuf headers).
// All functions are pure and thread-safe; results own their data (nothing points into the
// protobuf message afterwards).
#pragma once

#include <string>

#include "graph/ir.h"
#include "frontends/onnx/onnx_proto.h"

namespace lw::onnx_import {

// ONNX TensorProto.DataType -> DType; kUndefined for types the IR has no dtype for.
DType dtype_from_onnx(int32_t elem_type);
const char* onnx_type_name(int32_t elem_type);

// Copies a TensorProto's data (raw_data or the typed repeated field) into TensorData.
// `what` names the tensor in errors ("initializer 'fc1.weight'").
// Errors: external data or string tensors -> kFeatureUnsupported; negative dims, a byte count
// that does not match the dims, an unknown type -> kParseModel.
Result<ir::TensorData> tensor_from_onnx(const onnx::TensorProto& t, const std::string& what);

// Type of a graph input/output/value_info entry. Missing pieces stay unknown (kUndefined
// dtype, unknown rank); dim_param or an absent dim_value gives kDynamicDim.
// Non-tensor types -> kFeatureUnsupported naming `what`.
struct DeclaredType {
  DType dtype = DType::kUndefined;
  Shape shape = Shape::unknown_rank();
};
Result<DeclaredType> type_from_onnx(const onnx::ValueInfoProto& info, const std::string& what);

// One node attribute. Subgraphs (GRAPH/GRAPHS) and the kinds the IR has no form for are
// errors naming `node_label` and the attribute.
Result<ir::Attribute> attribute_from_onnx(const onnx::AttributeProto& a, const std::string& node_label);

}  // namespace lw::onnx_import
