// LayerNorm fusion: the decomposition torch.onnx.export emits for nn.LayerNorm at opsets < 17
// (where ONNX has no LayerNormalization) becomes one LayerNormalization node. The decomposition
// costs nine passes over memory and up to eight intermediate tensors; the fused kernel works on
// one row at a time while it is in cache and writes only the result. ONNX Runtime applies the same fusion
// (LayerNormFusion). Runs on a graph the runtime prepares (types inferred, static shapes); the
// rewritten graph is only meant for the kernels, not for saving.
//
// Matched, with x float32 of static shape [..., C] and the normalisation over the last axis only:
//   m  = ReduceMean(x, axes=[-1] or [rank-1], keepdims=1)   axes as an attribute (opset 13) or
//                                                          as a constant input 1 (opset 18)
//   d  = Sub(x, m)
//   p  = Pow(d, 2)              the exponent a one-element constant equal to 2
//   v  = ReduceMean(p, axes=[-1], keepdims=1)
//   ve = Add(v, eps)            eps a one-element constant, either operand order
//   s  = Sqrt(ve)
//   n  = Div(d, s)
//   [y1 = Mul(n, gamma)]        optional, either order; gamma any float32 value of shape [C]
//                               (a Const, a Variable or a computed value)
//   [y  = Add(y1, beta)]        optional, either order; beta any float32 value of shape [C]
// Every intermediate value must have exactly the consumers above (d: the Pow and the Div; the
// others: one node), must not be a graph output and must keep the shape the pattern implies
// (no broadcasting to another shape); otherwise the graph is left as it is.
//
// The fused node is LayerNormalization(x, gamma, [beta]) with axis=-1 and epsilon=eps; without a
// Mul, gamma is a new Const of ones (placed where the first ReduceMean was). It writes the last
// value of the chain (same ValueId, so its consumers and graph outputs are unchanged) and sits at
// the position of the last node of the chain, where all its inputs are computed. The other nodes
// of the chain become kOpFusedAway (epilogue_fusion.h) with no inputs or outputs; the values
// they produced are left with no producer (producer -1) and no reader.
#pragma once

#include "graph/ir.h"

namespace lw::passes {

// Rewrites `g` in place; returns how many LayerNormalization nodes were formed.
int fuse_layernorms(ir::Graph& g);

// kAttrSkip (int 1) on a LayerNormalization: it has a fourth input `skip` (input 2, B, may then
// be kNoValue) of x's dims and normalizes x + skip, as ONNX Runtime's SkipLayerNormalization.
inline constexpr const char* kAttrSkip = "_lw_skip";

// The residual Add before a LayerNormalization (x = Add(a, b), as post-norm transformer layers
// write it) folds into it: LayerNormalization(a, gamma, beta, skip = b) with kAttrSkip, where
// a, b and x are float32 of one static shape (no broadcasting), x is read by that
// LayerNormalization alone and is not a graph output, and the LayerNormalization has only its
// first output. The Add becomes kOpFusedAway and x is left with no producer. Returns how many
// were folded. Same conditions of use as fuse_layernorms.
int fuse_layernorm_skips(ir::Graph& g);

}  // namespace lw::passes
