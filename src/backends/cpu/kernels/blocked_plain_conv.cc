#include "backends/cpu/kernels/blocked_plain_conv.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "backends/cpu/kernels/gemm_block.h"

namespace lw::cpu {

namespace {

constexpr int64_t kMaxKernelRows = 64;  // their offsets live on the stack: no allocation per run
constexpr int64_t kBlock = 8;           // channels per output block
constexpr int64_t kPanel = kGemmBlockCols;

int64_t padded_w(const BlockedPlainConvShape& s) { return s.in_w + s.pad_left + s.pad_right; }

}  // namespace

bool blocked_plain_conv_supported() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
  }();
  return has;
}

bool blocked_plain_conv_accepts(const BlockedPlainConvShape& s) {
  if (s.batch <= 0 || s.in_channels <= 0 || s.in_h <= 0 || s.in_w <= 0 || s.out_channels <= 0 || s.out_h <= 0 ||
      s.out_w <= 0 || s.kernel_h <= 0 || s.kernel_w <= 0 || s.stride_h <= 0 || s.stride_w <= 0 || s.pad_top < 0 ||
      s.pad_left < 0 || s.pad_bottom < 0 || s.pad_right < 0 || s.out_channels % kBlock != 0 ||
      s.kernel_h > kMaxKernelRows)
    return false;
  const int64_t hp = s.in_h + s.pad_top + s.pad_bottom, wp = padded_w(s);
  return hp >= s.kernel_h && wp >= s.kernel_w && (hp - s.kernel_h) / s.stride_h + 1 == s.out_h &&
         (wp - s.kernel_w) / s.stride_w + 1 == s.out_w;
}

dnnl::memory::desc blocked_plain_conv_weights_desc(const BlockedPlainConvShape& s) {
  return dnnl::memory::desc({s.out_channels, s.in_channels, s.kernel_h, s.kernel_w}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::Acdb16a);
}

size_t blocked_plain_conv_scratch_bytes(const BlockedPlainConvShape& s) {
  return static_cast<size_t>(s.batch * s.in_h * padded_w(s) * s.in_channels) * sizeof(float);
}

void blocked_plain_conv(const float* x, const float* w, float* y, const BlockedPlainConvShape& s, const GemmEpilogue& e,
                        void* scratch, int threads) {
  const int64_t c = s.in_channels, oc = s.out_channels, wp = padded_w(s), panels = (oc + kPanel - 1) / kPanel;
  const int64_t depth = s.kernel_w * c, out_plane = s.out_h * s.out_w * kBlock, out_rows = s.batch * s.out_h;
  const int64_t image_out = oc / kBlock * out_plane;
  auto* padded = static_cast<float*>(scratch);
  int64_t offsets[kMaxKernelRows];  // of kernel row kh from kernel row 0, in the padded copy
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) offsets[kh] = kh * wp * c;
  const int64_t full = s.out_w / kGemmBlockRows;
  const int tail = static_cast<int>(s.out_w % kGemmBlockRows);

  // Output row r (image r / out_h) against every panel.
  auto output_row = [&](int64_t r) {
    const int64_t n = r / s.out_h, oh = r % s.out_h, ih0 = oh * s.stride_h - s.pad_top;
    const int64_t kh0 = std::max<int64_t>(0, -ih0), kh1 = std::max(kh0, std::min(s.kernel_h, s.in_h - ih0));
    // Offsets from kernel row kh0, so that A stays within the copy.
    int64_t shifted[kMaxKernelRows];
    for (int64_t kh = kh0; kh < kh1; ++kh) shifted[kh] = offsets[kh] - offsets[kh0];
    const float* a_row = kh1 > kh0 ? padded + ((n * s.in_h + ih0 + kh0) * wp) * c : padded;  // no taps: unread
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t c0 = p * kPanel;
      const int64_t y_offset = n * image_out + (c0 / kBlock) * out_plane + oh * s.out_w * kBlock;
      GemmBlockArgs g;
      g.lda = s.stride_w * c;
      g.b = w + (p * s.kernel_h + kh0) * depth * kPanel;
      g.b_step = kPanel;
      g.b_half = 8;
      g.depth = depth;
      g.taps = static_cast<int>(kh1 - kh0);
      g.tap_offsets = shifted + kh0;
      g.ldc = kBlock;
      g.y_half = out_plane;
      g.cols = static_cast<int>(std::min(kPanel, oc - c0));
      g.bias = e.bias ? e.bias + c0 : nullptr;
      g.mul = e.mul ? e.mul + c0 : nullptr;
      g.add = e.add ? e.add + c0 : nullptr;
      g.lo = e.lo;
      g.hi = e.hi;
      auto run = [&](int64_t ow, int rows, int64_t count) {
        g.a = a_row + ow * s.stride_w * c;
        g.y = y + y_offset + ow * kBlock;
        g.residual = e.residual ? e.residual + y_offset + ow * kBlock : nullptr;
        g.count = count;
        g.a_next = rows * s.stride_w * c;
        g.y_next = rows * kBlock;
        kGemmBlocks<GemmA::kRowMajor>[rows](g);
      };
      if (full > 0) run(0, kGemmBlockRows, full);
      if (tail > 0) run(full * kGemmBlockRows, tail, 1);
    }
  };
  const int want = static_cast<int>(std::min<int64_t>(std::max(threads, 1), out_rows));
  auto share = [&](int t, int parts) {
    // The padded channels-last copy, rows of it shared out, then the output rows.
    const int64_t all = s.batch * s.in_h;
    for (int64_t row = all * t / parts, end = all * (t + 1) / parts; row < end; ++row) {
      float* dst = padded + row * wp * c;
      std::memset(dst, 0, static_cast<size_t>(s.pad_left * c) * sizeof(float));
      std::memset(dst + (s.pad_left + s.in_w) * c, 0, static_cast<size_t>(s.pad_right * c) * sizeof(float));
      float* inner = dst + s.pad_left * c;
      const int64_t n = row / s.in_h, ih = row % s.in_h;
      for (int64_t ch = 0; ch < c; ++ch) {
        const float* plane_row = x + ((n * c + ch) * s.in_h + ih) * s.in_w;
        for (int64_t iw = 0; iw < s.in_w; ++iw) inner[iw * c + ch] = plane_row[iw];
      }
    }
    if (parts > 1) {
#pragma omp barrier
    }
    for (int64_t r = out_rows * t / parts, end = out_rows * (t + 1) / parts; r < end; ++r) output_row(r);
  };
  if (want <= 1) {
    share(0, 1);
    return;
  }
#pragma omp parallel num_threads(want)
  share(omp_get_thread_num(), omp_get_num_threads());
}

}  // namespace lw::cpu
