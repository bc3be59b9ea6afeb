// The register block of liveweight's AVX-512 products: R rows of Y by NV 16-float vectors of
// columns (B in panels of 16 * NV columns), over one pass of the depth, with the epilogue of a
// fused Gemm or convolution (bias, a BatchNorm's multiply and add, a residual, a clamp) on the
// last pass. gemm_block.h is its AVX2 counterpart (16 registers: 6 x 16); with 32 registers a
// block holds R x NV accumulators plus NV vectors of B and a broadcast. Columns past `cols` are
// handled by masks, neither read nor written. Header-only; for the kernels' own translation
// units.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "backends/cpu/kernels/vector_math.h"

namespace lw::cpu {

struct GemmBlockAvx512Args {
  const float* a = nullptr;  // row i, column q of A at a[i * lda + q]
  int64_t lda = 0;
  const float* b = nullptr;  // row q of the panel at b + q * b_step, 16 * NV columns
  int64_t b_step = 0;
  int64_t depth = 0;  // q in [0, depth) per tap
  // The depth in taps (a convolution's kernel positions): tap t reads A from a + tap_offsets[t]
  // for its `depth` steps, B's rows continuing from the tap before. One tap without offsets: A
  // from a.
  int taps = 1;
  const int64_t* tap_offsets = nullptr;
  // Per tap (or null): bit 0 set leaves the first row of the run's first block out of that
  // tap, bit 1 the last row of its last block (a convolution's edge columns, whose input there
  // is padding: zeros the block need not multiply, nor read). Not with b_ahead.
  const uint8_t* tap_skips = nullptr;
  float* y = nullptr;  // row i of Y at y + i * ldc
  int64_t ldc = 0;
  int cols = 0;                 // the real columns (<= 16 * NV)
  bool first = true;            // starts from the bias (zeros without one), else from what Y holds
  bool last = true;             // applies the epilogue below and the clamp
  const float* bias = nullptr;  // [cols] from the block's first column, or null
  const float* mul = nullptr;   // [cols], with add: y = y * mul + add (a BatchNorm), or null
  const float* add = nullptr;
  const float* residual = nullptr;  // Y's shape (rows ldc apart), added after mul/add; read
                                    // before y's row is written, so it may be y itself
  float lo = -INFINITY, hi = INFINITY;
  // Requests B's lines this many floats ahead of the row being read (0: none): with few rows the
  // block streams B from memory.
  int64_t b_ahead = 0;
  // Blocks of R rows in one call, each a_next floats of A and y_next of Y (and of the residual)
  // after the one before: the masks, the bias and the clamp are set up once for them all.
  int64_t count = 1;
  int64_t a_next = 0, y_next = 0;
};

// GCC 12 reports the masked intrinsics' own undefined operands as uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Steps [0, depth) of one tap into rows [kFirst, kEnd) of the accumulators (row i of A at
// a[(i - kFirst) * lda]), B's rows from b on:
// the loop every block spends its time in, one copy per variant so that it holds no test and
// keeps its pointers in registers (a loop with the prefetch test and the taps' state in it ran
// 7% slower). Every loop over rows and vectors is unrolled so that the accumulators stay in
// registers.
template <int R, int NV, bool kPrefetch, int kFirst, int kEnd>
__attribute__((target("avx512f"), always_inline)) inline void gemm_block_avx512_steps(__m512 (&acc)[R][NV],
                                                                                      const float* a, int64_t lda,
                                                                                      const float* b, int64_t b_step,
                                                                                      int64_t depth, int64_t b_ahead) {
  for (int64_t q = 0; q < depth; ++q, b += b_step, ++a) {
    __m512 bv[NV];
    if constexpr (kPrefetch) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm_prefetch(reinterpret_cast<const char*>(b + b_ahead + 16 * v), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 16
    for (int i = kFirst; i < kEnd; ++i) {
      const __m512 av = _mm512_set1_ps(a[(i - kFirst) * lda]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
    }
  }
}

// kSiLU: after the clamp, y * sigmoid(y) (vector_math.h), on the last pass. A variant of its own:
// a test in the one epilogue made ResNet's convolutions 2% slower, and applying it after the
// block over the rows it had written gave EfficientNet-B0 a third of the gain.
template <int R, int NV, bool kSiLU = false>
__attribute__((target("avx512f"))) void gemm_block_avx512(const GemmBlockAvx512Args& g) {
  static_assert(R >= 1 && NV >= 1 && R * NV + NV + 1 <= 32, "the block must fit the 32 registers");
  __mmask16 mask[NV];
  __m512 start[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const int c = g.cols - 16 * v;
    mask[v] = c >= 16 ? static_cast<__mmask16>(0xFFFF) : c <= 0 ? 0 : static_cast<__mmask16>((1u << c) - 1);
    start[v] = g.bias ? _mm512_maskz_loadu_ps(mask[v], g.bias + 16 * v) : _mm512_setzero_ps();
  }
  const __m512 vlo = _mm512_set1_ps(g.lo), vhi = _mm512_set1_ps(g.hi);
  const int64_t lda = g.lda, b_step = g.b_step, depth = g.depth, ldc = g.ldc, b_ahead = g.b_ahead;
  const float* a_block = g.a;
  float* y = g.y;
  const float* residual = g.residual;
  for (int64_t t = 0; t < g.count;
       ++t, a_block += g.a_next, y += g.y_next, residual = residual ? residual + g.y_next : nullptr) {
    __m512 acc[R][NV];
    if (g.first) {
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = start[v];
    } else {
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_maskz_loadu_ps(mask[v], y + i * ldc + 16 * v);
    }
    // The run's first block may leave out its first row on the taps marked so, its last block
    // its last row.
    const int edges = (t == 0 ? 1 : 0) | (t + 1 == g.count ? 2 : 0);
    const float* b = g.b;
    for (int tap = 0; tap < g.taps; ++tap, b += depth * b_step) {
      // A left-out first row is not addressed: its input position may lie before the input.
      const int64_t offset = g.tap_offsets ? g.tap_offsets[tap] : 0;
      const int skip = g.tap_skips ? g.tap_skips[tap] & edges : 0;
      const float* a = a_block + (skip & 1 ? offset + lda : offset);
      if (b_ahead > 0) {
        gemm_block_avx512_steps<R, NV, true, 0, R>(acc, a, lda, b, b_step, depth, b_ahead);
      } else if (skip == 0) {
        gemm_block_avx512_steps<R, NV, false, 0, R>(acc, a, lda, b, b_step, depth, 0);
      } else if (R == 1) {
        // The block's one row leaves this tap out.
      } else if (skip == 1) {
        gemm_block_avx512_steps<R, NV, false, 1, R>(acc, a, lda, b, b_step, depth, 0);
      } else if (skip == 2) {
        gemm_block_avx512_steps<R, NV, false, 0, R - 1>(acc, a, lda, b, b_step, depth, 0);
      } else {
        gemm_block_avx512_steps<R, NV, false, 1, R - 1>(acc, a, lda, b, b_step, depth, 0);
      }
    }
    if (g.last) {
      if (g.mul) {
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          const __m512 mv = _mm512_maskz_loadu_ps(mask[v], g.mul + 16 * v);
          const __m512 av = _mm512_maskz_loadu_ps(mask[v], g.add + 16 * v);
#pragma GCC unroll 16
          for (int i = 0; i < R; ++i) acc[i][v] = _mm512_fmadd_ps(acc[i][v], mv, av);
        }
      }
      if (residual) {
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v)
            acc[i][v] = _mm512_add_ps(acc[i][v], _mm512_maskz_loadu_ps(mask[v], residual + i * ldc + 16 * v));
      }
      // The value as the second operand: vmaxps/vminps return it when either is NaN, so a NaN
      // passes the clamp as in the other kernels.
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_min_ps(vhi, _mm512_max_ps(vlo, acc[i][v]));
      if constexpr (kSiLU) {
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_mul_ps(acc[i][v], sigmoid(acc[i][v]));
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(y + i * ldc + 16 * v, mask[v], acc[i][v]);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace lw::cpu
