// A convolution of a few input channels on a plain NCHW input (an image network's stem: 3
// channels) writing nChw8c activations on AVX2: the AVX2 machines' counterpart of
// plain_conv.h and of nhwc_conv.h's stems. The input goes into a channels-last copy padded left
// and right, in which a kernel row's kernel_w positions are kernel_w * channels consecutive
// floats; each kernel row is then one tap of gemm_block.h's 6 x 16 blocks, whose rows are 6
// output positions of an output row (stride * channels floats apart) and whose two vectors are
// two 8-channel blocks of the output. Kernel rows in the padding are left out of the whole
// output row. Weights: [out_channels, in_channels, kernel_h, kernel_w] in panels of 16 output
// channels, the depth in (kernel row, kernel column, channel) order: oneDNN's Acdb16a.
//
// Why: oneDNN's stem convolution allocates memory on every call (its argument maps); it was the
// last of ResNet's and MobileNet v2's convolutions on oneDNN there.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/cpu/kernels/plain_conv.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

// True when this CPU runs the kernel (AVX2 and FMA).
bool blocked_plain_conv_supported();

// Whether the kernel takes the shape: sizes positive, pads non-negative, output channels a
// multiple of 8, at most 64 kernel rows, and the output size the one the rest gives.
bool blocked_plain_conv_accepts(const PlainConvShape& s);

// The weights' layout: Acdb16a (output channels past the last padded with zeros).
dnnl::memory::desc blocked_plain_conv_weights_desc(const PlainConvShape& s);

// Scratch: the padded channels-last copy of the input.
size_t blocked_plain_conv_scratch_bytes(const PlainConvShape& s);

// y (nChw8c) = epilogue(conv(x, w)) with x NCHW and w in blocked_plain_conv_weights_desc(s); the
// residual nChw8c like y (it may be y itself: in one pass each element is read before y's is
// written). Needs blocked_plain_conv_supported() and blocked_plain_conv_accepts(s), and
// `scratch` of blocked_plain_conv_scratch_bytes(s) bytes (float-aligned). Runs on up to
// `threads` OpenMP threads; thread-safe with separate scratch; y must not overlap x or w.
void blocked_plain_conv(const float* x, const float* w, float* y, const PlainConvShape& s, const GemmEpilogue& e,
                        void* scratch, int threads);

}  // namespace lw::cpu
