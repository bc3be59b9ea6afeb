// A 1 x 1 convolution (any strides, no padding) over activations in 8-channel blocks (nChw8c) with
// weights in oneDNN's ABcd8b8a layout, on AVX2 + FMA, with the fused epilogue of blocked_conv.h
// (bias, a BatchNorm's multiply and add, a residual, a clamp) applied in registers.
//
// Why: on AVX2 machines these ran on oneDNN's 1 x 1 kernel, which allocates on every execution
// (its argument map: 7 calls to malloc; issue 5 asks for none in the run loop) and splits the
// work among the threads once, statically. blocked_conv.h takes 1 x 1 shapes too, but its tiles of
// 3-6 positions over chunks of input channels ran ResNet-50 1.4-1.9x slower. This one is a
// product: output positions are the rows, input channels the depth, output channels the columns,
// run by the register block of liveweight's products (gemm_block.h) against the weights as the
// runtime holds them (the bytes a refresh writes for oneDNN's kernel) and writing Y's blocks in
// place. With stride 1 the block's rows (6 consecutive positions) lie together in each input
// plane and are read as they are; strided inputs are first gathered into micro-panels in scratch.
// Work items (bands of positions x groups of 16-channel panels) are shared out among the threads
// as work_shares.h does.
#pragma once

#include <cstddef>

#include "backends/cpu/kernels/blocked_conv.h"

namespace lw::cpu {

// Whether pointwise_conv takes this shape: blocked_conv_accepts(s), a 1 x 1 kernel, no padding,
// and outputs that read inside the input (out_h = (in_h - 1) / stride_h + 1, the same for w).
bool pointwise_conv_accepts(const BlockedConvShape& s);


// Scratch pointwise_conv needs on up to `threads` threads (0 for stride 1).
size_t pointwise_conv_scratch_bytes(const BlockedConvShape& s, int threads);

// Writes y (nChw8c, [batch, out_channels / 8, out_h, out_w, 8]) from x (nChw8c) and w (ABcd8b8a):
// y = clamp((conv(x, w) + bias) * mul + add + residual, lo, hi). Needs blocked_conv_supported()
// and pointwise_conv_accepts(s), and `scratch` of pointwise_conv_scratch_bytes(s, threads) bytes
// (float-aligned; 64-byte aligned is faster). Runs on up to `threads` OpenMP threads; thread-safe
// with separate scratch; y must not overlap x or w (it may be the residual itself).
void pointwise_conv(const float* x, const float* w, float* y, const BlockedConvShape& s, const BlockedConvEpilogue& e,
                    void* scratch, int threads);

}  // namespace lw::cpu
