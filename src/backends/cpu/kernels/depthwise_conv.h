// A depthwise 2-D convolution (group = channels, one output channel each) over channels-last
// activations on AVX-512: 16 channels a vector, several output positions of one output row a
// block, each kernel position's weight vector loaded once per block; the fused epilogue (bias, a
// BatchNorm's multiply and add, a residual, a clamp) in registers. The weights are held in
// 16-channel groups (oneDNN's Goihw16g: per group, kernel row, kernel column, 16 channels).
//
// Why: oneDNN's AVX-512 depthwise kernel allocates memory on every call (its argument maps);
// MobileNet v2 runs 17 of them per inference.
#pragma once

#include <cstdint>

#include "backends/cpu/kernels/packed_gemm.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

struct DepthwiseConvShape {
  int64_t batch = 1, channels = 0;
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // the bottom and right pads follow from out_h / out_w
};

// True when this CPU runs the kernel (AVX-512, where oneDNN may use it).
bool depthwise_conv_supported();

// Whether the kernel takes the shape: every size positive, pads non-negative, at most 64 kernel
// positions.
bool depthwise_conv_accepts(const DepthwiseConvShape& s);

// The output columns whose every kernel column lies inside the input, [begin, end): the ones a
// kernel runs without bounds checks (also blocked_depthwise_conv.h).
struct DepthwiseInnerColumns {
  int64_t begin = 0, end = 0;
};
DepthwiseInnerColumns depthwise_inner_columns(const DepthwiseConvShape& s);

// The weights' layout: [channels, 1, 1, kernel_h, kernel_w] (a grouped convolution's 5-D dims)
// in groups of 16 channels, the channels past the last zero.
dnnl::memory::desc depthwise_conv_weights_desc(const DepthwiseConvShape& s);

// y (NHWC, [batch, out_h, out_w, channels]) = epilogue(depthwise conv(x, w)), x NHWC, w in
// depthwise_conv_weights_desc(s); the epilogue's arrays per channel, its residual y-shaped (it
// may be y itself: each element is read before y's is written). Needs
// depthwise_conv_supported() and depthwise_conv_accepts(s). Runs on up to `threads` OpenMP
// threads; thread-safe; y must not overlap x or w.
void depthwise_conv(const float* x, const float* w, float* y, const DepthwiseConvShape& s, const GemmEpilogue& e,
                    int threads);

}  // namespace lw::cpu
