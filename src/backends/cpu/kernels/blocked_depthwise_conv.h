// A depthwise 2-D convolution (group = channels, one output channel each) over nChw8c
// activations on AVX2: each 8-channel block is its own plane of 8-float vectors, so a block of
// 8 output positions of one output row takes 8 accumulators, each kernel position's weight
// vector loaded once per block; positions whose kernel columns reach the padding run one at a
// time with those taps skipped, and kernel rows in the padding are skipped for the whole row.
// The fused epilogue (bias, a BatchNorm's multiply and add, a residual, a clamp) runs in
// registers. Weights in 8-channel groups (oneDNN's Goihw8g: per group, kernel row, kernel column,
// 8 channels).
//
// Why: on AVX2 machines the convolutions run on nChw8c, and oneDNN's depthwise kernel there
// allocates memory on every call (its argument maps); MobileNet v2 runs 17 of them per
// inference. depthwise_conv.h is the AVX-512 kernel over channels-last activations.
#pragma once

#include <cstdint>

#include "backends/cpu/kernels/depthwise_conv.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

// True when this CPU runs the kernel (AVX2 and FMA).
bool blocked_depthwise_conv_supported();

// Whether the kernel takes the shape: depthwise_conv_accepts(s) and channels a multiple of 8.
bool blocked_depthwise_conv_accepts(const DepthwiseConvShape& s);

// The weights' layout: [channels, 1, 1, kernel_h, kernel_w] in groups of 8 channels.
dnnl::memory::desc blocked_depthwise_conv_weights_desc(const DepthwiseConvShape& s);

// y (nChw8c, [batch, channels / 8, out_h, out_w, 8]) = epilogue(depthwise conv(x, w)), x
// nChw8c, w in blocked_depthwise_conv_weights_desc(s); the epilogue's arrays per channel, its
// residual y-shaped (it may be y itself: each element is read before y's is written). Needs
// blocked_depthwise_conv_supported() and blocked_depthwise_conv_accepts(s). Runs on up to
// `threads` OpenMP threads; thread-safe; y must not overlap x or w.
void blocked_depthwise_conv(const float* x, const float* w, float* y, const DepthwiseConvShape& s,
                            const GemmEpilogue& e, int threads);

}  // namespace lw::cpu
