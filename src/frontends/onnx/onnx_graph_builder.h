// Builds the structure of an ir::Graph from a parsed ModelProto: opset and domain checks,
// initializers, inputs, nodes, Constant nodes, declared types, legacy-opset rewrites; then
// sorts and verifies it. Type inference is left to the caller (onnx_importer.cc), because
// some rewrites can only finish once ranks are known. Internal to the ONNX frontend.
// Pure function of its arguments; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "frontends/onnx/onnx_importer.h"
#include "graph/ir.h"
#include "frontends/onnx/onnx_proto.h"

namespace lw::onnx_import {

struct BuiltGraph {
  ir::Graph graph;   // sorted and verified; types only where the model declares them
  int64_t opset = 0; // of the default domain
  // Outputs of nodes whose legacy rewrite waits for inferred ranks (finish_legacy_rewrites).
  std::vector<ir::ValueId> pending_rewrites;
};

Result<BuiltGraph> build_graph(const onnx::ModelProto& model, const ImportOptions& options);

// Sorts `graph` topologically; on a cycle the error names a node on it.
Status sort_graph(ir::Graph& graph);

}  // namespace lw::onnx_import
