// Layout choice for activations: which values the CPU backend keeps channels-last (NHWC)
// instead of plain NCHW. Convolutions and pools run channels-last; a value that only flows
// between convolutions and pools (global pools may read it too), possibly through
// layout-agnostic elementwise ops (Relu, Clip with scalar
// bounds, same-shape Add/Mul/..., whose kernels never look at the layout), never needs the
// plain layout, so the convolutions skip their reorders. Everything else stays plain: graph
// outputs, and values any other op reads.
#pragma once

#include <vector>

#include "graph/ir.h"

namespace lw::passes {

// One flag per value of `g` (static shapes, after fuse_epilogues): true = channels-last.
std::vector<bool> choose_channels_last(const ir::Graph& g);

}  // namespace lw::passes
