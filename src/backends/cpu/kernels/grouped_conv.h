// A grouped 2-D convolution whose groups each map c input channels to c output channels
// (ResNeXt's and RegNet's 3 x 3 layers: 32 groups of 4 to 32 channels, groups of 16) over
// channels-last activations on AVX-512. One output vector holds 16 output channels; a block is
// up to 8 output positions of one output row, and for each kernel position and each of a group's
// c inputs it adds one input value per lane times that lane's weight:
//  - c a multiple of 16: the vector's lanes all lie in one group, so the input value is one
//    channel broadcast to every lane;
//  - c = 2, 4 or 8: the vector spans 16 / c whole groups, and as the input and output channels
//    of a group are the same channel numbers, the 16 input channels at the vector's position
//    hold every input its lanes need: a lane-to-lane permute of that one load gives each lane
//    input i of its own group (within 128-bit lanes for c = 2 and 4).
// Each lane does c multiplies per kernel position, as many as the convolution has; no zeros of
// a block-diagonal weight are multiplied. The fused epilogue (bias, a BatchNorm's multiply and
// add, a residual, a clamp or SiLU) runs in registers.
//
// Weights: [out_channels, c, kernel_h, kernel_w] (ONNX's grouped layout) in oneDNN's Ohwi16o:
// per 16 output channels, kernel row, kernel column, input of the group, then the 16 lanes.
//
// Why: oneDNN's grouped convolutions allocate memory on every call (ResNeXt-50: 115 a run, 5488
// with its AVX2 code) and ran ResNeXt's 56 x 56 layers at about 80 GFLOP/s.
#pragma once

#include <cstdint>

#include "backends/cpu/kernels/packed_gemm.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

struct GroupedConvShape {
  int64_t batch = 1;
  int64_t channels = 0;        // input and output channels alike
  int64_t group_channels = 0;  // c: channels / group
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // the bottom and right pads follow from out_h / out_w
};

// True when this CPU runs the kernel (AVX-512, where oneDNN may use it).
bool grouped_conv_supported();

// Whether the kernel takes the shape: every size positive, pads non-negative, channels a
// multiple of 16, c 2, 4, 8 or a multiple of 16 dividing the channels, at most 64 kernel
// positions.
bool grouped_conv_accepts(const GroupedConvShape& s);

// The weights' layout: [channels, c, kernel_h, kernel_w] as Ohwi16o.
dnnl::memory::desc grouped_conv_weights_desc(const GroupedConvShape& s);

// y (NHWC, [batch, out_h, out_w, channels]) = epilogue(grouped conv(x, w)), x NHWC, w in
// grouped_conv_weights_desc(s); the epilogue's arrays per channel, its residual y-shaped (it may
// be y itself: each element is read before y's is written). Needs grouped_conv_supported() and
// grouped_conv_accepts(s). Runs on up to `threads` OpenMP threads; thread-safe; y must not
// overlap x or w.
void grouped_conv(const float* x, const float* w, float* y, const GroupedConvShape& s, const GemmEpilogue& e,
                  int threads);

}  // namespace lw::cpu
