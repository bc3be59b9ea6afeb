// A 3 x 3, stride-1 convolution over activations in 8-channel blocks (nChw8c) by Winograd's
// F(2 x 2, 3 x 3) on AVX2 + FMA: each 4 x 4 input tile and each 3 x 3 filter become 16 values,
// their products over the input channels are 16 matrix products (packed_gemm.h), and each 2 x 2
// output tile comes back from 16 sums: 2.25 times fewer multiplications than the direct
// convolution (blocked_conv.h), at the cost of the transforms. The weights stay what the runtime
// holds for the direct kernels (ABcd8b8a), so a refresh is unchanged; each run transforms them
// into scratch, which costs little only where they are small next to the activations (the
// caller decides where).
//
// Rounding: the transforms add and halve, so a result differs from the direct sum by a few
// units in the last place of the largest partial products (measured below 1e-5 relative).
#pragma once

#include <cstddef>

#include "backends/cpu/kernels/blocked_conv.h"

namespace lw::cpu {

// Whether winograd_conv takes this shape: blocked_conv_accepts(s), a 3 x 3 kernel, stride 1,
// pads of at most 2.
bool winograd_conv_accepts(const BlockedConvShape& s);

// Whether it beats the direct kernel on this shape (AVX2, 2 threads, against blocked_conv in one
// process): at least 32 input channels (16 ran level, the gemms too short), and at least 2 tiles
// of output per MB of transformed weights (16 x in x out floats, transformed on every run):
// 64 -> 64 channels on 56 x 56 took 0.70x the direct kernel's time, 128 on 28 x 28 0.69x,
// 256 on 14 x 14 0.64x and 256 on 10 x 10 (25 tiles, 4 MB) 0.91x, where 512 on 10 x 10 (25
// tiles, 16 MB) took 1.17x and 512 on 7 x 7 1.7x.
bool winograd_conv_pays(const BlockedConvShape& s);

// Scratch winograd_conv needs on up to `threads` threads (64-byte aligned).
size_t winograd_conv_scratch_bytes(const BlockedConvShape& s, int threads);

// As blocked_conv (same layouts, epilogue and aliasing rules), by F(2 x 2, 3 x 3). Needs
// blocked_conv_supported() and winograd_conv_accepts(s). Thread-safe with separate scratch.
void winograd_conv(const float* x, const float* w, float* y, const BlockedConvShape& s, const BlockedConvEpilogue& e,
                   void* scratch, int threads);

}  // namespace lw::cpu
