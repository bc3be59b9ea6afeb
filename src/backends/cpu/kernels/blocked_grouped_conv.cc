#include "backends/cpu/kernels/blocked_grouped_conv.h"

#include <immintrin.h>

#include <algorithm>
#include <utility>

#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/vector_math.h"

namespace lw::cpu {

namespace {

constexpr int kPositions = 6;  // output positions per block: 6 or 12 accumulators
// What a block reads for a kernel column in the padding (one 8-channel block).
alignas(32) const float kZeros[8] = {};

// One output row's blocks: what they share.
struct BlockedGroupedRow {
  const float* x;         // the image's input, nChw8c
  const float* w;         // the weights, Ohwi8o
  float* y;               // the image's output, nChw8c
  const float* residual;  // the image's residual, or null
  const float *bias, *mul, *add;
  int64_t group_channels, in_w, kernel_h, kernel_w, stride_w, pad_left;
  int64_t in_plane, out_plane;  // floats of one 8-channel block of the input, of the output
  int64_t out_row;              // the output row's first position within a block's plane, in floats
  int64_t ih0;                  // input row of kernel row 0
  int64_t kh_lo, kh_hi;         // the kernel rows inside the image
  int64_t v_lo, v_hi;           // the output vectors (8-channel blocks) of this call
  float lo, hi;
  bool silu;  // then y * sigmoid(y)
};

// Lane l of the result is input `I` of lane l's group, from the 8 input channels `x` of the
// output vector's block (groups of C = 2 or 4 lanes, within 128-bit lanes).
template <int C, int I>
LW_TARGET_AVX2_FMA inline __m256 group_input(__m256 x) {
  static_assert(C == 2 || C == 4, "groups of 2 or 4 lanes");
  if constexpr (C == 4) {
    return _mm256_permute_ps(x, I * 0x55);
  } else {
    return _mm256_permute_ps(x, I | I << 2 | (2 + I) << 4 | (2 + I) << 6);  // I and 2 + I, each twice
  }
}

// acc[i] += group_input<C, J>(xv[i]) * w[J] for every input J of the group from I on.
template <int P, int C, int I = 0>
LW_TARGET_AVX2_FMA __attribute__((always_inline)) inline void add_group_inputs(__m256 (&acc)[P], const __m256 (&xv)[P],
                                                                               const float* w) {
  const __m256 wv = _mm256_loadu_ps(w + I * 8);
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) acc[i] = _mm256_fmadd_ps(group_input<C, I>(xv[i]), wv, acc[i]);
  if constexpr (I + 1 < C) add_group_inputs<P, C, I + 1>(acc, xv, w);
}

// Where each of P positions from input column iw0 reads kernel column kw in the block plane whose
// kernel row starts at `xk`: its 8 channels, or zeros where that column is padding.
template <int P, bool kEdge>
LW_TARGET_AVX2_FMA __attribute__((always_inline)) inline void position_inputs(const BlockedGroupedRow& r,
                                                                              const float* xk, int64_t iw0, int64_t kw,
                                                                              const float* (&xp)[P]) {
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) {
    const int64_t iw = iw0 + i * r.stride_w + kw;
    xp[i] = !kEdge || (iw >= 0 && iw < r.in_w) ? xk + iw * 8 : kZeros;
  }
}

// The epilogue over the sums of P positions from column ow0 of output vector v, and the store.
template <int P>
LW_TARGET_AVX2_FMA __attribute__((always_inline)) inline void finish(const BlockedGroupedRow& r, __m256 (&acc)[P],
                                                                     int64_t ow0, int64_t v) {
  if (r.mul) {
    const __m256 mv = _mm256_loadu_ps(r.mul + v * 8), av = _mm256_loadu_ps(r.add + v * 8);
#pragma GCC unroll 8
    for (int i = 0; i < P; ++i) acc[i] = _mm256_fmadd_ps(acc[i], mv, av);
  }
  const __m256 vlo = _mm256_set1_ps(r.lo), vhi = _mm256_set1_ps(r.hi);
  const int64_t at = v * r.out_plane + r.out_row + ow0 * 8;
  float* y = r.y + at;
  const float* res = r.residual ? r.residual + at : nullptr;
  // The value as the second operand: vmaxps/vminps return it when either is NaN, so a NaN
  // passes the clamp as in the other kernels.
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) {
    __m256 out = acc[i];
    if (res) out = _mm256_add_ps(out, _mm256_loadu_ps(res + i * 8));
    out = _mm256_min_ps(vhi, _mm256_max_ps(vlo, out));
    if (r.silu) out = _mm256_mul_ps(out, sigmoid(out));
    _mm256_storeu_ps(y + i * 8, out);
  }
}

// Groups of C = 2 or 4 channels: P positions of output vector v, a permute per input.
template <int P, bool kEdge, int C>
LW_TARGET_AVX2_FMA void permuted_vector(const BlockedGroupedRow& r, int64_t ow0, int64_t v) {
  const int64_t iw0 = ow0 * r.stride_w - r.pad_left;
  constexpr int64_t kPerTap = C * 8;  // weight floats of one kernel position of one output vector
  const __m256 start = r.bias ? _mm256_loadu_ps(r.bias + v * 8) : _mm256_setzero_ps();
  __m256 acc[P];
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) acc[i] = start;
  const float* wv = r.w + v * r.kernel_h * r.kernel_w * kPerTap;
  const float* xv_plane = r.x + v * r.in_plane;  // the vector's own channels are its groups' inputs
  for (int64_t kh = r.kh_lo; kh < r.kh_hi; ++kh) {
    const float* xk = xv_plane + (r.ih0 + kh) * r.in_w * 8;
    const float* wk = wv + kh * r.kernel_w * kPerTap;
    for (int64_t kw = 0; kw < r.kernel_w; ++kw, wk += kPerTap) {
      const float* xp[P];
      position_inputs<P, kEdge>(r, xk, iw0, kw, xp);
      __m256 xv[P];
#pragma GCC unroll 8
      for (int i = 0; i < P; ++i) xv[i] = _mm256_loadu_ps(xp[i]);
      add_group_inputs<P, C>(acc, xv, wk);
    }
  }
  finish<P>(r, acc, ow0, v);
}

// Groups of a multiple of 8 channels: P positions of output vectors v .. v + V - 1 (V = 1 or 2),
// a broadcast per input; two vectors of one group (kShared) share their broadcasts.
template <int P, bool kEdge, int V, bool kShared>
LW_TARGET_AVX2_FMA void broadcast_vectors(const BlockedGroupedRow& r, int64_t ow0, int64_t v) {
  const int64_t c = r.group_channels, iw0 = ow0 * r.stride_w - r.pad_left;
  const int64_t per_tap = c * 8;
  __m256 acc[V][P];
#pragma GCC unroll 2
  for (int k = 0; k < V; ++k) {
    const __m256 start = r.bias ? _mm256_loadu_ps(r.bias + (v + k) * 8) : _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < P; ++i) acc[k][i] = start;
  }
  // The vectors' groups' first input blocks: the second's `second` blocks past the first's.
  const int64_t block0 = v * 8 / c * c / 8, second = V == 2 ? (v + 1) * 8 / c * c / 8 - block0 : 0;
  const float* wv = r.w + v * r.kernel_h * r.kernel_w * per_tap;
  const int64_t vector_stride = r.kernel_h * r.kernel_w * per_tap;  // the next vector's weights
  for (int64_t kh = r.kh_lo; kh < r.kh_hi; ++kh) {
    const float* wk = wv + kh * r.kernel_w * per_tap;
    for (int64_t kw = 0; kw < r.kernel_w; ++kw, wk += per_tap) {
      for (int64_t b = 0; b < c / 8; ++b) {
        const float* xk = r.x + (block0 + b) * r.in_plane + (r.ih0 + kh) * r.in_w * 8;
        const float *xp[P], *xq[P];
        position_inputs<P, kEdge>(r, xk, iw0, kw, xp);
        if constexpr (V == 2 && !kShared) position_inputs<P, kEdge>(r, xk + second * r.in_plane, iw0, kw, xq);
        const float* wb = wk + b * 64;
        for (int j = 0; j < 8; ++j) {
          const __m256 w0 = _mm256_loadu_ps(wb + j * 8);
          if constexpr (V == 1) {
#pragma GCC unroll 8
            for (int i = 0; i < P; ++i) acc[0][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(xp[i] + j), w0, acc[0][i]);
          } else {
            const __m256 w1 = _mm256_loadu_ps(wb + vector_stride + j * 8);
#pragma GCC unroll 8
            for (int i = 0; i < P; ++i) {
              const __m256 a = _mm256_broadcast_ss(xp[i] + j);
              acc[0][i] = _mm256_fmadd_ps(a, w0, acc[0][i]);
              if constexpr (kShared) {
                acc[1][i] = _mm256_fmadd_ps(a, w1, acc[1][i]);
              } else {
                acc[1][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(xq[i] + j), w1, acc[1][i]);
              }
            }
          }
        }
      }
    }
  }
#pragma GCC unroll 2
  for (int k = 0; k < V; ++k) finish<P>(r, acc[k], ow0, v + k);
}

// P output positions from column ow0, every output vector of the call. C: the group's channels
// when 2 or 4, 0 for a multiple of 8. kEdge: some position's kernel column may fall in the
// padding.
template <int P, bool kEdge, int C>
LW_TARGET_AVX2_FMA void grouped_block(const BlockedGroupedRow& r, int64_t ow0) {
  if constexpr (C != 0) {
    for (int64_t v = r.v_lo; v < r.v_hi; ++v) permuted_vector<P, kEdge, C>(r, ow0, v);
  } else {
    const int64_t c = r.group_channels;
    int64_t v = r.v_lo;
    for (; v + 2 <= r.v_hi; v += 2) {
      if (v * 8 / c == (v + 1) * 8 / c) {
        broadcast_vectors<P, kEdge, 2, true>(r, ow0, v);
      } else {
        broadcast_vectors<P, kEdge, 2, false>(r, ow0, v);
      }
    }
    if (v < r.v_hi) broadcast_vectors<P, kEdge, 1, false>(r, ow0, v);
  }
}

using BlockFn = void (*)(const BlockedGroupedRow&, int64_t);
template <bool kEdge, int C>
constexpr BlockFn kBlocks[kPositions + 1] = {nullptr,
                                             grouped_block<1, kEdge, C>,
                                             grouped_block<2, kEdge, C>,
                                             grouped_block<3, kEdge, C>,
                                             grouped_block<4, kEdge, C>,
                                             grouped_block<5, kEdge, C>,
                                             grouped_block<6, kEdge, C>};

// The blocks for groups of c channels: with edge checks, and without.
std::pair<const BlockFn*, const BlockFn*> blocks_for(int64_t c) {
  switch (c) {
    case 2:
      return {kBlocks<true, 2>, kBlocks<false, 2>};
    case 4:
      return {kBlocks<true, 4>, kBlocks<false, 4>};
    default:
      return {kBlocks<true, 0>, kBlocks<false, 0>};
  }
}

}  // namespace

bool blocked_grouped_conv_supported() { return avx2_fma_supported(); }

bool blocked_grouped_conv_accepts(const GroupedConvShape& s) {
  const int64_t c = s.group_channels;
  return grouped_conv_geometry_ok(s) && s.channels % 8 == 0 && (c == 2 || c == 4 || c % 8 == 0);
}

dnnl::memory::desc blocked_grouped_conv_weights_desc(const GroupedConvShape& s) {
  return dnnl::memory::desc({s.channels, s.group_channels, s.kernel_h, s.kernel_w}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::Ohwi8o);
}

void blocked_grouped_conv(const float* x, const float* w, float* y, const GroupedConvShape& s, const GemmEpilogue& e,
                          int threads) {
  const int64_t vectors = s.channels / 8, rows = s.batch * s.out_h;
  const int64_t in_plane = s.in_h * s.in_w * 8, out_plane = s.out_h * s.out_w * 8;
  const GroupedRowBlocks blocks(s, kPositions);
  // Not a structured binding: clang 14's lambdas cannot capture one.
  const std::pair<const BlockFn*, const BlockFn*> tables = blocks_for(s.group_channels);
  const BlockFn *edge = tables.first, *inner = tables.second;
  run_grouped_rows(vectors, rows, s.group_channels >= 16, threads, [&](int64_t r, int64_t v_lo, int64_t v_hi) {
    const int64_t n = r / s.out_h, oh = r % s.out_h;
    BlockedGroupedRow g;
    g.x = x + n * vectors * in_plane;
    g.w = w;
    g.y = y + n * vectors * out_plane;
    g.residual = e.residual ? e.residual + n * vectors * out_plane : nullptr;
    g.bias = e.bias;
    g.mul = e.mul;
    g.add = e.add;
    g.group_channels = s.group_channels;
    g.in_w = s.in_w;
    g.kernel_h = s.kernel_h;
    g.kernel_w = s.kernel_w;
    g.stride_w = s.stride_w;
    g.pad_left = s.pad_left;
    g.in_plane = in_plane;
    g.out_plane = out_plane;
    g.out_row = oh * s.out_w * 8;
    g.ih0 = oh * s.stride_h - s.pad_top;
    g.kh_lo = std::max<int64_t>(0, -g.ih0);
    g.kh_hi = std::min<int64_t>(s.kernel_h, s.in_h - g.ih0);
    g.v_lo = v_lo;
    g.v_hi = v_hi;
    g.lo = e.lo;
    g.hi = e.hi;
    g.silu = e.silu;
    blocks.each([&](int64_t ow0, int64_t width, bool at_edge) { (at_edge ? edge : inner)[width](g, ow0); });
  });
}

}  // namespace lw::cpu
