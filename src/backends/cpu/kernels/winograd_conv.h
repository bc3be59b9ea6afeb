// A 3 x 3, stride-1 convolution over activations in 8-channel blocks (nChw8c) by Winograd's
// F(2 x 2, 3 x 3) on AVX2 + FMA: each 4 x 4 input tile and each 3 x 3 filter become 16 values,
// their products over the input channels are 16 matrix products (packed_gemm.h), and each 2 x 2
// output tile comes back from 16 sums: 2.25 times fewer multiplications than the direct
// convolution (blocked_conv.h), at the cost of the transforms. The weights stay what the runtime
// holds for the direct kernels (ABcd8b8a), so a refresh is unchanged; the filters are
// transformed from them either on every run (winograd_conv) or once per version of the weights
// by a caller that keeps the result (winograd_conv_transformed; the Conv kernel does).
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

// Whether it beats the direct kernel on this shape, with the filters kept across runs (the Conv
// kernel keeps them): at least 32 input channels (16 ran level, the gemms too short), and at
// least 20 tiles of 2 x 2 outputs (over the batch) or at most 1 MB of transformed filters
// (16 x in x out floats). AVX2, 2 threads, against blocked_conv in one process, 3 x 3 of n -> n
// channels: 64 on 56 x 56 took 0.61x the direct kernel's time, 128 on 28 x 28 0.60x, 256 on
// 14 x 14 0.58x, 256 on 10 x 10 0.84x, 512 on 10 x 10 0.68-0.92x, 512 on 9 x 9 0.98x and 128 on
// 7 x 7 0.79x, where 512 on 8 x 8 took 1.05x, 256 on 7 x 7 1.10x and 512 on 7 x 7 1.3-1.44x
// (16 tiles each), and 512 on 7 x 7 for 2 images 0.89-0.91x. With the filters transformed on every run the rule was stricter (2 tiles per
// MB of them): 256 on 14 x 14 then took 0.82x, 512 on 10 x 10 1.2-1.4x.
bool winograd_conv_pays(const BlockedConvShape& s);

// Scratch winograd_conv needs on up to `threads` threads (64-byte aligned): the transformed
// filters and winograd_step_scratch_bytes.
size_t winograd_conv_scratch_bytes(const BlockedConvShape& s, int threads);

// As blocked_conv (same layouts, epilogue and aliasing rules), by F(2 x 2, 3 x 3), transforming
// the filters into scratch first. Needs blocked_conv_supported() and winograd_conv_accepts(s).
// Thread-safe with separate scratch.
void winograd_conv(const float* x, const float* w, float* y, const BlockedConvShape& s, const BlockedConvEpilogue& e,
                   void* scratch, int threads);

// The two halves of winograd_conv, for a caller that keeps the transformed filters while the
// weights stay the same (the transform of 256 x 256 channels took as long as the rest of a
// 14 x 14 convolution): winograd_transform_filters writes them (winograd_filters_bytes(s) bytes
// at u, 64-byte aligned) from w (ABcd8b8a) on up to `threads` threads; winograd_conv_transformed
// runs the convolution from them with scratch of winograd_step_scratch_bytes(s, threads).
size_t winograd_filters_bytes(const BlockedConvShape& s);
void winograd_transform_filters(const float* w, const BlockedConvShape& s, float* u, int threads);
size_t winograd_step_scratch_bytes(const BlockedConvShape& s, int threads);
void winograd_conv_transformed(const float* x, const float* u, float* y, const BlockedConvShape& s,
                               const BlockedConvEpilogue& e, void* scratch, int threads);

}  // namespace lw::cpu
