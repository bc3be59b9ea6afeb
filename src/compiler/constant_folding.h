// Constant folding: evaluates at build (or plan) time every node whose value does not depend
// on graph inputs or Variables, so integer shape arithmetic (Shape -> Gather -> Concat ->
// Reshape, Range, ConstantOfShape...) becomes Consts that shape inputs can read.
//
// Folded: a node whose present inputs are all Consts, when its output is static, at most
// kMaxFoldedBytes, and the CPU backend has a kernel for it; and a Shape node whose input has
// a static shape. A folded node becomes a Const node of the same name and output value
// (single-output nodes only); Consts that nothing reads any more stay (they are free).
// The graph must already be type-inferred (ir::infer_graph_types); types are re-inferred
// after each pass, so folding continues through shapes that became static.
//
// Not thread-safe on one graph; separate graphs may be folded concurrently.
#pragma once

#include <cstdint>

#include "graph/ir.h"

namespace lw::compiler {

inline constexpr uint64_t kMaxFoldedBytes = uint64_t{16} << 20;

// Returns the number of nodes folded, or the error of a kernel that failed on constant data
// (that error names the node: the graph would fail the same way at run time).
Result<int> fold_constants(ir::Graph& graph);

}  // namespace lw::compiler
