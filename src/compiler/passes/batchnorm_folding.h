// Build-time BatchNorm folding: Conv -> BatchNormalization where the Conv's weight and bias
// and all four BatchNorm parameters are Consts (none of them refreshable) becomes one Conv
// whose Consts already hold the product:
//   W'[o, ...] = W[o, ...] * a[o],  B'[o] = (B[o] or 0) * a[o] + shift[o] - mean[o] * a[o],
//   a[o] = scale[o] / sqrt(var[o] + epsilon),
// computed in double and stored as float32. ONNX Runtime does the same at session creation.
//
// Where any of those tensors is a Variable, the BatchNormalization stays in the graph: a
// refresh must be able to replace W or a BatchNorm parameter alone, so nothing may be baked
// into another tensor. Backends that can (the CPU backend, see epilogue_fusion.h) still fuse it
// into the Conv at plan time as a per-channel scale and shift read from the current weights.
//
// Not thread-safe on one graph.
#pragma once

#include "graph/ir.h"

namespace lw::passes {

// Rewrites `g` (types inferred, sorted) in place: folded BatchNormalization nodes and the
// Consts only they used are removed, the Conv writes the BatchNorm's output value, and the
// graph is re-sorted. Returns the number of BatchNormalization nodes folded. A Conv weight or
// bias Const that other nodes also read is left as it is for them (the folded Conv gets new
// Consts).
Result<int> fold_batchnorms(ir::Graph& g);

}  // namespace lw::passes
