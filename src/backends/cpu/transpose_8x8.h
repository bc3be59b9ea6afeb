// An 8 x 8 float transpose in AVX2 registers, for the packers that turn rows into columns
// (blocked_pack.cc's weight layouts, the attention kernel's K^T panels, pointwise_conv's
// micro-panels). Header-only; callers must run it inside functions compiled for AVX2
// (LW_TARGET_AVX2) on CPUs that have it.
#pragma once

#include <immintrin.h>

#include <cstdint>

#define LW_TARGET_AVX2 __attribute__((target("avx2")))

namespace lw::cpu {

// Column k of the 8 x 8 floats in r (row q in r[q]) into c[k].
LW_TARGET_AVX2 __attribute__((always_inline)) inline void transpose_8x8_regs(const __m256 (&r)[8], __m256 (&c)[8]) {
  // Pairs of rows interleaved, then quads: u[k] holds column k of rows 0-3 (low half) and
  // column k + 4 (high half); u[4 + k] the same of rows 4-7.
  __m256 t[8], u[8];
  for (int m = 0; m < 4; ++m) {
    t[2 * m] = _mm256_unpacklo_ps(r[2 * m], r[2 * m + 1]);
    t[2 * m + 1] = _mm256_unpackhi_ps(r[2 * m], r[2 * m + 1]);
  }
  for (int h = 0; h < 2; ++h) {
    u[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int k = 0; k < 4; ++k) {
    c[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
    c[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
  }
}

// Transposes the 8 x 8 floats at `s` (rows `stride` apart) and stores column k at out(k) (8
// floats; `out` returns a pointer, so the stores stay in this AVX2 function: a lambda does not
// take its target). kStream: non-temporal stores, every out(k) 32-byte aligned; the caller
// fences (core/stream_copy.h) before another thread reads the destination.
template <bool kStream = false, typename Out>
LW_TARGET_AVX2 __attribute__((always_inline)) inline void transpose_8x8(const float* s, int64_t stride, Out out) {
  __m256 r[8], c[8];
  for (int q = 0; q < 8; ++q) r[q] = _mm256_loadu_ps(s + q * stride);
  transpose_8x8_regs(r, c);
  for (int k = 0; k < 8; ++k) {
    if constexpr (kStream) {
      _mm256_stream_ps(out(k), c[k]);
    } else {
      _mm256_storeu_ps(out(k), c[k]);
    }
  }
}

}  // namespace lw::cpu
