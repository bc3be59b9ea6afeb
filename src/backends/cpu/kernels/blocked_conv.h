// A direct 2-D convolution over activations in 8-channel blocks (nChw8c) with weights in
// oneDNN's ABcd8b8a layout, on AVX2 + FMA, with the fused epilogue of
// compiler/passes/epilogue_fusion.h (bias, a BatchNorm's per-channel multiply and add, a residual,
// a clamp) applied in registers.
//
// Why: on AVX2 machines the runtime keeps ResNet activations in 8-channel blocks, where oneDNN
// 2.6's jit:avx2 convolutions ran ResNet-18's 3 x 3 layers 12-17% slower than ONNX Runtime's MLAS
// kernels on the same layout, and a refreshable BatchNorm cost them a binary post-op on top.
// The weights are the ones the runtime already holds for oneDNN (ABcd8b8a: blocks of 8 output
// channels, then blocks of 8 input channels, kh, kw, 8 inputs x 8 outputs), so a refresh writes
// the same bytes whichever kernel reads them.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace lw::cpu {

// True when the CPU has AVX2 and FMA (the kernel's only code path).
bool blocked_conv_supported();

struct BlockedConvShape {
  int64_t batch = 1;
  int64_t in_channels = 0, in_h = 0, in_w = 0;     // in_channels a multiple of 8
  int64_t out_channels = 0, out_h = 0, out_w = 0;  // out_channels a multiple of 8
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // the bottom and right pads follow from out_h / out_w
};

// y = clamp((conv(x, w) + bias) * mul + add + residual, lo, hi) per output channel; each
// pointer may be null (no bias, no BatchNorm: mul and add come together, no residual).
struct BlockedConvEpilogue {
  const float* bias = nullptr;      // [out_channels]
  const float* mul = nullptr;       // [out_channels]
  const float* add = nullptr;       // [out_channels]
  const float* residual = nullptr;  // y's shape and layout; may be y itself, or not overlap it
  float lo = -INFINITY, hi = INFINITY;
};

// Whether blocked_conv takes this shape: channels in whole blocks, every size positive, pads
// non-negative (a tap in the padding reads zero). out_h / out_w are the caller's to get right.
bool blocked_conv_accepts(const BlockedConvShape& s);

// Scratch blocked_conv needs on up to `threads` threads (0 when the input channels go in one pass).
size_t blocked_conv_scratch_bytes(const BlockedConvShape& s, int threads);

// Writes y (nChw8c, [batch, out_channels / 8, out_h, out_w, 8]) from x (nChw8c) and w
// (ABcd8b8a). Needs blocked_conv_supported() and blocked_conv_accepts(s), and `scratch` of
// blocked_conv_scratch_bytes(s, threads) bytes (float-aligned). Runs on up to `threads` OpenMP
// threads; thread-safe with separate scratch; y must not overlap x or w (it may be the residual
// itself: each element of the residual is read before y's element is written).
void blocked_conv(const float* x, const float* w, float* y, const BlockedConvShape& s, const BlockedConvEpilogue& e,
                  void* scratch, int threads);

}  // namespace lw::cpu
