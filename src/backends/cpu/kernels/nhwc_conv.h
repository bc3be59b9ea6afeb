// A 2-D convolution of group 1 without dilation (any kernel, stride and padding) writing
// channels-last activations on AVX-512: the convolutions of a ResNet that are not 1 x 1 and
// stride 1 (3 x 3 ones, strided 1 x 1 projections, the 7 x 7 stem).
//
// An implicit product on packed_gemm's register blocks (gemm_block_avx512.h), 2 vectors (32
// output channels) wide and up to 14 output positions high: a block is a stretch of one output
// row, its rows the input positions `stride` apart on an input row, one tap per kernel position
// with its offset. Taps whose input row is padding are left out of the whole output row, and a
// tap whose input column is padding at the row's first or last position leaves that row of the
// block out (gemm_block_avx512's tap_skips): no multiply by the padding's zeros, which at 7 x 7
// were 18% of the FMAs. Where that leaves no read of padding (a pad no wider than the stride,
// ResNet's 3 x 3 and 1 x 1 convolutions) the input is read in place; otherwise (the stem's pad
// of 3, or an NCHW input) from a copy padded left and right, channels-last, in which a kernel
// row's columns are consecutive, so a tap is a kernel row with kernel_w * channels steps.
// Output rows narrower than 7 (a ResNet's last layers on an input under 224 x 224) would make
// blocks as short as the row: there every output position's inputs are gathered into a row
// (zeros for the padding) and the blocks run down all positions at once, a plain product.
//
// Weights: [out_channels, in_channels, kernel_h, kernel_w] in panels of 32 output channels,
// the depth in (kernel row, kernel column, channel) order: oneDNN's Acdb32a.
//
// Why: oneDNN's AVX-512 convolutions allocate memory on every call (their argument maps); with
// this kernel a ResNet's inference allocates none. Alternating calls on a Zen 5 against
// oneDNN's brgconv on ResNet's 3 x 3 layers: 0.94-1.04 of its time.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/cpu/kernels/packed_gemm.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

struct NhwcConvShape {
  int64_t batch = 1;
  int64_t in_channels = 0, in_h = 0, in_w = 0;
  int64_t out_channels = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool nchw_input = false;  // x plain [N, C, H, W] (a network's input) rather than channels-last
};

// True when this CPU runs the kernel (AVX-512, where oneDNN may use it).
bool nhwc_conv_supported();

// Whether the kernel takes the shape: sizes positive, pads non-negative, at most 256 kernel
// positions, and the output size the one the rest gives.
bool nhwc_conv_accepts(const NhwcConvShape& s);

// The weights' layout: Acdb32a (output channels past the last padded with zeros).
dnnl::memory::desc nhwc_conv_weights_desc(const NhwcConvShape& s);

// Scratch the kernel needs: the gathered positions for rows narrower than 7, the padded copy of
// the input where it reads one, else 0.
size_t nhwc_conv_scratch_bytes(const NhwcConvShape& s);

// y ([batch, out_h, out_w, out_channels]) = epilogue(conv(x, w)), x channels-last (or NCHW with
// nchw_input), w in nhwc_conv_weights_desc(s). Needs nhwc_conv_supported() and
// nhwc_conv_accepts(s), and `scratch` of nhwc_conv_scratch_bytes(s) bytes (float-aligned).
// One pass: each element of the residual is read before y's is written, so the residual may be y
// itself. Runs on up to `threads` OpenMP threads; thread-safe with separate scratch; y must not
// overlap x or w.
void nhwc_conv(const float* x, const float* w, float* y, const NhwcConvShape& s, const GemmEpilogue& e, void* scratch,
               int threads);

}  // namespace lw::cpu
