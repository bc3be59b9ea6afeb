#include "backends/cpu/kernels/depthwise_conv.h"

#include <immintrin.h>

#include <algorithm>

#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/vector_math.h"

namespace lw::cpu {

namespace {

constexpr int64_t kMaxTaps = 64;
constexpr int kPositions = 8;  // output positions per block: 8 accumulators per channel vector

// One output row's blocks: what they share.
struct DwRow {
  const float* x;         // the image's input, NHWC
  const float* w;         // the weights, Goihw16g
  float* y;               // the output row's first position
  const float* residual;  // the same position in the residual, or null
  const float *bias, *mul, *add;
  int64_t channels, in_w, kernel_w, stride_w, pad_left;
  int64_t c_lo, c_hi;    // the channels of this call: [c_lo, c_hi), c_lo a multiple of 16
  int64_t ih0;           // input row of kernel row 0
  int64_t kh_lo, kh_hi;  // the kernel rows inside the image
  int64_t taps;          // kernel_h * kernel_w
  float lo, hi;
  bool silu;  // then y * sigmoid(y)
};

// GCC 12 reports the masked intrinsics' own undefined operands as uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// 16 floats, or the first channels of a partial vector (mask m).
template <bool kFull>
__attribute__((target("avx512f"), always_inline)) inline __m512 load16(__mmask16 m, const float* p) {
  if constexpr (kFull) return _mm512_loadu_ps(p);
  return _mm512_maskz_loadu_ps(m, p);
}

// P output positions from column ow0, every channel vector. kEdge: some position's kernel
// column falls in the padding (those taps are skipped). kFull: every channel vector is whole
// (channels a multiple of 16: unmasked loads).
template <int P, bool kEdge, bool kFull>
__attribute__((target("avx512f"))) void dw_block(const DwRow& r, int64_t ow0) {
  const int64_t c = r.channels, step = r.stride_w * c, iw0 = ow0 * r.stride_w - r.pad_left;
  const __m512 vlo = _mm512_set1_ps(r.lo), vhi = _mm512_set1_ps(r.hi);
  for (int64_t c0 = r.c_lo; c0 < r.c_hi; c0 += 16) {
    const int64_t left = c - c0;
    const __mmask16 m = kFull || left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    const __m512 start = r.bias ? load16<kFull>(m, r.bias + c0) : _mm512_setzero_ps();
    __m512 acc[P];
#pragma GCC unroll 8
    for (int i = 0; i < P; ++i) acc[i] = start;
    const float* wg = r.w + c0 * r.taps;  // the group of 16 channels from c0 (c0 a multiple of 16)
    for (int64_t kh = r.kh_lo; kh < r.kh_hi; ++kh) {
      // Position 0's input at kernel column 0 of this kernel row.
      const float* xk = r.x + ((r.ih0 + kh) * r.in_w + iw0) * c + c0;
      const float* wk = wg + kh * r.kernel_w * 16;
      for (int64_t kw = 0; kw < r.kernel_w; ++kw, xk += c, wk += 16) {
        const __m512 wv = _mm512_loadu_ps(wk);
#pragma GCC unroll 8
        for (int i = 0; i < P; ++i) {
          if constexpr (kEdge) {
            const int64_t iw = iw0 + i * r.stride_w + kw;
            if (iw < 0 || iw >= r.in_w) continue;
          }
          acc[i] = _mm512_fmadd_ps(load16<kFull>(m, xk + i * step), wv, acc[i]);
        }
      }
    }
    if (r.mul) {
      const __m512 mv = load16<kFull>(m, r.mul + c0), av = load16<kFull>(m, r.add + c0);
#pragma GCC unroll 8
      for (int i = 0; i < P; ++i) acc[i] = _mm512_fmadd_ps(acc[i], mv, av);
    }
    float* y = r.y + ow0 * c + c0;
    const float* res = r.residual ? r.residual + ow0 * c + c0 : nullptr;
    // The value as the second operand: vmaxps/vminps return it when either is NaN, so a NaN
    // passes the clamp as in the other kernels.
#pragma GCC unroll 8
    for (int i = 0; i < P; ++i) {
      __m512 v = acc[i];
      if (res) v = _mm512_add_ps(v, load16<kFull>(m, res + i * c));
      v = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v));
      if (r.silu) v = _mm512_mul_ps(v, sigmoid(v));
      if constexpr (kFull) {
        _mm512_storeu_ps(y + i * c, v);
      } else {
        _mm512_mask_storeu_ps(y + i * c, m, v);
      }
    }
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

using DwBlockFn = void (*)(const DwRow&, int64_t);
template <bool kEdge, bool kFull>
constexpr DwBlockFn kBlocks[kPositions + 1] = {nullptr,
                                               dw_block<1, kEdge, kFull>,
                                               dw_block<2, kEdge, kFull>,
                                               dw_block<3, kEdge, kFull>,
                                               dw_block<4, kEdge, kFull>,
                                               dw_block<5, kEdge, kFull>,
                                               dw_block<6, kEdge, kFull>,
                                               dw_block<7, kEdge, kFull>,
                                               dw_block<8, kEdge, kFull>};

}  // namespace

bool depthwise_conv_supported() { return packed_gemm_supported(GemmPath::kAvx512x64); }

bool depthwise_conv_accepts(const DepthwiseConvShape& s) {
  return s.batch > 0 && s.channels > 0 && s.in_h > 0 && s.in_w > 0 && s.out_h > 0 && s.out_w > 0 && s.kernel_h > 0 &&
         s.kernel_w > 0 && s.kernel_h * s.kernel_w <= kMaxTaps && s.stride_h > 0 && s.stride_w > 0 && s.pad_top >= 0 &&
         s.pad_left >= 0;
}

DepthwiseInnerColumns depthwise_inner_columns(const DepthwiseConvShape& s) {
  DepthwiseInnerColumns inner;
  inner.begin = std::min(s.out_w, (s.pad_left + s.stride_w - 1) / s.stride_w);
  const int64_t end = s.in_w + s.pad_left - s.kernel_w >= 0 ? (s.in_w + s.pad_left - s.kernel_w) / s.stride_w + 1 : 0;
  inner.end = std::max(inner.begin, std::min(s.out_w, end));
  return inner;
}

dnnl::memory::desc depthwise_conv_weights_desc(const DepthwiseConvShape& s) {
  return dnnl::memory::desc({s.channels, 1, 1, s.kernel_h, s.kernel_w}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::Goihw16g);
}

void depthwise_conv(const float* x, const float* w, float* y, const DepthwiseConvShape& s, const GemmEpilogue& e,
                    int threads) {
  const int64_t c = s.channels, rows = s.batch * s.out_h;
  const bool full = c % 16 == 0;
  const DepthwiseInnerColumns inner_columns = depthwise_inner_columns(s);
  const int64_t inner_lo = inner_columns.begin, inner_hi = inner_columns.end;
  // Items: output rows, or (output row, 64 channels) where the rows are too few to share out
  // evenly (a 7 x 7 output on two threads: 4 rows and 3).
  const int64_t chunk = rows >= 8 * std::max(threads, 1) ? c : std::min<int64_t>(c, 64);
  const int64_t chunks = (c + chunk - 1) / chunk, items = rows * chunks;
  auto item = [&](int64_t it) {
    const int64_t r = it / chunks, n = r / s.out_h, oh = r % s.out_h;
    DwRow d;
    d.x = x + n * s.in_h * s.in_w * c;
    d.w = w;
    d.y = y + r * s.out_w * c;
    d.residual = e.residual ? e.residual + r * s.out_w * c : nullptr;
    d.bias = e.bias;
    d.mul = e.mul;
    d.add = e.add;
    d.channels = c;
    d.c_lo = it % chunks * chunk;
    d.c_hi = std::min(c, d.c_lo + chunk);
    d.in_w = s.in_w;
    d.kernel_w = s.kernel_w;
    d.stride_w = s.stride_w;
    d.pad_left = s.pad_left;
    d.ih0 = oh * s.stride_h - s.pad_top;
    d.kh_lo = std::max<int64_t>(0, -d.ih0);
    d.kh_hi = std::min<int64_t>(s.kernel_h, s.in_h - d.ih0);
    d.taps = s.kernel_h * s.kernel_w;
    d.lo = e.lo;
    d.hi = e.hi;
    d.silu = e.silu;
    // The edge columns with checks, the inner ones in blocks without.
    const DwBlockFn* edge = full ? kBlocks<true, true> : kBlocks<true, false>;
    const DwBlockFn* inner = full ? kBlocks<false, true> : kBlocks<false, false>;
    if (inner_lo > 0) edge[std::min<int64_t>(inner_lo, kPositions)](d, 0);
    for (int64_t ow = kPositions; ow < inner_lo; ++ow) edge[1](d, ow);
    int64_t ow = inner_lo;
    for (; ow + kPositions <= inner_hi; ow += kPositions) inner[kPositions](d, ow);
    if (ow < inner_hi) inner[inner_hi - ow](d, ow);
    for (ow = inner_hi; ow < s.out_w; ow += kPositions) edge[std::min<int64_t>(kPositions, s.out_w - ow)](d, ow);
  };
  const int want = static_cast<int>(std::min<int64_t>(std::max(threads, 1), items));
  run_shares(want, [&](int t, int parts) {
    for (int64_t it = items * t / parts, end = items * (t + 1) / parts; it < end; ++it) item(it);
  });
}

}  // namespace lw::cpu
