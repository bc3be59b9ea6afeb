// Reading constants while matching graph patterns (the fusion passes).
#pragma once

#include "graph/ir.h"

namespace lw::passes {

// The one number held by the Const node that produces `v` (any numeric dtype, converted to
// double); false when `v` is absent, not produced by a Const, or holds another count of values.
inline bool const_number(const ir::Graph& g, ir::ValueId v, double* out) {
  if (v == ir::kNoValue || g.value(v).producer < 0) return false;
  const ir::Node& p = g.nodes[static_cast<size_t>(g.value(v).producer)];
  if (p.op != ir::kOpConst) return false;
  const ir::TensorData* t = p.attr_tensor("value");
  if (!t || t->numel() != 1) return false;
  auto d = ir::tensor_to_doubles(*t);
  if (!d.is_ok() || d->size() != 1) return false;
  *out = (*d)[0];
  return true;
}

// The integers held by the Const node that produces `v` (an integer dtype); false when `v` is
// absent or not produced by a Const of integers.
inline bool const_ints(const ir::Graph& g, ir::ValueId v, Dims* out) {
  if (v == ir::kNoValue || g.value(v).producer < 0) return false;
  const ir::Node& p = g.nodes[static_cast<size_t>(g.value(v).producer)];
  if (p.op != ir::kOpConst) return false;
  const ir::TensorData* t = p.attr_tensor("value");
  if (!t || (t->dtype != DType::kInt64 && t->dtype != DType::kInt32)) return false;
  auto ints = ir::tensor_to_ints(*t);
  if (!ints.is_ok()) return false;
  *out = Dims(ints->begin(), ints->end());
  return true;
}

// Whether `n` is a Pad that adds nothing: its pads (the Const input of opset 11 on, or the
// attribute before) all zero. It gives its input's bytes back in any layout (DenseNet's
// exporter puts one before every average pool).
inline bool pads_nothing(const ir::Graph& g, const ir::Node& n) {
  if (n.op != "Pad" || n.inputs.empty() || n.outputs.size() != 1) return false;
  Dims pads;
  if (n.inputs.size() >= 2) {
    if (!const_ints(g, n.inputs[1], &pads)) return false;
  } else {
    pads = n.attr_ints("pads");
  }
  for (int64_t p : pads)
    if (p != 0) return false;
  return g.value(n.outputs[0]).shape == g.value(n.inputs[0]).shape;
}

}  // namespace lw::passes
