#include "backends/cpu/kernels/skinny_gemm.h"

#include <immintrin.h>

#include <omp.h>

#include <algorithm>

namespace lw::cpu {

namespace {

__attribute__((target("avx2,fma"))) inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// out[i] = dot(a row i, w row) for ROWS rows of A (stride k): one load of w per 8 columns feeds
// ROWS independent FMA chains.
template <int ROWS>
__attribute__((target("avx2,fma"))) void dot_rows(const float* a, const float* w, int64_t k, float* out) {
  __m256 acc[ROWS];
  for (int i = 0; i < ROWS; ++i) acc[i] = _mm256_setzero_ps();
  int64_t q = 0;
  for (; q + 8 <= k; q += 8) {
    const __m256 wv = _mm256_loadu_ps(w + q);
    for (int i = 0; i < ROWS; ++i) acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i * k + q), wv, acc[i]);
  }
  for (int i = 0; i < ROWS; ++i) {
    float s = horizontal_sum(acc[i]);
    for (int64_t t = q; t < k; ++t) s += a[i * k + t] * w[t];
    out[i] = s;
  }
}

void dot_block(int rows, const float* a, const float* w, int64_t k, float* out) {
  switch (rows) {
    case 1: return dot_rows<1>(a, w, k, out);
    case 2: return dot_rows<2>(a, w, k, out);
    case 3: return dot_rows<3>(a, w, k, out);
    case 4: return dot_rows<4>(a, w, k, out);
    case 5: return dot_rows<5>(a, w, k, out);
    case 6: return dot_rows<6>(a, w, k, out);
    case 7: return dot_rows<7>(a, w, k, out);
    default: return dot_rows<8>(a, w, k, out);
  }
}

}  // namespace

bool skinny_gemm_supported() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

void skinny_gemm(const float* a, const float* w, const float* bias, float* y, int64_t m, int64_t k, int64_t n,
                 float lo, float hi, int threads) {
  auto columns = [&](int64_t begin, int64_t end) {
    float out[8];
    for (int64_t j = begin; j < end; ++j) {
      const float* row = w + j * k;
      const float b = bias ? bias[j] : 0.0f;
      // Up to 8 rows of A per pass; a second pass finds the row of W in cache.
      for (int64_t i0 = 0; i0 < m; i0 += 8) {
        const int rows = static_cast<int>(std::min<int64_t>(8, m - i0));
        dot_block(rows, a + i0 * k, row, k, out);
        for (int i = 0; i < rows; ++i) y[(i0 + i) * n + j] = std::min(std::max(out[i] + b, lo), hi);
      }
    }
  };
  // Each thread streams one contiguous range of W's rows.
  if (threads > 1 && n >= 2 * threads) {
#pragma omp parallel num_threads(threads)
    {
      const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
      columns(n * t / team, n * (t + 1) / team);
    }
  } else {
    columns(0, n);
  }
}

}  // namespace lw::cpu
