// Transcendental functions on 8 float lanes in AVX2 registers, for kernels that apply them to
// whole tensors (std::exp per element costs 5-10x more). Header-only; callers must run them
// inside functions compiled for AVX2 and FMA (LW_TARGET_AVX2_FMA) on CPUs that have them.
#pragma once

#include <immintrin.h>

#define LW_TARGET_AVX2_FMA __attribute__((target("avx2,fma")))

namespace lw::cpu {

// e^x on 8 lanes for x <= 0 (scores minus their row's maximum), to within 2 ulp: x = n ln2 + r
// with |r| <= ln2 / 2, e^r from Cephes' degree-5 polynomial, 2^n put into the exponent bits.
// Lanes below -87.34 (where e^x < FLT_MIN) give 0; NaN stays NaN.
LW_TARGET_AVX2_FMA inline __m256 exp_nonpositive(__m256 x) {
  const __m256 lowest = _mm256_set1_ps(-87.336544f);
  const __m256 underflow = _mm256_cmp_ps(x, lowest, _CMP_LT_OQ);
  x = _mm256_max_ps(lowest, x);  // NaN in x stays (max returns its second operand then)
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 e = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(e, _mm256_castsi256_ps(bits)));
}

// 1 / (1 + e^-x) on 8 lanes, to within a few ulp: with e = e^-|x| (which cannot overflow) and
// s = 1 / (1 + e), s where x >= 0 and e * s (= e^x / (1 + e^x)) where x < 0. Below -87.3 it
// gives 0 where the exact value is a denormal; NaN stays NaN.
LW_TARGET_AVX2_FMA inline __m256 sigmoid(__m256 x) {
  const __m256 e = exp_nonpositive(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));  // e^-|x|
  const __m256 s = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  return _mm256_blendv_ps(s, _mm256_mul_ps(e, s), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
}

}  // namespace lw::cpu
