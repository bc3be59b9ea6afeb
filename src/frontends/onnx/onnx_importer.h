// The ONNX importer: reads an ONNX model (opsets 11 to 17 of the default domain) into an
// ir::Graph with ONNX operator semantics at opset 17.
//
// - Initializers and `Constant` nodes become Const nodes named after their value; graph inputs
//   that are not initializers become Data nodes in input order.
// - Operators whose meaning changed between the model's opset and 17 are rewritten (see the
//   table in onnx_legacy.cc), so kernels only know one form.
// - The graph is sorted and its types inferred (ir::infer_graph_types), so an operator without
//   a schema fails the import with kOpNotFound listing every such operator.
// Errors: a missing or unreadable file -> kInvalidFile naming the path; bytes that are not a
// ModelProto or an inconsistent graph -> kParseModel naming the problem and the node; opsets,
// domains, subgraphs, external data and other valid but unsupported content ->
// kFeatureUnsupported. Nothing in a file can crash the process.
//
// Thread-safety: the functions share no state; concurrent imports are safe. The returned
// graph owns all its data (nothing refers to the file or the caller's buffer).
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "core/shape.h"
#include "graph/ir.h"
#include "liveweight/status.h"

namespace lw::onnx_import {

struct ImportOptions {
  // Replaces the dims a graph input declares, by input name (kDynamicDim allowed). Naming an
  // input the model does not have, or an initializer, is kInvalidArgument.
  std::map<std::string, Dims> input_shapes;
};

Result<ir::Graph> import_onnx_file(const std::string& path, const ImportOptions& options = {});
// `data` is read during the call only.
Result<ir::Graph> import_onnx_bytes(const void* data, size_t size, const ImportOptions& options = {});

}  // namespace lw::onnx_import
