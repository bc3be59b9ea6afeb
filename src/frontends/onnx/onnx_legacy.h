// Rewrites of operators whose meaning changed between the oldest opset the importer accepts
// (11) and opset 17, so that kernels and op schemas only know the opset-17 form.
// The table of rewrites is at the top of onnx_legacy.cc. Internal to the ONNX frontend.
// Functions mutate the graph they are given; not thread-safe on the same graph.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/ir.h"

namespace lw::onnx_import {

// Rewrites every node of `graph` (imported at default-domain opset `opset`) into opset-17
// form. Nodes that need an input rank nobody declared (old-style Softmax) are left as they
// are and listed in `pending` by their output value; finish them with
// finish_legacy_rewrites once types are inferred. Errors name the node.
// Leaves the graph possibly unsorted (new nodes are appended).
Status rewrite_legacy_ops(ir::Graph& graph, int64_t opset, std::vector<ir::ValueId>* pending);

// Completes the rewrites listed in `pending` using the (inferred) shapes of their inputs.
// Leaves the graph possibly unsorted. Errors name the node.
Status finish_legacy_rewrites(ir::Graph& graph, const std::vector<ir::ValueId>& pending);

}  // namespace lw::onnx_import
