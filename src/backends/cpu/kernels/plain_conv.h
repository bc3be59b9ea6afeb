// A convolution of a few input channels on a plain NCHW input (an image network's stem: 3
// channels) with a channels-last output, on AVX-512: packed_gemm's register blocks over a block
// of output positions of one output row, one tap per (channel, kernel row, kernel column), each
// reading the input positions `stride` floats apart on one row of a zero-padded copy of that
// channel's plane. The weights are held in packed_gemm's panels, the depth in (channel, kernel
// row, kernel column) order (the plain [out, in, kh, kw] weight as [out, in * kh * kw]).
//
// Why: the input arrives plain, and oneDNN's primitive (with a reorder of the input before it)
// allocated memory on every call; MobileNet v2's stem was its last convolution on oneDNN.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/cpu/kernels/packed_gemm.h"

namespace lw::cpu {

struct PlainConvShape {
  int64_t batch = 1, in_channels = 0, in_h = 0, in_w = 0, out_channels = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

// Whether the kernel takes the shape: sizes positive, pads non-negative, at most 256 taps
// (in_channels * kernel_h * kernel_w), the output size the one the rest gives.
bool plain_conv_accepts(const PlainConvShape& s);

// The depth of the product: in_channels * kernel_h * kernel_w (the weights' packed_gemm_b_packing
// is over [out_channels, depth]).
int64_t plain_conv_depth(const PlainConvShape& s);

// Scratch: the zero-padded copy of the input.
size_t plain_conv_scratch_bytes(const PlainConvShape& s);

// y (NHWC) = epilogue(conv(x, w)) with x NCHW and w in packed_gemm_b_desc(depth, out_channels,
// true, path); the residual may be y itself (each element is read before y's is written, in one
// pass). Needs packed_gemm_supported(path) (an AVX-512 path) and plain_conv_accepts(s), and
// `scratch` of plain_conv_scratch_bytes(s) bytes (float-aligned). Runs on up to `threads` OpenMP
// threads; thread-safe with separate scratch; y must not overlap x or w.
void plain_conv(const float* x, const float* w, float* y, const PlainConvShape& s, const GemmEpilogue& e, void* scratch,
                int threads, GemmPath path);

}  // namespace lw::cpu
