#include "backends/cpu/kernels/pointwise_conv.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "backends/cpu/kernels/gemm_block.h"
#include "backends/cpu/kernels/work_shares.h"
#include "backends/cpu/transpose_8x8.h"

namespace lw::cpu {

namespace {

constexpr int64_t kBlock = 8;  // channels per activation block, and per weight block each way
// Input channels per pass, as packed_gemm's depth: the weights of one 16-channel panel over a pass
// (32 KB) stay in L1 while the band's row blocks take their turns.
constexpr int64_t kDepth = 512;
// Bytes of a band's input over one pass (positions x channels, packed or read from x as it is): it
// stays in L2 while every panel of the item runs over it.
constexpr int64_t kBandBytes = 192 << 10;

struct Plan {
  int64_t positions = 0;  // output positions per image
  int64_t in_blocks = 0, out_blocks = 0, panels = 0;
  int64_t passes = 1, depth = 0;     // depth: input channels of the longest pass
  int64_t bands = 1, band_rows = 0;  // band_rows: positions of the longest band
  int64_t panel_groups = 1;
  bool packed = true;        // the band is packed (strided); else read from x as it is
  size_t thread_floats = 0;  // scratch per thread: the packed band
};

Plan plan_for(const BlockedConvShape& s, int threads, bool single_pass) {
  Plan p;
  p.positions = s.out_h * s.out_w;
  p.packed = s.stride_h != 1 || s.stride_w != 1;
  p.in_blocks = s.in_channels / kBlock;
  p.out_blocks = s.out_channels / kBlock;
  p.panels = (p.out_blocks + 1) / 2;
  p.passes = single_pass ? 1 : (p.in_blocks * kBlock + kDepth - 1) / kDepth;
  p.depth = (p.in_blocks + p.passes - 1) / p.passes * kBlock;
  const int64_t band_max =
      std::max<int64_t>(kGemmBlockRows, kBandBytes / (p.depth * static_cast<int64_t>(sizeof(float))));
  p.bands = (p.positions + band_max - 1) / band_max;
  // About 8 items a thread (a thread that finishes its share takes another's items, which evens out
  // only to within an item), by narrower bands or by splitting the panels, whichever reads fewer
  // bytes again: each band past the first reads all the weights again, each panel group past the
  // first all the input again (and packs it, where it is packed).
  if (threads > 1) {
    const int64_t want = (8 * static_cast<int64_t>(threads) + s.batch - 1) / s.batch;  // items per image
    const int64_t weight_bytes = s.out_channels * s.in_channels * static_cast<int64_t>(sizeof(float));
    const int64_t input_bytes = p.positions * s.in_channels * static_cast<int64_t>(sizeof(float));
    const int64_t narrow = std::min(std::max(p.bands, want), std::max<int64_t>(1, p.positions / kGemmBlockRows));
    const int64_t groups = std::min(p.panels, (want + p.bands - 1) / p.bands);
    if ((narrow - p.bands) * weight_bytes <= (groups - 1) * input_bytes * (p.packed ? 2 : 1)) {
      p.bands = narrow;
    } else {
      p.panel_groups = groups;
    }
  }
  p.band_rows = (p.positions + p.bands - 1) / p.bands;
  // Each thread's band in whole micro-panels of 6 positions, on a 64-byte boundary (from an aligned
  // scratch); none where the rows are read from x.
  const int64_t panel_rows = (p.band_rows + kGemmBlockRows - 1) / kGemmBlockRows * kGemmBlockRows;
  p.thread_floats = p.packed ? static_cast<size_t>(panel_rows * p.depth + 15) / 16 * 16 : 0;
  return p;
}

// The row blocks of a band of `rows` positions: blocks of 6, the last one or two shorter (a
// remainder of 1 or 2 is shared with the block before: 4 + 3 rather than 6 + 1, whose lone
// broadcast per step would leave the FMA units waiting on one accumulator chain).
struct RowBlocks {
  int64_t sixes = 0;
  int64_t tail[2] = {0, 0};
  int64_t count() const { return sixes + (tail[0] > 0) + (tail[1] > 0); }
  int64_t size(int64_t k) const { return k < sixes ? kGemmBlockRows : tail[k - sixes]; }
};
RowBlocks row_blocks(int64_t rows) {
  RowBlocks b;
  b.sixes = rows / kGemmBlockRows;
  const int64_t rem = rows % kGemmBlockRows;
  if (rem >= 3 || (rem > 0 && b.sixes == 0)) {
    b.tail[0] = rem;
  } else if (rem > 0) {
    --b.sixes;
    b.tail[0] = (kGemmBlockRows + rem + 1) / 2;
    b.tail[1] = kGemmBlockRows + rem - b.tail[0];
  }
  return b;
}

// Copies the input of image n (xn) at the output positions from p0 on, split into `blocks`, channel
// blocks [ib0, ib1), into `a` as one micro-panel per row block (gemm_block's interleaved A, 6 rows
// apart even where a block has fewer): panel k holds q * 6 + i = input channel q (from ib0's first)
// of the block's position i, for q < depth = (ib1 - ib0) * 8. A block's positions' 8 channels go
// through an 8 x 8 transpose (the missing rows zero), each channel's 6 floats stored as 4 and 2.
// Plane by plane, so that the reads run along each plane. (Strided convolutions only: with stride
// 1 the rows of a block are consecutive in each plane, which gemm_block reads as they are.)
__attribute__((target("avx2,fma"))) void pack_band(const float* xn, const BlockedConvShape& s, int64_t p0,
                                                   const RowBlocks& blocks, int64_t ib0, int64_t ib1, float* a) {
  const int64_t depth = (ib1 - ib0) * kBlock, in_plane = s.in_h * s.in_w * kBlock;
  const int64_t row_step = s.stride_h * s.in_w * kBlock, col_step = s.stride_w * kBlock;
  constexpr int kRows = kGemmBlockRows;
  for (int64_t ib = ib0; ib < ib1; ++ib) {
    const float* plane = xn + ib * in_plane;
    int64_t ow = p0 % s.out_w;
    const float* row = plane + p0 / s.out_w * row_step;
    for (int64_t k = 0; k < blocks.count(); ++k) {
      const int64_t n = blocks.size(k);
      __m256 v[8];
      for (int i = 0; i < 8; ++i) {
        if (i < n) {
          v[i] = _mm256_loadu_ps(row + ow * col_step);
          if (++ow == s.out_w) {
            ow = 0;
            row += row_step;
          }
        } else {
          v[i] = _mm256_setzero_ps();
        }
      }
      __m256 c[8];
      transpose_8x8_regs(v, c);
      float* out = a + k * kRows * depth + (ib - ib0) * kBlock * kRows;
      for (int j = 0; j < kBlock; ++j, out += kRows) {
        _mm_storeu_ps(out, _mm256_castps256_ps128(c[j]));
        _mm_storel_pi(reinterpret_cast<__m64*>(out + 4), _mm256_extractf128_ps(c[j], 1));
      }
    }
  }
}

}  // namespace

bool pointwise_conv_accepts(const BlockedConvShape& s) {
  return blocked_conv_accepts(s) && s.kernel_h == 1 && s.kernel_w == 1 && s.pad_top == 0 && s.pad_left == 0 &&
         s.out_h == (s.in_h - 1) / s.stride_h + 1 && s.out_w == (s.in_w - 1) / s.stride_w + 1;
}

size_t pointwise_conv_scratch_bytes(const BlockedConvShape& s, int threads) {
  threads = std::max(threads, 1);
  // The larger of the two plans (a residual that is the output itself takes one pass).
  const size_t per_thread =
      std::max(plan_for(s, threads, false).thread_floats, plan_for(s, threads, true).thread_floats);
  return static_cast<size_t>(threads) * per_thread * sizeof(float);
}

void pointwise_conv(const float* x, const float* w, float* y, const BlockedConvShape& s, const BlockedConvEpilogue& e,
                    void* scratch, int threads) {
  threads = std::max(threads, 1);
  const int64_t y_floats = s.batch * s.out_channels * s.out_h * s.out_w;
  // Later passes add to what Y holds, so a residual in Y's memory must be read in the only pass.
  const bool residual_in_y = e.residual && e.residual < y + y_floats && y < e.residual + y_floats;
  const Plan p = plan_for(s, threads, residual_in_y);
  const int64_t in_plane = s.in_h * s.in_w * kBlock;
  const int64_t w_out_block = p.in_blocks * kBlock * kBlock;  // floats between output blocks
  const int64_t y_plane = p.positions * kBlock;
  const int64_t items = s.batch * p.bands * p.panel_groups;
  const int used = static_cast<int>(std::min<int64_t>(threads, items));
  auto* thread_scratch = static_cast<float*>(scratch);

  parallel_items_balanced(items, used, [&](int64_t item, int t) {
    const int64_t group = item % p.panel_groups, band = item / p.panel_groups % p.bands,
                  n = item / p.panel_groups / p.bands;
    const int64_t p0 = p.positions * band / p.bands, p1 = p.positions * (band + 1) / p.bands, rows = p1 - p0;
    const int64_t panel0 = p.panels * group / p.panel_groups, panel1 = p.panels * (group + 1) / p.panel_groups;
    float* a = thread_scratch + static_cast<size_t>(t) * p.thread_floats;
    const float* xn = x + n * p.in_blocks * in_plane;
    const RowBlocks blocks = row_blocks(rows);
    for (int64_t pass = 0; pass < p.passes; ++pass) {
      const int64_t ib0 = p.in_blocks * pass / p.passes, ib1 = p.in_blocks * (pass + 1) / p.passes;
      const int64_t depth = (ib1 - ib0) * kBlock;
      if (p.packed) pack_band(xn, s, p0, blocks, ib0, ib1, a);
      for (int64_t panel = panel0; panel < panel1; ++panel) {
        const int64_t ob = 2 * panel;
        const bool two = ob + 1 < p.out_blocks;
        const int64_t at = (n * p.out_blocks + ob) * y_plane + p0 * kBlock;  // Y's and the residual's
        GemmBlockArgs g;
        g.b = w + ob * w_out_block + ib0 * kBlock * kBlock;
        g.b_step = kBlock;
        g.b_half = two ? w_out_block : 0;  // one block: its weights twice, half the result kept
        g.depth = depth;
        g.ldc = kBlock;
        g.y_half = y_plane;
        g.cols = two ? 16 : 8;
        g.first = pass == 0;
        g.last = pass + 1 == p.passes;
        g.bias = e.bias ? e.bias + ob * kBlock : nullptr;
        g.mul = e.mul ? e.mul + ob * kBlock : nullptr;
        g.add = e.mul ? e.add + ob * kBlock : nullptr;
        g.lo = e.lo;
        g.hi = e.hi;
        // The blocks of 6 in one call, then the shorter ones.
        for (int64_t k = 0, r = 0; k < blocks.count();) {
          const int64_t n_rows = blocks.size(k);
          g.count = k < blocks.sixes ? blocks.sixes : 1;
          g.y = y + at + r * kBlock;
          g.residual = e.residual ? e.residual + at + r * kBlock : nullptr;
          g.y_next = kGemmBlockRows * kBlock;
          if (p.packed) {
            g.a = a + k * kGemmBlockRows * depth;  // micro-panel k
            g.a_next = kGemmBlockRows * depth;
            kGemmBlocks<GemmA::kInterleaved>[n_rows](g);
          } else {
            g.a = xn + ib0 * in_plane + (p0 + r) * kBlock;  // the rows are consecutive in each plane
            g.a_next = kGemmBlockRows * kBlock;
            g.lda = in_plane;
            kGemmBlocks<GemmA::kBlocked8>[n_rows](g);
          }
          k += g.count;
          r += g.count * n_rows;
        }
      }
    }
  });
}

}  // namespace lw::cpu
