// The register block of liveweight's AVX2 products: R (1-6) rows of Y by 16 columns, over one
// pass of the depth, with the epilogue on the last pass. packed_gemm.h runs it on a row-major A
// and Y with B in 16-column panels; pointwise_conv.h on an nChw8c input (as it is, or packed),
// the ABcd8b8a weights of a 1 x 1 convolution and an nChw8c Y, whose columns 0-7 and 8-15 are
// two 8-channel blocks a plane apart; blocked_plain_conv.h on a padded channels-last copy of an
// image, a kernel row per tap, into an nChw8c Y. Header-only; for the kernels' own translation
// units.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace lw::cpu {

inline constexpr int kGemmBlockRows = 6;  // 6 x 16 = 12 accumulators, 2 of B, 1 broadcast: 15 of 16 ymm
inline constexpr int kGemmBlockCols = 16;

// Where gemm_block finds row i, column q of A.
enum class GemmA {
  kRowMajor,     // a[i * lda + q]
  kInterleaved,  // a[q * kGemmBlockRows + i] (lda unused): a packed micro-panel, one stream
  kBlocked8,     // a[(q / 8) * lda + i * 8 + q % 8]: nChw8c rows (positions) of 8-channel blocks
                 // lda apart; depth a multiple of 8
};

struct GemmBlockArgs {
  const float* a = nullptr;  // A, in the layout gemm_block's GemmA parameter names
  int64_t lda = 0;
  // Column j < 8 of row q of B at b[q * b_step + j], column 8 + j at b[q * b_step + b_half + j].
  const float* b = nullptr;
  int64_t b_step = kGemmBlockCols, b_half = 8;
  int64_t depth = 0;  // q in [0, depth) (per tap)
  // With kRowMajor, the depth in taps (a convolution's kernel rows, say): tap t reads A from
  // a + tap_offsets[t] for its `depth` steps, B's rows continuing from the tap before. One tap
  // without offsets: A from a.
  int taps = 1;
  const int64_t* tap_offsets = nullptr;
  // Row i of Y: columns 0-7 at y + i * ldc, 8-15 at y + i * ldc + y_half.
  float* y = nullptr;
  int64_t ldc = 0, y_half = 8;
  int cols = kGemmBlockCols;    // the real columns; the others are neither read nor written in Y
  bool first = true;            // starts from the bias (zeros without one), else from what Y holds
  bool last = true;             // applies the epilogue below and the clamp
  const float* bias = nullptr;  // [16] from the block's first column, or null
  const float* mul = nullptr;   // [16], with add: y = y * mul + add (a BatchNorm), or null
  const float* add = nullptr;
  const float* residual = nullptr;  // Y's layout (ldc, y_half), added after mul/add; may be y itself
  float lo = -INFINITY, hi = INFINITY;
  // Blocks of R rows in one call, each a_next floats of A and y_next of Y (and of the residual)
  // after the one before: a call per block made pointwise_conv's 64-deep products about 10% slower.
  int64_t count = 1;
  int64_t a_next = 0, y_next = 0;
};

namespace gemm_block_detail {

// The 16 columns of row i of a Y-shaped array as two vectors; the columns past `cols` read 0.
__attribute__((target("avx2,fma"), always_inline)) inline void load_row(const float* p, int64_t half, int cols,
                                                                        __m256& lo, __m256& hi) {
  if (cols == kGemmBlockCols) {
    lo = _mm256_loadu_ps(p);
    hi = _mm256_loadu_ps(p + half);
    return;
  }
  if (cols == 8) {  // a lone 8-channel block of an nChw8c output
    lo = _mm256_loadu_ps(p);
    hi = _mm256_setzero_ps();
    return;
  }
  float tmp[kGemmBlockCols] = {};
  std::memcpy(tmp, p, static_cast<size_t>(cols < 8 ? cols : 8) * sizeof(float));
  if (cols > 8) std::memcpy(tmp + 8, p + half, static_cast<size_t>(cols - 8) * sizeof(float));
  lo = _mm256_loadu_ps(tmp);
  hi = _mm256_loadu_ps(tmp + 8);
}

__attribute__((target("avx2,fma"), always_inline)) inline void store_row(float* p, int64_t half, int cols, __m256 lo,
                                                                         __m256 hi) {
  if (cols == kGemmBlockCols) {
    _mm256_storeu_ps(p, lo);
    _mm256_storeu_ps(p + half, hi);
    return;
  }
  if (cols == 8) {
    _mm256_storeu_ps(p, lo);
    return;
  }
  float tmp[kGemmBlockCols];
  _mm256_storeu_ps(tmp, lo);
  _mm256_storeu_ps(tmp + 8, hi);
  std::memcpy(p, tmp, static_cast<size_t>(cols < 8 ? cols : 8) * sizeof(float));
  if (cols > 8) std::memcpy(p + half, tmp + 8, static_cast<size_t>(cols - 8) * sizeof(float));
}

}  // namespace gemm_block_detail

// One step of the depth: the 16 columns of B's row at b (8 and 8, b_half apart) times the R
// rows' broadcasts at a0 + i * a_stride.
template <int R>
__attribute__((target("avx2,fma"), always_inline)) inline void gemm_step(__m256 (&acc)[R][2], const float* b,
                                                                         int64_t b_half, const float* a0,
                                                                         int64_t a_stride) {
  const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + b_half);
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i) {
    const __m256 av = _mm256_broadcast_ss(a0 + i * a_stride);
    acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
    acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
  }
}

// Every loop over the rows is unrolled so that the accumulators live in registers: with one loop
// left rolled GCC kept them in memory and stored each after its FMA (30 GFLOPS on one core of a
// 90 GFLOPS peak).
template <int R, GemmA kA = GemmA::kRowMajor>
__attribute__((target("avx2,fma"))) void gemm_block(const GemmBlockArgs& g) {
  using gemm_block_detail::load_row;
  using gemm_block_detail::store_row;
  const float* a_block = g.a;
  float* y = g.y;
  const float* residual = g.residual;
  for (int64_t t = 0; t < g.count;
       ++t, a_block += g.a_next, y += g.y_next, residual = residual ? residual + g.y_next : nullptr) {
    __m256 acc[R][2];
    if (g.first) {
      __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
      if (g.bias) load_row(g.bias, 8, g.cols, b0, b1);
#pragma GCC unroll 6
      for (int i = 0; i < R; ++i) {
        acc[i][0] = b0;
        acc[i][1] = b1;
      }
    } else {
#pragma GCC unroll 6
      for (int i = 0; i < R; ++i) load_row(y + i * g.ldc, g.y_half, g.cols, acc[i][0], acc[i][1]);
    }
    const float* a = a_block;
    const float* b = g.b;
    const int64_t lda = g.lda, b_step = g.b_step, b_half = g.b_half, depth = g.depth;
    if constexpr (kA == GemmA::kBlocked8) {
      for (int64_t q = 0; q < depth; q += 8, a += lda)
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c, b += b_step) gemm_step<R>(acc, b, b_half, a + c, 8);
    } else if constexpr (kA == GemmA::kInterleaved) {
      for (int64_t q = 0; q < depth; ++q, b += b_step, a += kGemmBlockRows) gemm_step<R>(acc, b, b_half, a, 1);
    } else {
      for (int tap = 0; tap < g.taps; ++tap) {
        const float* at = g.tap_offsets ? a + g.tap_offsets[tap] : a;
        for (int64_t q = 0; q < depth; ++q, b += b_step, ++at) gemm_step<R>(acc, b, b_half, at, lda);
      }
    }
    if (g.last) {
      if (g.mul) {
        __m256 m0, m1, d0, d1;
        load_row(g.mul, 8, g.cols, m0, m1);
        load_row(g.add, 8, g.cols, d0, d1);
#pragma GCC unroll 6
        for (int i = 0; i < R; ++i) {
          acc[i][0] = _mm256_fmadd_ps(acc[i][0], m0, d0);
          acc[i][1] = _mm256_fmadd_ps(acc[i][1], m1, d1);
        }
      }
      if (residual) {
#pragma GCC unroll 6
        for (int i = 0; i < R; ++i) {
          __m256 r0, r1;
          load_row(residual + i * g.ldc, g.y_half, g.cols, r0, r1);
          acc[i][0] = _mm256_add_ps(acc[i][0], r0);
          acc[i][1] = _mm256_add_ps(acc[i][1], r1);
        }
      }
      // The value as the second operand: vmaxps/vminps return it when either is NaN, so a NaN
      // passes the clamp as in the other kernels.
      const __m256 vlo = _mm256_set1_ps(g.lo), vhi = _mm256_set1_ps(g.hi);
#pragma GCC unroll 6
      for (int i = 0; i < R; ++i)
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) acc[i][h] = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc[i][h]));
    }
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) store_row(y + i * g.ldc, g.y_half, g.cols, acc[i][0], acc[i][1]);
  }
}

using GemmBlockFn = void (*)(const GemmBlockArgs&);
// gemm_block<R> for R = 1..6 (index 0: none), for one layout of A.
template <GemmA kA = GemmA::kRowMajor>
inline constexpr GemmBlockFn kGemmBlocks[kGemmBlockRows + 1] = {nullptr,           gemm_block<1, kA>, gemm_block<2, kA>,
                                                                gemm_block<3, kA>, gemm_block<4, kA>, gemm_block<5, kA>,
                                                                gemm_block<6, kA>};

}  // namespace lw::cpu
