#include "backends/cpu/kernels/grouped_conv.h"

#include <immintrin.h>

#include <algorithm>
#include <utility>

#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/depthwise_conv.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/vector_math.h"

namespace lw::cpu {

namespace {

constexpr int64_t kMaxTaps = 64;
constexpr int kPositions = 8;  // output positions per block: 8 accumulators per output vector
constexpr int64_t kMaxGroupChannels = 1024;
// What a block reads for a kernel column in the padding (a group's inputs at most).
alignas(64) const float kZeros[kMaxGroupChannels] = {};

// One output row's blocks: what they share.
struct GroupedRow {
  const float* x;         // the image's input, NHWC
  const float* w;         // the weights, Ohwi16o
  float* y;               // the output row's first position
  const float* residual;  // the same position in the residual, or null
  const float *bias, *mul, *add;
  int64_t channels, group_channels, in_w, kernel_h, kernel_w, stride_w, pad_left;
  int64_t v_lo, v_hi;    // the output vectors of this call (16 channels each)
  int64_t ih0;           // input row of kernel row 0
  int64_t kh_lo, kh_hi;  // the kernel rows inside the image
  float lo, hi;
  bool silu;  // then y * sigmoid(y)
};

// GCC 12 reports the permute and masked intrinsics' own undefined operands as uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Lane l of the result is input `I` of lane l's group, from the 16 input channels `x` at the
// output vector's channels (groups of C = 2, 4 or 8 lanes).
template <int C, int I>
LW_TARGET_AVX512 inline __m512 group_input(__m512 x) {
  static_assert(C == 2 || C == 4 || C == 8, "groups of 2, 4 or 8 lanes");
  if constexpr (C == 4) {
    return _mm512_permute_ps(x, I * 0x55);  // element I of each 128-bit lane, everywhere in it
  } else if constexpr (C == 2) {
    return _mm512_permute_ps(x, I | I << 2 | (2 + I) << 4 | (2 + I) << 6);  // I and 2 + I, each twice
  } else {
    const __m512i index =
        _mm512_set_epi32(8 + I, 8 + I, 8 + I, 8 + I, 8 + I, 8 + I, 8 + I, 8 + I, I, I, I, I, I, I, I, I);
    return _mm512_permutexvar_ps(index, x);
  }
}

// acc[i] += group_input<C, J>(xv[i]) * w[J] for every input J of the group from I on (a
// recursion rather than a loop: the permutes take J as an immediate).
template <int P, int C, int I = 0>
LW_TARGET_AVX512 __attribute__((always_inline)) inline void add_group_inputs(__m512 (&acc)[P], const __m512 (&xv)[P],
                                                                             const float* w) {
  const __m512 wv = _mm512_loadu_ps(w + I * 16);
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) acc[i] = _mm512_fmadd_ps(group_input<C, I>(xv[i]), wv, acc[i]);
  if constexpr (I + 1 < C) add_group_inputs<P, C, I + 1>(acc, xv, w);
}

// Where each of P positions from column ow0 (`iw0` its first input column) reads kernel column
// kw, `xk` being position 0's: its inputs, or zeros where that column is padding (the same
// multiplies either way, and no branch among them).
template <int P, bool kEdge>
LW_TARGET_AVX512 __attribute__((always_inline)) inline void position_inputs(const GroupedRow& r, const float* xk,
                                                                            int64_t iw0, int64_t kw,
                                                                            const float* (&xp)[P]) {
  const int64_t step = r.stride_w * r.channels;
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) {
    const int64_t iw = iw0 + i * r.stride_w + kw;
    xp[i] = !kEdge || (iw >= 0 && iw < r.in_w) ? xk + i * step : kZeros;
  }
}

// The epilogue over the sums of P positions from column ow0 of output vector v, and the store.
template <int P>
LW_TARGET_AVX512 __attribute__((always_inline)) inline void finish(const GroupedRow& r, __m512 (&acc)[P], int64_t ow0,
                                                                   int64_t v) {
  const int64_t ch = r.channels, c0 = v * 16;
  if (r.mul) {
    const __m512 mv = _mm512_loadu_ps(r.mul + c0), av = _mm512_loadu_ps(r.add + c0);
#pragma GCC unroll 8
    for (int i = 0; i < P; ++i) acc[i] = _mm512_fmadd_ps(acc[i], mv, av);
  }
  const __m512 vlo = _mm512_set1_ps(r.lo), vhi = _mm512_set1_ps(r.hi);
  float* y = r.y + ow0 * ch + c0;
  const float* res = r.residual ? r.residual + ow0 * ch + c0 : nullptr;
  // The value as the second operand: vmaxps/vminps return it when either is NaN, so a NaN
  // passes the clamp as in the other kernels.
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) {
    __m512 out = acc[i];
    if (res) out = _mm512_add_ps(out, _mm512_loadu_ps(res + i * ch));
    out = _mm512_min_ps(vhi, _mm512_max_ps(vlo, out));
    if (r.silu) out = _mm512_mul_ps(out, sigmoid(out));
    _mm512_storeu_ps(y + i * ch, out);
  }
}

// Groups of C = 2, 4 or 8 channels: P positions of output vector v, a permute per input.
template <int P, bool kEdge, int C>
LW_TARGET_AVX512 void permuted_vector(const GroupedRow& r, int64_t ow0, int64_t v) {
  const int64_t ch = r.channels, c0 = v * 16, iw0 = ow0 * r.stride_w - r.pad_left;
  constexpr int64_t kPerTap = C * 16;  // weight floats of one kernel position of one output vector
  const __m512 start = r.bias ? _mm512_loadu_ps(r.bias + c0) : _mm512_setzero_ps();
  __m512 acc[P];
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) acc[i] = start;
  const float* wv = r.w + v * r.kernel_h * r.kernel_w * kPerTap;
  for (int64_t kh = r.kh_lo; kh < r.kh_hi; ++kh) {
    // The vector's own channels are its groups' inputs.
    const float* xk = r.x + ((r.ih0 + kh) * r.in_w + iw0) * ch + c0;
    const float* wk = wv + kh * r.kernel_w * kPerTap;
    for (int64_t kw = 0; kw < r.kernel_w; ++kw, xk += ch, wk += kPerTap) {
      const float* xp[P];
      position_inputs<P, kEdge>(r, xk, iw0, kw, xp);
      __m512 xv[P];
#pragma GCC unroll 8
      for (int i = 0; i < P; ++i) xv[i] = _mm512_loadu_ps(xp[i]);
      add_group_inputs<P, C>(acc, xv, wk);
    }
  }
  finish<P>(r, acc, ow0, v);
}

// Groups of a multiple of 16 channels: P positions of output vectors v .. v + V - 1 (V = 1 or
// 2), a broadcast per input. Two vectors give 2P independent sums to hide the FMA latency behind
// (a 7 x 7 output's 7 are fewer than the 8 two FMA units keep in flight) and, in one group
// (kShared), share their broadcasts.
template <int P, bool kEdge, int V, bool kShared>
LW_TARGET_AVX512 void broadcast_vectors(const GroupedRow& r, int64_t ow0, int64_t v) {
  const int64_t ch = r.channels, c = r.group_channels, iw0 = ow0 * r.stride_w - r.pad_left;
  const int64_t per_tap = c * 16;
  __m512 acc[V][P];
#pragma GCC unroll 2
  for (int k = 0; k < V; ++k) {
    const __m512 start = r.bias ? _mm512_loadu_ps(r.bias + (v + k) * 16) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < P; ++i) acc[k][i] = start;
  }
  // The vectors' groups' first input channels: the second's `second` past the first's.
  const int64_t in0 = v * 16 / c * c, second = V == 2 ? (v + 1) * 16 / c * c - in0 : 0;
  const float* wv = r.w + v * r.kernel_h * r.kernel_w * per_tap;
  const int64_t vector_stride = r.kernel_h * r.kernel_w * per_tap;  // the next vector's weights
  for (int64_t kh = r.kh_lo; kh < r.kh_hi; ++kh) {
    const float* xk = r.x + ((r.ih0 + kh) * r.in_w + iw0) * ch + in0;
    const float* wk = wv + kh * r.kernel_w * per_tap;
    for (int64_t kw = 0; kw < r.kernel_w; ++kw, xk += ch, wk += per_tap) {
      const float* xp[P];
      position_inputs<P, kEdge>(r, xk, iw0, kw, xp);
      for (int64_t in = 0; in < c; ++in) {
        const __m512 w0 = _mm512_loadu_ps(wk + in * 16);
        if constexpr (V == 1) {
#pragma GCC unroll 8
          for (int i = 0; i < P; ++i) acc[0][i] = _mm512_fmadd_ps(_mm512_set1_ps(xp[i][in]), w0, acc[0][i]);
        } else {
          const __m512 w1 = _mm512_loadu_ps(wk + vector_stride + in * 16);
#pragma GCC unroll 8
          for (int i = 0; i < P; ++i) {
            const __m512 a = _mm512_set1_ps(xp[i][in]);
            acc[0][i] = _mm512_fmadd_ps(a, w0, acc[0][i]);
            acc[1][i] = _mm512_fmadd_ps(kShared ? a : _mm512_set1_ps(xp[i][second + in]), w1, acc[1][i]);
          }
        }
      }
    }
  }
#pragma GCC unroll 2
  for (int k = 0; k < V; ++k) finish<P>(r, acc[k], ow0, v + k);
}

// P output positions from column ow0, every output vector of the call. C: the group's channels
// when 2, 4 or 8, 0 for a multiple of 16. kEdge: some position's kernel column may fall in the
// padding.
template <int P, bool kEdge, int C>
LW_TARGET_AVX512 void grouped_block(const GroupedRow& r, int64_t ow0) {
  if constexpr (C != 0) {
    for (int64_t v = r.v_lo; v < r.v_hi; ++v) permuted_vector<P, kEdge, C>(r, ow0, v);
  } else {
    const int64_t c = r.group_channels;
    int64_t v = r.v_lo;
    for (; v + 2 <= r.v_hi; v += 2) {
      if (v * 16 / c == (v + 1) * 16 / c) {
        broadcast_vectors<P, kEdge, 2, true>(r, ow0, v);
      } else {
        broadcast_vectors<P, kEdge, 2, false>(r, ow0, v);
      }
    }
    if (v < r.v_hi) broadcast_vectors<P, kEdge, 1, false>(r, ow0, v);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

using GroupedBlockFn = void (*)(const GroupedRow&, int64_t);
template <bool kEdge, int C>
constexpr GroupedBlockFn kBlocks[kPositions + 1] = {nullptr,
                                                    grouped_block<1, kEdge, C>,
                                                    grouped_block<2, kEdge, C>,
                                                    grouped_block<3, kEdge, C>,
                                                    grouped_block<4, kEdge, C>,
                                                    grouped_block<5, kEdge, C>,
                                                    grouped_block<6, kEdge, C>,
                                                    grouped_block<7, kEdge, C>,
                                                    grouped_block<8, kEdge, C>};

// The blocks for groups of c channels: [0] with edge checks, [1] without.
std::pair<const GroupedBlockFn*, const GroupedBlockFn*> blocks_for(int64_t c) {
  switch (c) {
    case 2:
      return {kBlocks<true, 2>, kBlocks<false, 2>};
    case 4:
      return {kBlocks<true, 4>, kBlocks<false, 4>};
    case 8:
      return {kBlocks<true, 8>, kBlocks<false, 8>};
    default:
      return {kBlocks<true, 0>, kBlocks<false, 0>};
  }
}

}  // namespace

bool grouped_conv_supported() { return packed_gemm_supported(GemmPath::kAvx512x64); }

bool grouped_conv_geometry_ok(const GroupedConvShape& s) {
  const int64_t c = s.group_channels;
  return s.batch > 0 && s.channels > 0 && c > 0 && c <= kMaxGroupChannels && s.channels % c == 0 && s.in_h > 0 &&
         s.in_w > 0 && s.out_h > 0 && s.out_w > 0 && s.kernel_h > 0 && s.kernel_w > 0 &&
         s.kernel_h * s.kernel_w <= kMaxTaps && s.stride_h > 0 && s.stride_w > 0 && s.pad_top >= 0 && s.pad_left >= 0;
}

bool grouped_conv_accepts(const GroupedConvShape& s) {
  const int64_t c = s.group_channels;
  return grouped_conv_geometry_ok(s) && s.channels % 16 == 0 && (c == 2 || c == 4 || c == 8 || c % 16 == 0);
}

dnnl::memory::desc grouped_conv_weights_desc(const GroupedConvShape& s) {
  return dnnl::memory::desc({s.channels, s.group_channels, s.kernel_h, s.kernel_w}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::Ohwi16o);
}

void grouped_conv(const float* x, const float* w, float* y, const GroupedConvShape& s, const GemmEpilogue& e,
                  int threads) {
  const int64_t ch = s.channels, vectors = ch / 16, rows = s.batch * s.out_h;
  const GroupedRowBlocks blocks(s, kPositions);
  // Not a structured binding: clang 14's lambdas cannot capture one.
  const std::pair<const GroupedBlockFn*, const GroupedBlockFn*> tables = blocks_for(s.group_channels);
  const GroupedBlockFn *edge = tables.first, *inner = tables.second;
  run_grouped_rows(vectors, rows, s.group_channels >= 16, threads, [&](int64_t r, int64_t v_lo, int64_t v_hi) {
    const int64_t n = r / s.out_h, oh = r % s.out_h;
    GroupedRow g;
    g.x = x + n * s.in_h * s.in_w * ch;
    g.w = w;
    g.y = y + r * s.out_w * ch;
    g.residual = e.residual ? e.residual + r * s.out_w * ch : nullptr;
    g.bias = e.bias;
    g.mul = e.mul;
    g.add = e.add;
    g.channels = ch;
    g.group_channels = s.group_channels;
    g.in_w = s.in_w;
    g.kernel_h = s.kernel_h;
    g.kernel_w = s.kernel_w;
    g.stride_w = s.stride_w;
    g.pad_left = s.pad_left;
    g.v_lo = v_lo;
    g.v_hi = v_hi;
    g.ih0 = oh * s.stride_h - s.pad_top;
    g.kh_lo = std::max<int64_t>(0, -g.ih0);
    g.kh_hi = std::min<int64_t>(s.kernel_h, s.in_h - g.ih0);
    g.lo = e.lo;
    g.hi = e.hi;
    g.silu = e.silu;
    blocks.each([&](int64_t ow0, int64_t width, bool at_edge) { (at_edge ? edge : inner)[width](g, ow0); });
  });
}

GroupedRowBlocks::GroupedRowBlocks(const GroupedConvShape& s, int64_t positions)
    : out_w_(s.out_w), blocks_((s.out_w + positions - 1) / positions) {
  // The output columns whose kernel columns all lie in the input: the same bounds as a
  // depthwise convolution of this geometry.
  DepthwiseConvShape geometry;
  geometry.in_w = s.in_w;
  geometry.out_w = s.out_w;
  geometry.kernel_w = s.kernel_w;
  geometry.stride_w = s.stride_w;
  geometry.pad_left = s.pad_left;
  const DepthwiseInnerColumns inner = depthwise_inner_columns(geometry);
  inner_lo_ = inner.begin;
  inner_hi_ = inner.end;
}

}  // namespace lw::cpu
