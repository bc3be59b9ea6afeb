// grouped_conv.h's convolutions (groups of c inputs to c outputs) over nChw8c activations on
// AVX2: an output vector is one 8-channel block, its lanes' groups' inputs found as there:
//  - c = 2 or 4: the vector spans 8 / c whole groups, whose inputs are the 8 channels of the same
//    block at the position: a permute within 128-bit lanes of that one load gives each lane
//    input i of its own group;
//  - c a multiple of 8: the vector lies in one group, whose inputs are c / 8 whole blocks: one
//    channel broadcast to every lane per input; two vectors a block (of one group or of two),
//    sharing the broadcasts in one group.
// Blocks of up to 6 output positions of one output row; the fused epilogue (bias, a BatchNorm's
// multiply and add, a residual, a clamp or SiLU) in registers.
//
// Weights: [out_channels, c, kernel_h, kernel_w] in oneDNN's Ohwi8o: per 8 output channels,
// kernel row, kernel column, input of the group, then the 8 lanes.
//
// Why: on AVX2 machines the convolutions run on nChw8c, where oneDNN's grouped convolutions
// allocate memory on every call (ResNeXt-50 with oneDNN limited to AVX2: 5488 calls a run).
#pragma once

#include <cstdint>

#include "backends/cpu/kernels/grouped_conv.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

// True when this CPU runs the kernel (AVX2 and FMA).
bool blocked_grouped_conv_supported();

// Whether the kernel takes the shape: grouped_conv_geometry_ok(s), channels a multiple of 8, c
// 2, 4 or a multiple of 8.
bool blocked_grouped_conv_accepts(const GroupedConvShape& s);

// The weights' layout: [channels, c, kernel_h, kernel_w] as Ohwi8o.
dnnl::memory::desc blocked_grouped_conv_weights_desc(const GroupedConvShape& s);

// y (nChw8c, [batch, channels / 8, out_h, out_w, 8]) = epilogue(grouped conv(x, w)), x nChw8c,
// w in blocked_grouped_conv_weights_desc(s); the epilogue's arrays per channel, its residual
// y-shaped (it may be y itself: each element is read before y's is written). Needs
// blocked_grouped_conv_supported() and blocked_grouped_conv_accepts(s). Runs on up to `threads`
// OpenMP threads; thread-safe; y must not overlap x or w.
void blocked_grouped_conv(const float* x, const float* w, float* y, const GroupedConvShape& s, const GemmEpilogue& e,
                          int threads);

}  // namespace lw::cpu
