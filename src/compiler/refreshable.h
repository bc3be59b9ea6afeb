// The weight-refreshable conversion (CANN's aclgrphConvertToWeightRefreshableGraphs): turns
// chosen Consts of a graph into Variables shared by an inference, an init and an update graph.
#pragma once

#include <string>
#include <vector>

#include "graph/ir.h"

namespace lw::compiler {

struct RefreshableGraphs {
  ir::Graph infer;   // each listed Const C replaced by Variable "C_var" (attr "source" = C)
  ir::Graph init;    // no inputs, no outputs: Assign(C_var, Const C) for each C, in list order
  ir::Graph update;  // input i = Data "C_var_data" (unknown rank) -> Assign(C_var, skip_if_empty)
};

// Errors (kInvalidArgument): an empty list, a name that is not a Const of `graph`, a name
// listed twice, or a "C_var"/"C_var_data" name that already exists in the graph. Const data is
// shared with `graph`, not copied.
Result<RefreshableGraphs> convert_to_weight_refreshable(const ir::Graph& graph, const std::vector<std::string>& const_names);

// The Consts of `graph` that are weights, in graph order: floating-point data consumed by at
// least one input slot that is not a shape input (Reshape's shape, Resize's scales, ...).
// Single-element Consts (GELU's 0.5, ReLU6's bounds, a LayerNorm epsilon, an attention scale)
// are constants of the computation rather than learned weights; they count only with
// `include_scalars` (for names a user lists explicitly). Keeping them constant lets the
// compiler fold and fuse through them.
std::vector<std::string> weight_const_names(const ir::Graph& graph, bool include_scalars = false);

}  // namespace lw::compiler
