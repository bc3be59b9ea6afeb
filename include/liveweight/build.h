// Building bundles natively: the C++ counterpart of `lw build` and of CANN's ge:: build API.
// Functions are thread-safe (they share no state); graphs passed in are not modified.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "liveweight/export.h"
#include "liveweight/graph.h"
#include "liveweight/status.h"

namespace lw {

struct RefreshableGraphs {
  Graph infer;   // each listed Const C became Variable "C_var"
  Graph init;    // Assign(C_var, C) for each C, no inputs or outputs
  Graph update;  // input i "C_var_data" (i = position in the list) -> Assign, skipping empties
};

// CANN's weight-refreshable conversion. Errors: empty list, unknown or non-Const name, duplicate.
LW_API Result<RefreshableGraphs> convert_to_weight_refreshable(const Graph& graph,
                                                               const std::vector<std::string>& const_names);

// The Consts of `graph` that hold weights: floating-point data of more than one element that
// reaches a data input (not only shape inputs such as Reshape's shape). Single-element constants
// (ReLU6's bounds, GELU's 0.5) are part of the computation; list them in
// OnnxBuildOptions::refresh to make them refreshable anyway.
LW_API std::vector<std::string> weight_names(const Graph& graph);

// Serialized bundle (>= 2 graphs, index = position) or plain model (1 graph) bytes.
LW_API Result<std::vector<uint8_t>> build_bundle(const std::vector<Graph>& graphs);
LW_API Result<std::vector<uint8_t>> build_model(const Graph& graph);

struct OnnxBuildOptions {
  std::vector<std::string> refresh;  // initializers to make refreshable; empty: every weight_names()
  bool init = true;                  // include the weight-init graph (and the weights' data)
  // Replaces the dims graph inputs declare, by input name (-1 keeps a dim dynamic); fixing
  // every dynamic dim makes the whole graph static (shape arithmetic is folded at build).
  // Naming an input the model does not have is kInvalidArgument.
  std::map<std::string, std::vector<int64_t>> input_shapes;
};

// `lw build`: ONNX file -> bundle file [inference, init, update] or [inference, update].
LW_API Status build_bundle_from_onnx(const std::string& onnx_path, const std::string& out_path,
                                     const OnnxBuildOptions& options = {});

// Writes bytes to a file (kWriteFile naming the path on failure).
LW_API Status write_file(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace lw
