// Layout choice for activations: which values the CPU backend keeps in the layout its
// convolutions run on (channels-last NHWC, or oneDNN's channel-blocked nChw8c / nChw16c where
// the machine's convolutions prefer those) instead of plain NCHW. Convolutions and pools take
// either layout; a value that only flows between them (global pools may read it too), possibly
// through element-wise ops (Relu, Sigmoid, Clip with scalar bounds, Add/Mul/... of same-shape
// operands or with a per-channel or scalar operand, which stays plain: its bytes are the same in
// every layout) and Concats along the channels, never needs the plain layout, so the
// convolutions skip their reorders. Everything else stays plain: graph outputs, and values any
// other op reads.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/ir.h"

namespace lw::passes {

// One flag per value of `g` (static shapes, after fuse_epilogues): true = held in the
// convolution layout. `channel_block` > 1 (a blocked layout): only values whose channel count
// (dim 1) is a multiple of it qualify, so that no value needs padding.
std::vector<bool> choose_conv_layout(const ir::Graph& g, int64_t channel_block = 1);

}  // namespace lw::passes
