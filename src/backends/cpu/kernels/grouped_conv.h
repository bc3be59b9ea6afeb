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

#include <algorithm>
#include <cstdint>

#include "backends/cpu/kernels/kernel_util.h"
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

// Whether the kernel takes the shape: grouped_conv_geometry_ok(s), channels a multiple of 16, c
// 2, 4, 8 or a multiple of 16.
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

// What grouped_conv and blocked_grouped_conv.h (its AVX2 form on nChw8c) share: the geometry both
// take, how a row is cut into blocks of positions and how the work is shared out.

// Every size positive, pads non-negative, c at most 1024 and dividing the channels, at most 64
// kernel positions (the lane rules on c and the channels are each kernel's own).
bool grouped_conv_geometry_ok(const GroupedConvShape& s);

// The blocks of one output row: widths as nearly equal as `positions` at most allow (a 7 x 7
// output: one of 7; 14 x 14: two of 7), each flagged when a kernel column of one of its positions
// falls in the padding. Edge columns in blocks of their own, as the depthwise kernels run them,
// left single positions, each loading its weights for one FMA apiece: RegNet's 7 x 7 layers took
// 1.3x oneDNN's time.
class GroupedRowBlocks {
 public:
  GroupedRowBlocks(const GroupedConvShape& s, int64_t positions);
  // fn(first column, width, at_edge) for each block, left to right.
  template <typename Fn>
  void each(Fn&& fn) const {
    for (int64_t b = 0; b < blocks_; ++b) {
      const int64_t begin = out_w_ * b / blocks_, end = out_w_ * (b + 1) / blocks_;
      fn(begin, end - begin, begin < inner_lo_ || end > inner_hi_);
    }
  }

 private:
  int64_t out_w_, blocks_, inner_lo_, inner_hi_;
};

// Runs row(r, v_lo, v_hi) for every output row r (of batch * out_h) and output vector range on up
// to `threads` OpenMP threads, in items of (a stretch of vectors, a stretch of rows), each
// vector's rows in turn so its weights are fetched once per item and stay in L1 over the rows.
// Groups of 16 channels or more (`wide`) have c floats of weights a kernel position for every
// output channel: walking row by row over all vectors fetched ResNeXt's 7 x 7 layer's 1.2 MB
// from L3 for each of its 7 rows (1.2x oneDNN's time). There a stretch is one pair of vectors
// (the kernels' broadcast blocks take two) and the rows are split only as far as the threads need
// work to share; the smaller groups' weights take the rows one at a time over up to all vectors.
template <typename RowFn>
void run_grouped_rows(int64_t vectors, int64_t rows, bool wide, int threads, RowFn&& row) {
  const int parts = std::max(threads, 1);
  const int64_t span = wide                ? std::min<int64_t>(vectors, 2)
                       : rows >= 8 * parts ? vectors
                                           : std::min<int64_t>(vectors, 4);
  const int64_t spans = (vectors + span - 1) / span;
  int64_t row_span = wide ? rows : 1;
  while (wide && row_span > 1 && spans * ((rows + row_span - 1) / row_span) < 4 * parts) row_span = (row_span + 1) / 2;
  const int64_t row_spans = (rows + row_span - 1) / row_span, items = spans * row_spans;
  const int want = static_cast<int>(std::min<int64_t>(parts, items));
  run_shares(want, [&](int t, int shares) {
    for (int64_t it = items * t / shares, end = items * (t + 1) / shares; it < end; ++it) {
      const int64_t v_lo = it / row_spans * span, v_hi = std::min(vectors, v_lo + span);
      const int64_t r0 = it % row_spans * row_span, r1 = std::min(rows, r0 + row_span);
      for (int64_t r = r0; r < r1; ++r) row(r, v_lo, v_hi);
    }
  });
}

}  // namespace lw::cpu
