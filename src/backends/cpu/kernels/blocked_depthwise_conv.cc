#include "backends/cpu/kernels/blocked_depthwise_conv.h"

#include <immintrin.h>

#include <algorithm>

#include "backends/cpu/kernels/blocked_conv.h"
#include "backends/cpu/kernels/kernel_util.h"

namespace lw::cpu {

namespace {

constexpr int64_t kBlock = 8;  // channels per activation block and weight group
constexpr int kPositions = 8;  // output positions per register block

// One output row of one channel block: what its register blocks share.
struct Dw8Row {
  const float* x;                 // the input plane of the block (in_h x in_w vectors of 8)
  const float* w;                 // the block's weights (taps vectors of 8)
  float* y;                       // the output row's first vector
  const float* residual;          // the same vector of the residual, or null
  const float *bias, *mul, *add;  // the block's 8 channels of each, or null
  int64_t in_w, kernel_w, stride_w, pad_left;
  int64_t ih0;           // input row of kernel row 0
  int64_t kh_lo, kh_hi;  // the kernel rows inside the input
  float lo, hi;
};

// The epilogue of P output positions from column ow0 (the BatchNorm's mv and av where r.mul is
// set), and their store.
template <int P>
__attribute__((target("avx2,fma"), always_inline)) inline void dw8_store(const Dw8Row& r, int64_t ow0, __m256 (&acc)[P],
                                                                         __m256 mv, __m256 av, __m256 vlo, __m256 vhi) {
  if (r.mul) {
#pragma GCC unroll 8
    for (int i = 0; i < P; ++i) acc[i] = _mm256_fmadd_ps(acc[i], mv, av);
  }
  float* y = r.y + ow0 * kBlock;
  const float* res = r.residual ? r.residual + ow0 * kBlock : nullptr;
  // The value as the second operand: vmaxps/vminps return it when either is NaN, so a NaN
  // passes the clamp as in the other kernels.
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) {
    __m256 v = acc[i];
    if (res) v = _mm256_add_ps(v, _mm256_loadu_ps(res + i * kBlock));
    _mm256_storeu_ps(y + i * kBlock, _mm256_min_ps(vhi, _mm256_max_ps(vlo, v)));
  }
}

// P output positions from column ow0. kEdge: some position's kernel column falls in the
// padding (those taps are skipped).
template <int P, bool kEdge>
__attribute__((target("avx2,fma"), always_inline)) inline void dw8_block(const Dw8Row& r, int64_t ow0, __m256 start,
                                                                         __m256 mv, __m256 av, __m256 vlo, __m256 vhi) {
  const int64_t iw0 = ow0 * r.stride_w - r.pad_left;
  __m256 acc[P];
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) acc[i] = start;
  for (int64_t kh = r.kh_lo; kh < r.kh_hi; ++kh) {
    // The input row's first vector's index; a position's column is added before addressing
    // (with kEdge it may lie outside the row, and then is not read).
    const int64_t row = (r.ih0 + kh) * r.in_w;
    const float* wk = r.w + kh * r.kernel_w * kBlock;
    for (int64_t kw = 0; kw < r.kernel_w; ++kw, wk += kBlock) {
      const __m256 wv = _mm256_loadu_ps(wk);
#pragma GCC unroll 8
      for (int i = 0; i < P; ++i) {
        const int64_t iw = iw0 + i * r.stride_w + kw;
        if constexpr (kEdge) {
          if (iw < 0 || iw >= r.in_w) continue;
        }
        acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(r.x + (row + iw) * kBlock), wv, acc[i]);
      }
    }
  }
  dw8_store<P>(r, ow0, acc, mv, av, vlo, vhi);
}

// kPositions output positions from column ow0, every kernel column inside the input, for a
// kernel K columns wide at stride S: each input vector of a kernel row is loaded once and
// multiplied by every weight vector that meets it (the row's K of them in registers), where
// the block above loads it once per kernel column (MobileNet v2's 3 x 3 layers, 3 x 3 at stride
// 1: 10 loads for 24 FMAs rather than 24).
template <int K, int S>
__attribute__((target("avx2,fma"), always_inline)) inline void dw8_inner(const Dw8Row& r, int64_t ow0, __m256 start,
                                                                         __m256 mv, __m256 av, __m256 vlo, __m256 vhi) {
  constexpr int P = kPositions, kInputs = (P - 1) * S + K;
  const int64_t iw0 = ow0 * S - r.pad_left;
  __m256 acc[P];
#pragma GCC unroll 8
  for (int i = 0; i < P; ++i) acc[i] = start;
  for (int64_t kh = r.kh_lo; kh < r.kh_hi; ++kh) {
    const float* xr = r.x + ((r.ih0 + kh) * r.in_w + iw0) * kBlock;
    __m256 wv[K];
#pragma GCC unroll 8
    for (int kw = 0; kw < K; ++kw) wv[kw] = _mm256_loadu_ps(r.w + (kh * K + kw) * kBlock);
#pragma GCC unroll 32
    for (int j = 0; j < kInputs; ++j) {
      const __m256 xv = _mm256_loadu_ps(xr + j * kBlock);
#pragma GCC unroll 8
      for (int kw = 0; kw < K; ++kw) {
        const int d = j - kw;  // position d / S meets this input at kernel column kw
        if (d >= 0 && d % S == 0 && d / S < P) acc[d / S] = _mm256_fmadd_ps(xv, wv[kw], acc[d / S]);
      }
    }
  }
  dw8_store<P>(r, ow0, acc, mv, av, vlo, vhi);
}

// The output row: columns [0, inner_lo) and [inner_hi, out_w) one at a time with their
// padding's taps skipped, the ones between (every kernel column inside the input) in blocks of
// 8 (dw8_inner where K is the kernel's width and S its stride; K 0: any), 4 and 1 without
// checks. One call a row: a call per block took MobileNet v2's 14 x 14 and 7 x 7 layers half
// again oneDNN's time.
template <int K, int S>
__attribute__((target("avx2,fma"))) void dw8_row(const Dw8Row& r, int64_t inner_lo, int64_t inner_hi, int64_t out_w) {
  const __m256 start = r.bias ? _mm256_loadu_ps(r.bias) : _mm256_setzero_ps();
  const __m256 mv = r.mul ? _mm256_loadu_ps(r.mul) : _mm256_setzero_ps();
  const __m256 av = r.mul ? _mm256_loadu_ps(r.add) : _mm256_setzero_ps();
  const __m256 vlo = _mm256_set1_ps(r.lo), vhi = _mm256_set1_ps(r.hi);
  // A row of at most 8 positions: one block with checks (MobileNet v2's 7 x 7 rows in pieces of
  // 1, 4, 1 and 1 took 1.3-1.4x oneDNN's time).
  switch (out_w) {
    case 8:
      return dw8_block<8, true>(r, 0, start, mv, av, vlo, vhi);
    case 7:
      return dw8_block<7, true>(r, 0, start, mv, av, vlo, vhi);
    case 6:
      return dw8_block<6, true>(r, 0, start, mv, av, vlo, vhi);
    case 5:
      return dw8_block<5, true>(r, 0, start, mv, av, vlo, vhi);
    default:
      break;
  }
  int64_t ow = 0;
  for (; ow < inner_lo; ++ow) dw8_block<1, true>(r, ow, start, mv, av, vlo, vhi);
  for (; ow + kPositions <= inner_hi; ow += kPositions) {
    if constexpr (K > 0) {
      dw8_inner<K, S>(r, ow, start, mv, av, vlo, vhi);
    } else {
      dw8_block<kPositions, false>(r, ow, start, mv, av, vlo, vhi);
    }
  }
  for (; ow + 4 <= inner_hi; ow += 4) dw8_block<4, false>(r, ow, start, mv, av, vlo, vhi);
  for (; ow < inner_hi; ++ow) dw8_block<1, false>(r, ow, start, mv, av, vlo, vhi);
  for (; ow < out_w; ++ow) dw8_block<1, true>(r, ow, start, mv, av, vlo, vhi);
}

}  // namespace

bool blocked_depthwise_conv_supported() { return blocked_conv_supported(); }  // AVX2 and FMA

bool blocked_depthwise_conv_accepts(const DepthwiseConvShape& s) {
  return depthwise_conv_accepts(s) && s.channels % kBlock == 0;
}

dnnl::memory::desc blocked_depthwise_conv_weights_desc(const DepthwiseConvShape& s) {
  return dnnl::memory::desc({s.channels, 1, 1, s.kernel_h, s.kernel_w}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::Goihw8g);
}

void blocked_depthwise_conv(const float* x, const float* w, float* y, const DepthwiseConvShape& s,
                            const GemmEpilogue& e, int threads) {
  const int64_t blocks = s.channels / kBlock, taps = s.kernel_h * s.kernel_w;
  const int64_t in_plane = s.in_h * s.in_w * kBlock, out_plane = s.out_h * s.out_w * kBlock;
  const DepthwiseInnerColumns inner = depthwise_inner_columns(s);
  using RowFn = void (*)(const Dw8Row&, int64_t, int64_t, int64_t);
  RowFn row_fn = dw8_row<0, 1>;
  if (s.kernel_w == 3 && s.stride_w == 1) row_fn = dw8_row<3, 1>;
  if (s.kernel_w == 3 && s.stride_w == 2) row_fn = dw8_row<3, 2>;
  if (s.kernel_w == 5 && s.stride_w == 1) row_fn = dw8_row<5, 1>;
  if (s.kernel_w == 5 && s.stride_w == 2) row_fn = dw8_row<5, 2>;
  // Items: one output row of one channel block, (image, block, row) in memory order.
  const int64_t items = s.batch * blocks * s.out_h;
  auto item = [&](int64_t it) {
    const int64_t plane = it / s.out_h, oh = it % s.out_h, cb = plane % blocks;
    Dw8Row d;
    d.x = x + plane * in_plane;
    d.w = w + cb * taps * kBlock;
    d.y = y + plane * out_plane + oh * s.out_w * kBlock;
    d.residual = e.residual ? e.residual + plane * out_plane + oh * s.out_w * kBlock : nullptr;
    d.bias = e.bias ? e.bias + cb * kBlock : nullptr;
    d.mul = e.mul ? e.mul + cb * kBlock : nullptr;
    d.add = e.add ? e.add + cb * kBlock : nullptr;
    d.in_w = s.in_w;
    d.kernel_w = s.kernel_w;
    d.stride_w = s.stride_w;
    d.pad_left = s.pad_left;
    d.ih0 = oh * s.stride_h - s.pad_top;
    d.kh_lo = std::max<int64_t>(0, -d.ih0);
    d.kh_hi = std::max(d.kh_lo, std::min<int64_t>(s.kernel_h, s.in_h - d.ih0));
    d.lo = e.lo;
    d.hi = e.hi;
    row_fn(d, inner.begin, inner.end, s.out_w);
  };
  const int want = static_cast<int>(std::min<int64_t>(std::max(threads, 1), items));
  run_shares(want, [&](int t, int parts) {
    for (int64_t it = items * t / parts, end = items * (t + 1) / parts; it < end; ++it) item(it);
  });
}

}  // namespace lw::cpu
