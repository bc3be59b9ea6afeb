// Activation fusion: the two-node forms torch.onnx.export emits at opset 13 for activations ONNX
// has no op for (or gained later) become one node:
//   Mul(x, Sigmoid(x))                        -> kOpSiLU(x)     (SiLU / Swish: EfficientNet)
//   Mul(x, HardSigmoid(x, alpha=1/6, beta=1/2)) -> HardSwish(x)  (MobileNet v3)
// either operand order of the Mul. The activation's output must be read by that Mul alone and
// not be a graph output, and the Mul's output must have x's shape. The fused node writes the
// Mul's output (same ValueId) at the Mul's position; the activation node becomes kOpFusedAway
// (epilogue_fusion.h). Each pair read and wrote the tensor twice; the fused kernels once
// (EfficientNet-B0 at two threads: Sigmoid 1.4 ms and Mul 1.5 ms a run), and a SiLU after a
// Conv then joins the Conv's epilogue (epilogue_fusion.h). Runs on a graph the runtime prepares
// (types inferred); the rewritten graph is only meant for the CPU kernels.
#pragma once

#include "graph/ir.h"

namespace lw::passes {

// x * sigmoid(x), elementwise on float32.
inline constexpr const char* kOpSiLU = "_lw_SiLU";

// Rewrites `g` in place; returns how many pairs were fused.
int fuse_activations(ir::Graph& g);

}  // namespace lw::passes
