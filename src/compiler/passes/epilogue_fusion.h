// Epilogue fusion: Conv -> [BatchNormalization] -> [Add residual] -> [Relu | Clip],
// Gemm -> [BatchNormalization] -> [Relu | Clip] and MatMul -> [Add bias] -> [Relu | Clip]
// chains become one node (and, with EpilogueOptions::batchnorm, BatchNormalization -> Relu |
// Clip where the BatchNormalization follows no Conv or Gemm), so
// the convolution or matmul applies them while its result is still in registers/cache (oneDNN
// post-ops). Runs on a graph the runtime prepares (types inferred);
// the rewritten graph is only meant for the CPU kernels, not for saving.
//
// The fused node keeps its op and gets internal attributes the kernels read:
//   kAttrBatchNorm (int 1, only with EpilogueOptions::batchnorm): a Conv's inputs are
//     [X, W, B or none, scale, bn_B, mean, var] (the BatchNormalization's parameters, each [C])
//     with the BatchNormalization's epsilon in kAttrBnEpsilon; its result is
//     (conv + B - mean) * scale / sqrt(var + epsilon) + bn_B per output channel. A Gemm's are
//     [A, B, C or none, scale, bn_B, mean, var], the BatchNorm over its output's columns;
//   kAttrResidual (int 1): the node has one extra, last input added to its result;
//   kAttrBias (int 1): a MatMul has a third input, a bias of shape [N] (or [1, .., 1, N]) added
//     to every row of its [.., M, N] result (only with EpilogueOptions::matmul_bias);
//   kAttrActivation (string "Relu" or "Clip"), with kAttrClipMin/kAttrClipMax (floats) for Clip;
//     or "SiLU" (activation_fusion.h's kOpSiLU) after a Conv without a residual.
// It moves to the position of the last node of its chain (all its inputs are computed by then);
// the other nodes of the chain become kOpFusedAway with no inputs or outputs.
#pragma once

#include "graph/ir.h"

namespace lw::passes {

inline constexpr const char* kOpFusedAway = "_lw_fused_away";
inline constexpr const char* kAttrResidual = "_lw_residual";
inline constexpr const char* kAttrBatchNorm = "_lw_batchnorm";
inline constexpr const char* kAttrBnEpsilon = "_lw_bn_epsilon";
inline constexpr const char* kAttrBias = "_lw_bias";
inline constexpr const char* kAttrActivation = "_lw_activation";
inline constexpr const char* kAttrClipMin = "_lw_clip_min";
inline constexpr const char* kAttrClipMax = "_lw_clip_max";

// Rewrites `g` in place; returns how many nodes were fused away. A chain is fused only where
// each intermediate value has exactly one consumer and is not a graph output, the Add adds two
// float tensors of the same static shape, Clip's bounds are constants, and a BatchNormalization
// is in inference mode (one output) with float [C] parameters.
struct EpilogueOptions {
  // Fold a bias Add into a MatMul (kAttrBias). Only for backends whose MatMul kernel reads it
  // (the CPU backend's does; the CUDA backend's does not).
  bool matmul_bias = false;
  // Fold an inference BatchNormalization into the Conv or Gemm before it (kAttrBatchNorm). The
  // parameters stay inputs, read on every run, so they may be Variables that a refresh
  // changes: nothing is folded into the weights. Only for backends whose Conv and Gemm kernels
  // read it (the CPU backend's do), and whose BatchNormalization kernel applies a fused
  // activation (kAttrActivation on the BatchNormalization itself).
  bool batchnorm = false;
};
int fuse_epilogues(ir::Graph& g, const EpilogueOptions& options = {});

}  // namespace lw::passes
