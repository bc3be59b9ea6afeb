#include "backends/cpu/kernels/blocked_plain_conv.h"

#include <algorithm>

#include "backends/cpu/kernels/blocked_conv.h"
#include "backends/cpu/kernels/gemm_block.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/padded_rows.h"

namespace lw::cpu {

namespace {

constexpr int64_t kMaxKernelRows = 64;  // their offsets live on the stack: no allocation per run
constexpr int64_t kBlock = 8;           // channels per output block
constexpr int64_t kPanel = kGemmBlockCols;

int64_t padded_w(const PlainConvShape& s) { return s.in_w + s.pad_left + s.pad_right; }

}  // namespace

bool blocked_plain_conv_supported() { return blocked_conv_supported(); }  // AVX2 and FMA

bool blocked_plain_conv_accepts(const PlainConvShape& s) {
  if (s.batch <= 0 || s.in_channels <= 0 || s.in_h <= 0 || s.in_w <= 0 || s.out_channels <= 0 || s.out_h <= 0 ||
      s.out_w <= 0 || s.kernel_h <= 0 || s.kernel_w <= 0 || s.stride_h <= 0 || s.stride_w <= 0 || s.pad_top < 0 ||
      s.pad_left < 0 || s.pad_bottom < 0 || s.pad_right < 0 || s.out_channels % kBlock != 0 ||
      s.kernel_h > kMaxKernelRows)
    return false;
  const int64_t hp = s.in_h + s.pad_top + s.pad_bottom, wp = padded_w(s);
  return hp >= s.kernel_h && wp >= s.kernel_w && (hp - s.kernel_h) / s.stride_h + 1 == s.out_h &&
         (wp - s.kernel_w) / s.stride_w + 1 == s.out_w;
}

dnnl::memory::desc blocked_plain_conv_weights_desc(const PlainConvShape& s) {
  return dnnl::memory::desc({s.out_channels, s.in_channels, s.kernel_h, s.kernel_w}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::Acdb16a);
}

size_t blocked_plain_conv_scratch_bytes(const PlainConvShape& s) {
  return static_cast<size_t>(s.batch * s.in_h * padded_w(s) * s.in_channels) * sizeof(float);
}

void blocked_plain_conv(const float* x, const float* w, float* y, const PlainConvShape& s, const GemmEpilogue& e,
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
      set_block_epilogue(g, e, c0);
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
    for (int64_t row = all * t / parts, end = all * (t + 1) / parts; row < end; ++row)
      copy_padded_row(x, /*nchw=*/true, row, c, s.in_h, s.in_w, s.pad_left, s.pad_right, padded + row * wp * c);
    if (parts > 1) {
#pragma omp barrier
    }
    for (int64_t r = out_rows * t / parts, end = out_rows * (t + 1) / parts; r < end; ++r) output_row(r);
  };
  run_shares(want, share);
}

}  // namespace lw::cpu
