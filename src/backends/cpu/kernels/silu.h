// SiLU (x * sigmoid(x)) over a float buffer in place, 16 lanes at a time where AVX-512 is allowed
// and 8 on AVX2 (vector_math.h): for a convolution with SiLU fused after it (passes/
// epilogue_fusion.h) whose kernel does not apply it in registers. Thread-safe for disjoint
// buffers; runs on up to `threads` OpenMP threads.
#pragma once

#include <cstdint>

namespace lw::cpu {

void silu_in_place(float* y, int64_t n, int threads);

}  // namespace lw::cpu
