// Transcendental functions on 8 float lanes in AVX2 registers (and 16 in AVX-512 ones), for
// kernels that apply them to whole tensors (std::exp per element costs 5-10x more).
// Header-only; callers must run them inside functions compiled for AVX2 and FMA
// (LW_TARGET_AVX2_FMA), or AVX-512F (LW_TARGET_AVX512), on CPUs that have them.
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

// The same two on 16 lanes in AVX-512 registers (functions compiled for AVX-512F,
// LW_TARGET_AVX512). The sigmoid's division is a reciprocal estimate (14 bits) refined by one
// Newton step (about 28 bits before rounding to float): vdivps's throughput bounded
// EfficientNet-B0's SiLUs.
#define LW_TARGET_AVX512 __attribute__((target("avx512f")))
// GCC 12 reports the intrinsics' own undefined operands as uninitialized (as in blocked_pack.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

LW_TARGET_AVX512 inline __m512 exp_nonpositive(__m512 x) {
  const __m512 lowest = _mm512_set1_ps(-87.336544f);
  const __mmask16 underflow = _mm512_cmp_ps_mask(x, lowest, _CMP_LT_OQ);
  x = _mm512_max_ps(lowest, x);  // NaN in x stays (max returns its second operand then)
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 e = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_maskz_mul_ps(static_cast<__mmask16>(~underflow), e, _mm512_castsi512_ps(bits));
}

LW_TARGET_AVX512 inline __m512 sigmoid(__m512 x) {
  const __m512 e = exp_nonpositive(
      _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32(static_cast<int>(0x80000000u)))));
  const __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), e);  // in [1, 2]
  __m512 s = _mm512_rcp14_ps(d);
  s = _mm512_mul_ps(s, _mm512_fnmadd_ps(d, s, _mm512_set1_ps(2.0f)));  // s (2 - d s)
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(s, negative, e, s);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace lw::cpu
