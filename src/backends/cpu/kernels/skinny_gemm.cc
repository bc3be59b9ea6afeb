#include "backends/cpu/kernels/skinny_gemm.h"

#include <immintrin.h>

#include <algorithm>

#include "backends/cpu/kernels/kernel_util.h"

namespace lw::cpu {

namespace {

// W is read from memory once, 4 rows at a time, in passes of 512 columns of K: those 8 KB of W
// and the same columns of every row of A (16 KB for the MLP benchmark's 8 rows) stay in L1
// while each pair of A rows runs over them, a load of A feeding 4 FMA chains and a load of W 2;
// the partial sums wait on the stack between passes. The first version, a whole
// row of W against up to 8 rows of A at once, read those rows of A from L2 for every row of W
// and ran the 8 x 4096 x 4096 layer at 5.7 GB/s of W on one thread, 9.8 on two (8.3 and 13.7
// now; memory reads 10.5 and 19.4 GB/s).
constexpr int64_t kChunk = 512;
constexpr int kWRows = 4;

__attribute__((target("avx2,fma"))) inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// acc[i][j] += a row i . w row j over [q0, q1) (q1 - q0 a multiple of 8), for AR rows of A
// (stride k) and WR rows of W (stride k); acc holds 8-lane partial sums between calls.
template <int AR, int WR>
__attribute__((target("avx2,fma"))) void chunk(const float* a, const float* w, int64_t k, int64_t q0, int64_t q1,
                                               __m256 (&acc)[AR][WR]) {
  __m256 r[AR][WR];
#pragma GCC unroll 2
  for (int i = 0; i < AR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < WR; ++j) r[i][j] = acc[i][j];
  for (int64_t q = q0; q < q1; q += 8) {
    __m256 wv[WR];
#pragma GCC unroll 4
    for (int j = 0; j < WR; ++j) wv[j] = _mm256_loadu_ps(w + j * k + q);
#pragma GCC unroll 2
    for (int i = 0; i < AR; ++i) {
      const __m256 av = _mm256_loadu_ps(a + i * k + q);
#pragma GCC unroll 4
      for (int j = 0; j < WR; ++j) r[i][j] = _mm256_fmadd_ps(av, wv[j], r[i][j]);
    }
  }
#pragma GCC unroll 2
  for (int i = 0; i < AR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < WR; ++j) acc[i][j] = r[i][j];
}

// y[i][j0 + j] for every row i < m of A and the WR rows of W from j0.
template <int WR>
__attribute__((target("avx2,fma"))) void w_block(const float* a, const float* w, const float* bias, float* y,
                                                 int64_t m, int64_t k, int64_t n, int64_t j0, float lo, float hi) {
  constexpr int kMaxPairs = (kSkinnyGemmMaxRows + 1) / 2;
  __m256 acc[kMaxPairs][2][WR];
  const int64_t pairs = (m + 1) / 2, k8 = k / 8 * 8;
  for (int64_t p = 0; p < pairs; ++p)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < WR; ++j) acc[p][i][j] = _mm256_setzero_ps();
  const float* wj = w + j0 * k;
  for (int64_t q0 = 0; q0 < k8; q0 += kChunk) {
    const int64_t q1 = std::min(k8, q0 + kChunk);
    for (int64_t p = 0; p < pairs; ++p) {
      const float* ap = a + 2 * p * k;
      if (2 * p + 1 < m) {
        chunk<2, WR>(ap, wj, k, q0, q1, acc[p]);
      } else {  // m odd: the last row alone
        __m256 one[1][WR];
        for (int j = 0; j < WR; ++j) one[0][j] = acc[p][0][j];
        chunk<1, WR>(ap, wj, k, q0, q1, one);
        for (int j = 0; j < WR; ++j) acc[p][0][j] = one[0][j];
      }
    }
  }
  for (int64_t i = 0; i < m; ++i)
    for (int j = 0; j < WR; ++j) {
      float s = horizontal_sum(acc[i / 2][i % 2][j]);
      const float* ar = a + i * k;
      const float* wr = wj + j * k;
      for (int64_t q = k8; q < k; ++q) s += ar[q] * wr[q];
      const float b = bias ? bias[j0 + j] : 0.0f;
      y[i * n + j0 + j] = std::min(std::max(s + b, lo), hi);
    }
}

}  // namespace

bool skinny_gemm_supported() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

void skinny_gemm(const float* a, const float* w, const float* bias, float* y, int64_t m, int64_t k, int64_t n,
                 float lo, float hi, int threads) {
  // Each thread streams one contiguous range of W's rows, 4 at a time.
  const int64_t blocks = (n + kWRows - 1) / kWRows;
  auto rows = [&](int64_t b0, int64_t b1) {
    const int64_t end = std::min(n, b1 * kWRows);
    int64_t j = b0 * kWRows;
    for (; j + kWRows <= end; j += kWRows) w_block<kWRows>(a, w, bias, y, m, k, n, j, lo, hi);
    for (; j < end; ++j) w_block<1>(a, w, bias, y, m, k, n, j, lo, hi);
  };
  parallel_ranges(blocks, blocks >= 2 * threads ? threads : 1, rows);
}

}  // namespace lw::cpu
