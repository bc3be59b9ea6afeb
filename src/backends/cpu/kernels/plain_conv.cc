#include "backends/cpu/kernels/plain_conv.h"

#include <algorithm>
#include <cstring>

#include "backends/cpu/kernels/kernel_util.h"

namespace lw::cpu {

namespace {

constexpr int64_t kMaxTaps = 256;  // their offsets live on the stack: no allocation per run

int64_t padded_h(const PlainConvShape& s) { return s.in_h + s.pad_top + s.pad_bottom; }
int64_t padded_w(const PlainConvShape& s) { return s.in_w + s.pad_left + s.pad_right; }

}  // namespace

bool plain_conv_accepts(const PlainConvShape& s) {
  if (s.batch <= 0 || s.in_channels <= 0 || s.in_h <= 0 || s.in_w <= 0 || s.out_channels <= 0 || s.out_h <= 0 ||
      s.out_w <= 0 || s.kernel_h <= 0 || s.kernel_w <= 0 || s.stride_h <= 0 || s.stride_w <= 0 || s.pad_top < 0 ||
      s.pad_left < 0 || s.pad_bottom < 0 || s.pad_right < 0 || plain_conv_depth(s) > kMaxTaps)
    return false;
  return padded_h(s) >= s.kernel_h && padded_w(s) >= s.kernel_w &&
         (padded_h(s) - s.kernel_h) / s.stride_h + 1 == s.out_h &&
         (padded_w(s) - s.kernel_w) / s.stride_w + 1 == s.out_w;
}

int64_t plain_conv_depth(const PlainConvShape& s) { return s.in_channels * s.kernel_h * s.kernel_w; }

size_t plain_conv_scratch_bytes(const PlainConvShape& s) {
  return static_cast<size_t>(s.batch * s.in_channels * padded_h(s) * padded_w(s)) * sizeof(float);
}

void plain_conv(const float* x, const float* w, float* y, const PlainConvShape& s, const GemmEpilogue& e, void* scratch,
                int threads, GemmPath path) {
  const int64_t hp = padded_h(s), wp = padded_w(s), plane = hp * wp, oc = s.out_channels;
  const int64_t taps = plain_conv_depth(s), out_rows = s.batch * s.out_h;
  int64_t offsets[kMaxTaps];  // tap (c, kh, kw) from tap 0 in the padded planes, in floats
  for (int64_t c = 0; c < s.in_channels; ++c)
    for (int64_t kh = 0; kh < s.kernel_h; ++kh)
      for (int64_t kw = 0; kw < s.kernel_w; ++kw)
        offsets[(c * s.kernel_h + kh) * s.kernel_w + kw] = c * plane + kh * wp + kw;
  const int rows = packed_gemm_block_rows(path);
  const int64_t panel = packed_gemm_panel(path), panels = (oc + panel - 1) / panel;
  auto* padded = static_cast<float*>(scratch);
  // Output row r against every panel: blocks of `rows` positions (the last two split evenly),
  // each a run of taps of depth 1.
  auto output_row = [&](int64_t r) {
    const int64_t n = r / s.out_h, oh = r % s.out_h;
    const float* a_row = padded + n * s.in_channels * plane + oh * s.stride_h * wp;
    const int64_t full = s.out_w / rows, rem = s.out_w % rows;
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t c0 = p * panel;
      GemmBlockAvx512Args g;
      g.lda = s.stride_w;
      g.b = w + p * taps * panel;
      g.b_step = panel;
      g.depth = 1;
      g.taps = static_cast<int>(taps);
      g.tap_offsets = offsets;
      g.ldc = oc;
      g.cols = static_cast<int>(std::min(panel, oc - c0));
      set_block_epilogue(g, e, c0);
      auto run = [&](int64_t ow, int height, int64_t count) {
        const int64_t position = r * s.out_w + ow;
        g.a = a_row + ow * s.stride_w;
        g.y = y + position * oc + c0;
        g.residual = e.residual ? e.residual + position * oc + c0 : nullptr;
        g.count = count;
        g.a_next = height * s.stride_w;
        g.y_next = height * oc;
        packed_gemm_avx512_block(path, height, e.silu)(g);
      };
      if (rem == 0 || full == 0) {
        if (full > 0) run(0, rows, full);
        if (rem > 0) run(full * rows, static_cast<int>(rem), 1);
        continue;
      }
      // The last full block and the remainder as two blocks of about equal height.
      if (full > 1) run(0, rows, full - 1);
      const int64_t tail = rows + rem, first = (tail + 1) / 2;
      run((full - 1) * rows, static_cast<int>(first), 1);
      run((full - 1) * rows + first, static_cast<int>(tail - first), 1);
    }
  };
  const int want = static_cast<int>(std::min<int64_t>(std::max(threads, 1), out_rows));
  auto share = [&](int t, int parts) {
    // The zero-padded planes, rows of them shared out, then the output rows.
    const int64_t all = s.batch * s.in_channels * hp;
    for (int64_t pr = all * t / parts, end = all * (t + 1) / parts; pr < end; ++pr) {
      float* dst = padded + pr * wp;
      const int64_t nc = pr / hp, ih = pr % hp - s.pad_top;
      if (ih < 0 || ih >= s.in_h) {
        std::memset(dst, 0, static_cast<size_t>(wp) * sizeof(float));
        continue;
      }
      std::memset(dst, 0, static_cast<size_t>(s.pad_left) * sizeof(float));
      std::memcpy(dst + s.pad_left, x + (nc * s.in_h + ih) * s.in_w, static_cast<size_t>(s.in_w) * sizeof(float));
      std::memset(dst + s.pad_left + s.in_w, 0, static_cast<size_t>(s.pad_right) * sizeof(float));
    }
    if (parts > 1) {
#pragma omp barrier
    }
    for (int64_t r = out_rows * t / parts, end = out_rows * (t + 1) / parts; r < end; ++r) output_row(r);
  };
  run_shares(want, share);
}

}  // namespace lw::cpu
