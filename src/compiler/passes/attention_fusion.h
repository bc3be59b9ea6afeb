// Attention fusion: scaled dot-product attention written as separate ONNX nodes (what
// torch.onnx.export emits for nn.MultiheadAttention and most hand-written attention) becomes one
// node, so the [.., M, N] score matrix never goes to memory: the kernel computes a block of
// score rows, takes their softmax and multiplies them by V while the block is in cache; and the
// Transposes that split heads apart and back (or turn K into K^T) become strides, so no copy of
// q, k, v or o is made for them. Runs on a graph the runtime
// prepares (types inferred, static shapes); the rewritten graph is only meant for the CPU
// kernels, not for saving.
//
// Matched, all float32 with static shapes and the same leading (batch) dims [..] everywhere:
//   [q  = Div(q0, c) | Mul(q0, c) | Mul(c, q0)]   optional; c a one-element constant
//   s  = MatMul(q, kt)                    q [.., M, D], kt [.., D, N]
//   [s2 = Div(s, c) | Mul(s, c) | Mul(c, s)]      optional; c a one-element constant
//   [s3 = Add(s or s2, mask) | Add(mask, s or s2)] optional; mask broadcasts to s (BERT's
//                                         additive [B, 1, 1, N]) without widening it
//   p  = Softmax(s, s2 or s3, axis = -1 or rank - 1)
//   o  = MatMul(p, v)                     v [.., N, Dv], o [.., M, Dv]
// and the Transposes around it, which become strides of the fused node's operands: one that
// makes q (before its scaling), kt or v out of another value, and one that o feeds. Those of q
// and v must keep the last axis last, and so must o's, so that rows stay contiguous; kt's may
// be any (k^T [.., D, N] or k [.., N, D] the kernel packs either way). No broadcasting between
// the batch dims; rank 2 or more. Every intermediate value (the scaled q, s, s2, p, and what a
// folded Transpose produced) must have exactly the consumer above and must not be a graph
// output; a scaled q read elsewhere enters the fused node scaled (the constant is not folded),
// and a Transpose whose result is read elsewhere stays. No dropout; a mask added before the
// scaling (scale * (s + mask)) leaves the chain alone.
//
// The fused node is kOpAttention(q_base, k_base, v_base[, mask]) -> out. Each operand is a
// Transpose of its base by the perm in kAttrQPerm, kAttrKPerm, kAttrVPerm (ONNX Transpose
// semantics: operand dim i is base dim perm[i]), where k is taken as [.., N, D] (k^T transposed
// back); the output value is a Transpose of o by kAttrOutPerm (output dim i is o's dim
// perm[i]): the identity when o itself is written. An input's base may also be a view of the
// node's input x: where q, k or v comes from a Slice of x's last axis (step 1, the other axes
// whole), directly or through a Reshape that splits only that axis (give or take dims of size
// 1: the [S, 1, 3E] projection of torch's attention cut into q, k and v and each split into
// heads), kAttrQView, kAttrKView or kAttrVView holds [offset, dims (rank), strides (rank)]: base
// element i lies at x + offset + sum(i_d * stride_d), and the Slice and Reshape are folded away
// like the Transposes. kAttrScale (float) is the product of the folded constants (c or 1/c
// each). The fused node sits where the second MatMul was (or the Transpose after it); the other
// nodes of the chain become kOpFusedAway (epilogue_fusion.h), and the values they produced are
// left with no producer and no reader.
#pragma once

#include "graph/ir.h"

namespace lw::passes {

inline constexpr const char* kOpAttention = "_lw_Attention";
inline constexpr const char* kAttrScale = "_lw_scale";
inline constexpr const char* kAttrQPerm = "_lw_q_perm";
inline constexpr const char* kAttrKPerm = "_lw_k_perm";
inline constexpr const char* kAttrVPerm = "_lw_v_perm";
inline constexpr const char* kAttrOutPerm = "_lw_out_perm";
inline constexpr const char* kAttrQView = "_lw_q_view";
inline constexpr const char* kAttrKView = "_lw_k_view";
inline constexpr const char* kAttrVView = "_lw_v_view";

// Rewrites `g` in place; returns how many attention nodes were formed.
int fuse_attention(ir::Graph& g);

}  // namespace lw::passes
