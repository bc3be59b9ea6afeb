#include "backends/cpu/kernels/nhwc_conv.h"

#include <algorithm>
#include <cstring>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/padded_rows.h"

namespace lw::cpu {

namespace {

constexpr int64_t kMaxTaps = 256;  // their offsets and skips live on the stack: no allocation per run
constexpr int kVectors = 2;        // a block's columns: 2 vectors of 16 output channels
constexpr int64_t kPanel = 16 * kVectors;
// Up to 14 x 2 accumulators (with the 2 vectors of weights and a broadcast, 31 of the 32
// registers). Blocks of 7 and 14 rows ran ResNet's layers alike (3 x 3: 0.94-1.04 of oneDNN's
// time); 6 x 64 and 8 x 48 blocks did not divide its 7- to 56-wide rows (7 x 7: 1.5-1.8).
constexpr int kMaxRows = 14;
// Output rows narrower than this run as one product over gathered positions (see gathers).
constexpr int64_t kMinRowWidth = 7;

template <int R, bool kSiLU>
void block(const GemmBlockAvx512Args& g) {
  gemm_block_avx512<R, kVectors, kSiLU>(g);
}
template <bool kSiLU>
constexpr GemmBlockAvx512Fn kBlocks[kMaxRows + 1] = {
    nullptr,           block<1, kSiLU>,  block<2, kSiLU>,  block<3, kSiLU>,  block<4, kSiLU>,
    block<5, kSiLU>,   block<6, kSiLU>,  block<7, kSiLU>,  block<8, kSiLU>,  block<9, kSiLU>,
    block<10, kSiLU>,  block<11, kSiLU>, block<12, kSiLU>, block<13, kSiLU>, block<14, kSiLU>};

// Whether the input is read in place: the padding that the taps' skips leave out is all there
// is to read (a channels-last input whose first and last output columns are the only ones to
// read padding). The padded rows are left out by the taps a row runs.
// Whether each output position's inputs are gathered into a row of their own first (kernel
// row, kernel column, channel: the weights' depth order; zeros for padding), so that the blocks
// run down all positions of the batch as one product [positions, kernel_h * kernel_w *
// channels] x [that, out_channels]. For rows narrower than 7 (a ResNet's last layers on inputs
// under 224 x 224): a row's own blocks would be as short as the row.
bool gathers(const NhwcConvShape& s) { return s.out_w < kMinRowWidth; }

// The inputs of output position `pos` (over the batch) into `row`.
void gather_position(const float* x, const NhwcConvShape& s, int64_t pos, float* row) {
  const int64_t c = s.in_channels, n = pos / (s.out_h * s.out_w), oh = pos / s.out_w % s.out_h, ow = pos % s.out_w;
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    const int64_t ih = oh * s.stride_h - s.pad_top + kh;
    for (int64_t kw = 0; kw < s.kernel_w; ++kw, row += c) {
      const int64_t iw = ow * s.stride_w - s.pad_left + kw;
      if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) {
        std::memset(row, 0, static_cast<size_t>(c) * sizeof(float));
      } else if (s.nchw_input) {
        const float* at = x + (n * c * s.in_h + ih) * s.in_w + iw;
        for (int64_t ch = 0; ch < c; ++ch) row[ch] = at[ch * s.in_h * s.in_w];
      } else {
        std::memcpy(row, x + ((n * s.in_h + ih) * s.in_w + iw) * c, static_cast<size_t>(c) * sizeof(float));
      }
    }
  }
}

bool reads_in_place(const NhwcConvShape& s) {
  if (s.nchw_input || gathers(s)) return false;
  if (s.out_w == 1) return true;
  const bool second_column_inside = s.pad_left <= s.stride_w;
  const bool second_last_inside = (s.out_w - 2) * s.stride_w + s.kernel_w - 1 - s.pad_left < s.in_w;
  return second_column_inside && second_last_inside;
}

// Whether the input rows a block reads hold padding on the left or right: read in place, each
// kernel column is then a tap of its own with its skips; else a kernel row is one tap, its
// columns consecutive.
bool column_taps(const NhwcConvShape& s) {
  return reads_in_place(s) && (s.pad_left > 0 || (s.out_w - 1) * s.stride_w + s.kernel_w - 1 - s.pad_left >= s.in_w);
}

// Width of the padded copy's rows (positions).
int64_t padded_w(const NhwcConvShape& s) { return s.in_w + s.pad_left + s.pad_right; }

// gathers(s): the inputs of every output position into `rows` (the scratch), then the product
// of those rows and the panels.
void conv_gathered(const float* x, const float* w, float* y, const NhwcConvShape& s, const GemmEpilogue& e,
                   float* rows, int threads) {
  const int64_t oc = s.out_channels, panels = (oc + kPanel - 1) / kPanel;
  const int64_t positions = s.batch * s.out_h * s.out_w, depth = s.kernel_h * s.kernel_w * s.in_channels;
  // Positions [p0, p1) against panel p, in blocks of about equal height.
  auto run = [&](int64_t p, int64_t p0, int64_t p1) {
    const int64_t n = p1 - p0;
    if (n <= 0) return;
    const int64_t blocks = (n + kMaxRows - 1) / kMaxRows;
    const int height = static_cast<int>((n + blocks - 1) / blocks);
    const int64_t full = n / height;
    const int tail = static_cast<int>(n - full * height);
    const int64_t c0 = p * kPanel;
    GemmBlockAvx512Args g;
    g.lda = depth;
    g.b = w + p * depth * kPanel;
    g.b_step = kPanel;
    g.depth = depth;
    g.ldc = oc;
    g.cols = static_cast<int>(std::min(kPanel, oc - c0));
    set_block_epilogue(g, e, c0);
    auto blocks_from = [&](int64_t first, int height_rows, int64_t count) {
      g.a = rows + first * depth;
      g.y = y + first * oc + c0;
      g.residual = e.residual ? e.residual + first * oc + c0 : nullptr;
      g.count = count;
      g.a_next = height_rows * depth;
      g.y_next = height_rows * oc;
      (e.silu ? kBlocks<true> : kBlocks<false>)[height_rows](g);
    };
    if (full > 0) blocks_from(p0, height, full);
    if (tail > 0) blocks_from(p0 + full * height, tail, 1);
  };
  const int want = static_cast<int>(std::min<int64_t>(std::max(threads, 1), std::max(positions, panels)));
  const bool by_positions = positions >= oc || panels == 1;
  auto share = [&](int t, int parts) {
    for (int64_t pos = positions * t / parts, end = positions * (t + 1) / parts; pos < end; ++pos)
      gather_position(x, s, pos, rows + pos * depth);
    if (parts > 1) {
#pragma omp barrier
    }
    if (by_positions) {
      for (int64_t p = 0; p < panels; ++p) run(p, positions * t / parts, positions * (t + 1) / parts);
      return;
    }
    // An even share of (panel, part of the positions) items; a thread's consecutive items of
    // one panel run as one stretch of positions, so the blocks stay as tall as they can.
    const int64_t items = panels * parts, i0 = items * t / parts, i1 = items * (t + 1) / parts;
    for (int64_t p = i0 / parts; i0 < i1 && p <= (i1 - 1) / parts; ++p) {
      const int64_t a = std::max(i0, p * parts) - p * parts, b = std::min(i1, (p + 1) * parts) - p * parts;
      run(p, positions * a / parts, positions * b / parts);
    }
  };
  run_shares(want, share);
}

}  // namespace

bool nhwc_conv_supported() { return packed_gemm_supported(GemmPath::kAvx512x32); }

bool nhwc_conv_accepts(const NhwcConvShape& s) {
  if (s.batch <= 0 || s.in_channels <= 0 || s.in_h <= 0 || s.in_w <= 0 || s.out_channels <= 0 || s.out_h <= 0 ||
      s.out_w <= 0 || s.kernel_h <= 0 || s.kernel_w <= 0 || s.stride_h <= 0 || s.stride_w <= 0 || s.pad_top < 0 ||
      s.pad_left < 0 || s.pad_bottom < 0 || s.pad_right < 0 || s.kernel_h * s.kernel_w > kMaxTaps)
    return false;
  const int64_t hp = s.in_h + s.pad_top + s.pad_bottom, wp = padded_w(s);
  return hp >= s.kernel_h && wp >= s.kernel_w && (hp - s.kernel_h) / s.stride_h + 1 == s.out_h &&
         (wp - s.kernel_w) / s.stride_w + 1 == s.out_w;
}


dnnl::memory::desc nhwc_conv_weights_desc(const NhwcConvShape& s) {
  return dnnl::memory::desc({s.out_channels, s.in_channels, s.kernel_h, s.kernel_w}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::Acdb32a);
}

size_t nhwc_conv_scratch_bytes(const NhwcConvShape& s) {
  if (gathers(s))
    return static_cast<size_t>(s.batch * s.out_h * s.out_w * s.kernel_h * s.kernel_w * s.in_channels) * sizeof(float);
  if (reads_in_place(s)) return 0;
  return static_cast<size_t>(s.batch * s.in_h * padded_w(s) * s.in_channels) * sizeof(float);
}

void nhwc_conv(const float* x, const float* w, float* y, const NhwcConvShape& s, const GemmEpilogue& e, void* scratch,
               int threads) {
  if (gathers(s)) {
    conv_gathered(x, w, y, s, e, static_cast<float*>(scratch), threads);
    return;
  }
  const int64_t c = s.in_channels, oc = s.out_channels, panels = (oc + kPanel - 1) / kPanel;
  const int64_t out_rows = s.batch * s.out_h;
  const bool in_place = reads_in_place(s), per_column = column_taps(s);
  // The rows A is read from: the input's, or the padded copy's (whose first column is the left
  // padding's).
  const int64_t row_w = in_place ? s.in_w : padded_w(s), first_column = in_place ? -s.pad_left : 0;
  const float* in = in_place ? x : static_cast<const float*>(scratch);

  // Taps: per kernel position (per_column) or per kernel row, each with its offset from the
  // input position of the block's first output position on the first kernel row (read in place,
  // a block's A starts at input column stride * its first output column, so a tap that reads
  // the left padding at output column 0 has a negative offset), and its depth.
  const int64_t columns_per_tap = per_column ? 1 : s.kernel_w, taps_per_row = s.kernel_w / columns_per_tap;
  const int64_t depth = columns_per_tap * c;
  int64_t offsets[kMaxTaps];
  uint8_t skips_both[kMaxTaps], skips_left[kMaxTaps], skips_right[kMaxTaps];
  for (int64_t kh = 0; kh < s.kernel_h; ++kh)
    for (int64_t t = 0; t < taps_per_row; ++t) {
      const int64_t tap = kh * taps_per_row + t, kw = t * columns_per_tap;
      offsets[tap] = (kh * row_w + kw + first_column) * c;
      // Read in place, the first output column reads padding where kw < pad_left, the last
      // where its input column passes the input's last.
      const bool left = per_column && kw < s.pad_left;
      const bool right = per_column && (s.out_w - 1) * s.stride_w + kw - s.pad_left >= s.in_w;
      skips_left[tap] = left ? 1 : 0;
      skips_right[tap] = right ? 2 : 0;
      skips_both[tap] = static_cast<uint8_t>(skips_left[tap] | skips_right[tap]);
    }

  // A row's blocks: as few as 14 rows allow, of about equal height: `full` of `height` rows,
  // then one of `tail` (< height) rows.
  const int64_t blocks_per_row = (s.out_w + kMaxRows - 1) / kMaxRows;
  const int height = static_cast<int>((s.out_w + blocks_per_row - 1) / blocks_per_row);
  const int64_t full = s.out_w / height;
  const int tail = static_cast<int>(s.out_w - full * height);

  // Output row r (image r / out_h) against panel p.
  auto output_row = [&](int64_t p, int64_t r) {
    const int64_t n = r / s.out_h, ih0 = r % s.out_h * s.stride_h - s.pad_top;
    // The kernel rows whose input row is not padding.
    const int64_t kh0 = std::max<int64_t>(0, -ih0), kh1 = std::min(s.kernel_h, s.in_h - ih0);
    const int64_t t0 = kh0 * taps_per_row, t1 = std::max(kh1, kh0) * taps_per_row;
    const int64_t c0 = p * kPanel;
    GemmBlockAvx512Args g;
    g.lda = s.stride_w * c;
    g.b = w + (p * s.kernel_h * s.kernel_w * c + t0 * depth) * kPanel;
    g.b_step = kPanel;
    g.depth = depth;
    g.taps = static_cast<int>(t1 - t0);
    // Offsets from the first kernel row the output row reads, so that the blocks' A stays
    // within the input (the output rows of the top padding leave out kernel rows from 0).
    int64_t shifted[kMaxTaps];
    const int64_t shift = kh0 * row_w * c;
    if (shift != 0)
      for (int64_t t = t0; t < t1; ++t) shifted[t] = offsets[t] - shift;
    g.tap_offsets = (shift != 0 ? shifted : offsets) + t0;
    g.ldc = oc;
    g.cols = static_cast<int>(std::min(kPanel, oc - c0));
    set_block_epilogue(g, e, c0);
    const int64_t a_row = t1 > t0 ? (n * s.in_h + ih0 + kh0) * row_w * c : 0;  // no taps: unread
    auto run = [&](int64_t ow, int rows, int64_t count, const uint8_t* skips) {
      const int64_t position = r * s.out_w + ow;
      g.a = in + (a_row + ow * s.stride_w * c);
      g.y = y + position * oc + c0;
      g.residual = e.residual ? e.residual + position * oc + c0 : nullptr;
      g.count = count;
      g.a_next = rows * s.stride_w * c;
      g.y_next = rows * oc;
      g.tap_skips = per_column ? skips + t0 : nullptr;
      (e.silu ? kBlocks<true> : kBlocks<false>)[rows](g);
    };
    if (full > 0) run(0, height, full, tail > 0 ? skips_left : skips_both);
    if (tail > 0) run(full * height, tail, 1, full > 0 ? skips_right : skips_both);
  };

  const int64_t positions = out_rows * s.out_w;
  const int want = static_cast<int>(std::min<int64_t>(std::max(threads, 1), std::max(out_rows, panels)));
  // More positions than output channels (or one panel): each thread takes a range of output
  // rows against every panel; otherwise an even share of (panel, part of the rows) items, panel
  // by panel, so that each thread reads its panels' weights alone.
  const bool by_rows = positions >= oc || panels == 1;
  auto share = [&](int t, int parts) {
    if (!in_place) {  // the padded copy, rows of it shared out alike
      const int64_t wp = padded_w(s), all = s.batch * s.in_h;
      auto* padded = static_cast<float*>(scratch);
      for (int64_t row = all * t / parts, end = all * (t + 1) / parts; row < end; ++row)
        copy_padded_row(x, s.nchw_input, row, c, s.in_h, s.in_w, s.pad_left, s.pad_right, padded + row * wp * c);
      if (parts > 1) {
#pragma omp barrier
      }
    }
    if (by_rows) {
      for (int64_t r = out_rows * t / parts, end = out_rows * (t + 1) / parts; r < end; ++r)
        for (int64_t p = 0; p < panels; ++p) output_row(p, r);
      return;
    }
    const int64_t items = panels * parts;
    for (int64_t it = items * t / parts, end = items * (t + 1) / parts; it < end; ++it) {
      const int64_t p = it / parts, part = it % parts;
      for (int64_t r = out_rows * part / parts, r_end = out_rows * (part + 1) / parts; r < r_end; ++r) output_row(p, r);
    }
  };
  run_shares(want, share);
}

}  // namespace lw::cpu
