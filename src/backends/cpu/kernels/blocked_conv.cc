#include "backends/cpu/kernels/blocked_conv.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/work_shares.h"

namespace lw::cpu {

namespace {

constexpr int64_t kBlock = 8;  // channels per activation block, and per weight block each way
// The input channels are taken in chunks whose weights (for one group of output blocks) come to
// about this many bytes, so that a chunk's weights stay in L2 while the tiles of a pass over
// several output rows read them (24, 32, 48, 64, 96 and 128 KB measured on ResNet layers: 96
// and up were best, by 3-5%). Between chunks the tiles' partial sums wait in the thread's
// scratch: a load and a store per accumulator against hundreds of FMAs.
constexpr int64_t kChunkBytes = 96 << 10;
constexpr int kMaxOutputs = 6;  // output positions per tile
// Outputs (rows x columns) up to which a padded input is copied (see padded_input).
constexpr int64_t kPaddedMaxOutputs = 8 * 8;

// One tile: kOutputs consecutive output positions (in row-major order over the output image, so
// a tile may run from the end of one row into the next) times kGroups output blocks (8 channels
// each), over one chunk of input channel blocks. kOutputs x kGroups <= 12 accumulators, with the
// broadcasts or the weights of one step: at most 16 ymm registers. The positions are consecutive
// in y, the residual and the partial sums alike (8 floats apart), whatever rows they are on.
struct TileArgs {
  const float* x;           // input of the chunk's first block (row 0, column 0)
  int64_t x_block;          // floats between input blocks: in_h * in_w * 8
  int64_t x_row;            // floats between input rows: in_w * 8
  int64_t blocks;           // input blocks in the chunk
  int64_t at[kMaxOutputs];  // per output: offset in x's block of its tap (0, 0), ih0 * x_row + iw0 * 8
  int64_t ih0[kMaxOutputs], iw0[kMaxOutputs];  // per output: input row and column of tap (0, 0)
  int64_t in_h, in_w;
  int kh_lo, kh_hi, kw_lo, kw_hi;  // taps that some output of the tile reads inside the image
  int64_t kw;               // kernel width
  int64_t count;            // tiles in this call: more than 1 only for interior tiles of one row
  int64_t step;             // floats of x between one such tile and the next: outputs * stride_w * 8
  const float* w;           // weights of the group's first output block, the chunk's first input block
  int64_t w_out_block;      // floats between output blocks of the weights
  int64_t w_in_block;       // floats between input blocks of the weights: kh * kw * 64
  float* y;                 // output block 0 of the group at the tile's first position
  int64_t y_block;          // floats between output blocks: out_h * out_w * 8
  float* part;              // the tile's partial sums in the thread's scratch
  int64_t part_block;       // floats between output blocks there
  const float* residual;    // at y's position in the residual, or null
  const float *bias, *mul, *add;  // at the group's first channel, each or null
  bool first, last;         // the chunk starts from zero / applies the epilogue and stores y
  bool clamp;
  float lo, hi;
};

alignas(32) const float kZeros[kBlock] = {};

// One tap for 8 input channels: acc[i][g] += x_i[c] * w_g[c] for c < 8, where x_i = p[i] and
// w_g = wb + g * w_out_block (8 floats per c).
template <int kOutputs, int kGroups>
__attribute__((target("avx2,fma"), always_inline)) inline void tap8(__m256 (&acc)[kOutputs][kGroups],
                                                                    const float* const (&p)[kOutputs],
                                                                    const float* wb, int64_t w_out_block) {
#pragma GCC unroll 8
  for (int c = 0; c < kBlock; ++c) {
    const float* wc = wb + c * kBlock;
    if constexpr (kOutputs <= kGroups) {
      // Broadcasts held, one weight vector at a time.
      __m256 v[kOutputs];
#pragma GCC unroll 6
      for (int i = 0; i < kOutputs; ++i) v[i] = _mm256_broadcast_ss(p[i] + c);
#pragma GCC unroll 4
      for (int g = 0; g < kGroups; ++g) {
        const __m256 wv = _mm256_loadu_ps(wc + g * w_out_block);
#pragma GCC unroll 6
        for (int i = 0; i < kOutputs; ++i) acc[i][g] = _mm256_fmadd_ps(v[i], wv, acc[i][g]);
      }
    } else {
      // Weight vectors held, one broadcast at a time.
      __m256 wv[kGroups];
#pragma GCC unroll 4
      for (int g = 0; g < kGroups; ++g) wv[g] = _mm256_loadu_ps(wc + g * w_out_block);
#pragma GCC unroll 6
      for (int i = 0; i < kOutputs; ++i) {
        const __m256 v = _mm256_broadcast_ss(p[i] + c);
#pragma GCC unroll 4
        for (int g = 0; g < kGroups; ++g) acc[i][g] = _mm256_fmadd_ps(v, wv[g], acc[i][g]);
      }
    }
  }
}

// kEdge: some output's tap falls outside the image (padding) and reads zeros instead; without
// it every tap of every output is inside and the tap's offset is the same for all outputs.
// kKernelW: the kernel width when it is fixed at compile time (its taps unrolled, their offsets
// constants), or 0.
// The input row of each output for tap (kh, kw) at `row` (the input block's offset plus kh rows):
// kZeros for an edge tile's output whose tap falls in the padding.
template <int kOutputs, bool kEdge>
__attribute__((always_inline)) inline void tap_inputs(const TileArgs& a, const float* const (&base)[kOutputs],
                                                      int64_t row, int kh, int kw, const float* (&p)[kOutputs]) {
#pragma GCC unroll 6
  for (int i = 0; i < kOutputs; ++i) {
    if constexpr (kEdge) {
      const bool inside = static_cast<uint64_t>(a.ih0[i] + kh) < static_cast<uint64_t>(a.in_h) &&
                          static_cast<uint64_t>(a.iw0[i] + kw) < static_cast<uint64_t>(a.in_w);
      p[i] = inside ? base[i] + a.at[i] + row + kw * kBlock : kZeros;
    } else {
      p[i] = base[i] + row + kw * kBlock;
    }
  }
}

// kEdge: some output's tap falls outside the image (padding) and reads zeros instead; without
// it every tap of every output is inside and the tap's offset is the same for all outputs.
// kKernelW: the kernel width when it is fixed at compile time (its taps unrolled, their offsets
// constants), or 0.
template <int kOutputs, int kGroups, bool kEdge, int kKernelW>
__attribute__((target("avx2,fma"))) void tile(const TileArgs& a) {
  float* y = a.y;
  float* part = a.part;
  const float* residual = a.residual;
  const float* x = a.x;
  // part and residual may be null (one chunk; no residual): no arithmetic on them then.
  for (int64_t t = 0; t < a.count; ++t, x += a.step, y += kOutputs * kBlock,
               part = part ? part + kOutputs * kBlock : nullptr,
               residual = residual ? residual + kOutputs * kBlock : nullptr) {
    __m256 acc[kOutputs][kGroups];
    if (a.first) {
#pragma GCC unroll 6
      for (int i = 0; i < kOutputs; ++i)
#pragma GCC unroll 4
        for (int g = 0; g < kGroups; ++g) acc[i][g] = _mm256_setzero_ps();
    } else {
#pragma GCC unroll 6
      for (int i = 0; i < kOutputs; ++i)
#pragma GCC unroll 4
        for (int g = 0; g < kGroups; ++g) acc[i][g] = _mm256_loadu_ps(part + g * a.part_block + i * kBlock);
    }
    const float* base[kOutputs];
#pragma GCC unroll 6
    for (int i = 0; i < kOutputs; ++i) base[i] = kEdge ? x : x + a.at[i];
    for (int64_t blk = 0; blk < a.blocks; ++blk) {
      for (int kh = a.kh_lo; kh < a.kh_hi; ++kh) {
        const int64_t row = blk * a.x_block + kh * a.x_row;
        const float* p[kOutputs];
        if constexpr (kKernelW > 0) {
          const float* wb = a.w + blk * a.w_in_block + kh * kKernelW * kBlock * kBlock;
#pragma GCC unroll 7
          for (int kw = 0; kw < kKernelW; ++kw) {
            tap_inputs<kOutputs, kEdge>(a, base, row, kh, kw, p);
            tap8<kOutputs, kGroups>(acc, p, wb + kw * kBlock * kBlock, a.w_out_block);
          }
        } else {
          const float* wb = a.w + blk * a.w_in_block + (kh * a.kw + a.kw_lo) * kBlock * kBlock;
          for (int kw = a.kw_lo; kw < a.kw_hi; ++kw, wb += kBlock * kBlock) {
            tap_inputs<kOutputs, kEdge>(a, base, row, kh, kw, p);
            tap8<kOutputs, kGroups>(acc, p, wb, a.w_out_block);
          }
        }
      }
    }
    if (a.last) {
      const __m256 lo = _mm256_set1_ps(a.lo), hi = _mm256_set1_ps(a.hi);
#pragma GCC unroll 4
      for (int g = 0; g < kGroups; ++g) {
        const __m256 bias = a.bias ? _mm256_loadu_ps(a.bias + g * kBlock) : _mm256_setzero_ps();
        const __m256 mul = a.mul ? _mm256_loadu_ps(a.mul + g * kBlock) : _mm256_set1_ps(1.0f);
        const __m256 add = a.mul ? _mm256_loadu_ps(a.add + g * kBlock) : _mm256_setzero_ps();
#pragma GCC unroll 6
        for (int i = 0; i < kOutputs; ++i) {
          __m256 v = _mm256_add_ps(acc[i][g], bias);
          if (a.mul) v = _mm256_fmadd_ps(v, mul, add);
          if (residual) v = _mm256_add_ps(v, _mm256_loadu_ps(residual + g * a.y_block + i * kBlock));
          // The value as the second operand: vmaxps/vminps return it when either is NaN, so a
          // NaN passes the clamp as through oneDNN's Relu.
          if (a.clamp) v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
          _mm256_storeu_ps(y + g * a.y_block + i * kBlock, v);
        }
      }
    } else {
#pragma GCC unroll 6
      for (int i = 0; i < kOutputs; ++i)
#pragma GCC unroll 4
        for (int g = 0; g < kGroups; ++g) _mm256_storeu_ps(part + g * a.part_block + i * kBlock, acc[i][g]);
    }
  }
}

using TileFn = void (*)(const TileArgs&);

// Tiles of 1, 2 or 4 output blocks by up to 12 / blocks output positions (at most 6); null
// past that.
template <int kOutputs, int kGroups, bool kEdge, int kKernelW = 0>
constexpr TileFn tile_or_null() {
  if constexpr (kOutputs * kGroups <= 12) {
    return tile<kOutputs, kGroups, kEdge, kKernelW>;
  } else {
    return nullptr;
  }
}
template <int kGroups>
struct TileTable {
  // [outputs][kind]: kind 0 inside the image, 1 at an edge, 2 and 3 the same with a 3-wide
  // kernel.
  TileFn fns[kMaxOutputs + 1][4] = {
      {nullptr, nullptr, nullptr, nullptr},
      {tile_or_null<1, kGroups, false>(), tile_or_null<1, kGroups, true>(), tile_or_null<1, kGroups, false, 3>(),
       tile_or_null<1, kGroups, true, 3>()},
      {tile_or_null<2, kGroups, false>(), tile_or_null<2, kGroups, true>(), tile_or_null<2, kGroups, false, 3>(),
       tile_or_null<2, kGroups, true, 3>()},
      {tile_or_null<3, kGroups, false>(), tile_or_null<3, kGroups, true>(), tile_or_null<3, kGroups, false, 3>(),
       tile_or_null<3, kGroups, true, 3>()},
      {tile_or_null<4, kGroups, false>(), tile_or_null<4, kGroups, true>(), tile_or_null<4, kGroups, false, 3>(),
       tile_or_null<4, kGroups, true, 3>()},
      {tile_or_null<5, kGroups, false>(), tile_or_null<5, kGroups, true>(), tile_or_null<5, kGroups, false, 3>(),
       tile_or_null<5, kGroups, true, 3>()},
      {tile_or_null<6, kGroups, false>(), tile_or_null<6, kGroups, true>(), tile_or_null<6, kGroups, false, 3>(),
       tile_or_null<6, kGroups, true, 3>()},
  };
};
const TileTable<1> kTiles1;
const TileTable<2> kTiles2;
const TileTable<4> kTiles4;

// Output blocks per tile: 4 where they divide evenly (3 positions per tile), else 2 (6), else 1.
int groups_for(const BlockedConvShape& s) {
  const int64_t out_blocks = s.out_channels / kBlock;
  return out_blocks % 4 == 0 ? 4 : out_blocks % 2 == 0 ? 2 : 1;
}

int64_t chunk_blocks(const BlockedConvShape& s) {
  const int64_t w_in_block = s.kernel_h * s.kernel_w * kBlock * kBlock;
  return std::max<int64_t>(1, kChunkBytes / (w_in_block * groups_for(s) * static_cast<int64_t>(sizeof(float))));
}

// Output rows whose partial sums one pass over a chunk covers: as many as fit in about
// kPartialBytes, so that a chunk's weights are fetched once per that many rows (a 7 x 7 layer
// of 512 channels has 590 KB of weights per group of output blocks: fetching them again for
// every row came from L3).
constexpr int64_t kPartialBytes = 32 << 10;
int64_t rows_per_pass(const BlockedConvShape& s) {
  const int64_t row_bytes = s.out_w * groups_for(s) * kBlock * static_cast<int64_t>(sizeof(float));
  return std::clamp<int64_t>(kPartialBytes / row_bytes, 1, s.out_h);
}

// Whether the threads split the work by groups of output blocks (each reads only its groups'
// weights) rather than by bands of rows (each reads only its band of the input): where there
// are at least two groups per thread. Splitting the 56 x 56 layers by rows instead, where the
// input outweighs the weights, measured the same (ResNet-18, same process, 1.00).
bool split_by_groups(int64_t images_groups, int threads) { return images_groups >= 2 * threads; }

// The input copied into scratch with its padding written out as zeros, so that every tile reads
// inside the image: the tiles that reach into the padding otherwise take the slower edge path
// (the kernel width's taps not unrolled, a check per output and tap). Done where the output is
// small, so that those tiles are a large share of it: a 7 x 7 output of 512 channels from a
// 7 x 7 input took 2.04 ms, the same from a 9 x 9 input without padding 1.70 ms (two threads).
struct PaddedInput {
  bool used = false;
  int64_t h = 0, w = 0;  // rows and columns the taps reach, from the top-left padding corner
  size_t bytes = 0;      // of the copy, a multiple of 64
};
PaddedInput padded_input(const BlockedConvShape& s) {
  PaddedInput p;
  p.h = (s.out_h - 1) * s.stride_h + s.kernel_h;
  p.w = (s.out_w - 1) * s.stride_w + s.kernel_w;
  const bool reads_padding = s.pad_top > 0 || s.pad_left > 0 || p.h > s.pad_top + s.in_h || p.w > s.pad_left + s.in_w;
  p.used = reads_padding && s.out_h * s.out_w <= kPaddedMaxOutputs;
  if (p.used)
    p.bytes = (static_cast<size_t>(s.batch * (s.in_channels / kBlock) * p.h * p.w * kBlock) * sizeof(float) + 63) / 64 * 64;
  return p;
}

// Writes the padded copy of x for `s` into `dst` on up to `threads` threads.
void pad_input(const float* x, const BlockedConvShape& s, const PaddedInput& p, float* dst, int threads) {
  const int64_t planes = s.batch * (s.in_channels / kBlock);
  const int64_t rows = std::min(s.in_h, p.h - s.pad_top);  // input rows the taps reach
  const int64_t cols = std::min(s.in_w, p.w - s.pad_left);
  parallel_ranges(planes * p.h, threads, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t plane = r / p.h, ph = r % p.h, ih = ph - s.pad_top;
      float* out = dst + r * p.w * kBlock;
      if (ih < 0 || ih >= rows) {
        std::memset(out, 0, static_cast<size_t>(p.w * kBlock) * sizeof(float));
        continue;
      }
      const float* in = x + (plane * s.in_h + ih) * s.in_w * kBlock;
      std::memset(out, 0, static_cast<size_t>(s.pad_left * kBlock) * sizeof(float));
      std::memcpy(out + s.pad_left * kBlock, in, static_cast<size_t>(cols * kBlock) * sizeof(float));
      std::memset(out + (s.pad_left + cols) * kBlock, 0, static_cast<size_t>((p.w - s.pad_left - cols) * kBlock) * sizeof(float));
    }
  });
}

}  // namespace

bool blocked_conv_supported() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

bool blocked_conv_accepts(const BlockedConvShape& s) {
  return s.batch > 0 && s.in_channels > 0 && s.in_channels % kBlock == 0 && s.out_channels > 0 &&
         s.out_channels % kBlock == 0 && s.in_h > 0 && s.in_w > 0 && s.out_h > 0 && s.out_w > 0 && s.kernel_h > 0 &&
         s.kernel_w > 0 && s.kernel_h <= 1024 && s.kernel_w <= 1024 && s.stride_h > 0 && s.stride_w > 0 &&
         s.pad_top >= 0 && s.pad_left >= 0;
}

namespace {
// Bytes of partial sums per thread: none when the input channels go in one chunk.
size_t partial_sum_bytes(const BlockedConvShape& s) {
  if (chunk_blocks(s) >= s.in_channels / kBlock) return 0;
  return static_cast<size_t>(rows_per_pass(s) * groups_for(s)) * static_cast<size_t>(s.out_w * kBlock) * sizeof(float);
}
}  // namespace

size_t blocked_conv_scratch_bytes(const BlockedConvShape& s, int threads) {
  return padded_input(s).bytes + static_cast<size_t>(std::max(threads, 1)) * partial_sum_bytes(s);
}

void blocked_conv(const float* x, const float* w, float* y, const BlockedConvShape& shape,
                  const BlockedConvEpilogue& e, void* scratch, int threads) {
  threads = std::max(threads, 1);
  // With a padded copy, the rest runs on it as an input without padding.
  const PaddedInput padded = padded_input(shape);
  BlockedConvShape s = shape;
  if (padded.used) {
    pad_input(x, shape, padded, static_cast<float*>(scratch), threads);
    x = static_cast<const float*>(scratch);
    s.in_h = padded.h;
    s.in_w = padded.w;
    s.pad_top = s.pad_left = 0;
  }
  float* const partial_sums = scratch ? reinterpret_cast<float*>(static_cast<uint8_t*>(scratch) + padded.bytes) : nullptr;
  const int64_t in_blocks = s.in_channels / kBlock, out_blocks = s.out_channels / kBlock;
  const int groups = groups_for(s);
  const int max_outputs = std::min(12 / groups, kMaxOutputs);
  const TileFn(*table)[4] = groups == 4 ? kTiles4.fns : groups == 2 ? kTiles2.fns : kTiles1.fns;
  const int64_t w_in_block = s.kernel_h * s.kernel_w * kBlock * kBlock;
  const int64_t chunk = chunk_blocks(s);
  const int64_t chunks = (in_blocks + chunk - 1) / chunk;
  const int64_t pass_rows = rows_per_pass(s);
  const int64_t out_groups = out_blocks / groups;
  // Work items: (image, range of groups of output blocks, band of output rows). Where the
  // groups go round the threads, an item is one group over all rows (a thread reads only its
  // groups' weights); otherwise every item has all groups over a band of rows (a thread reads
  // only its band of the input), and each pass over some rows runs every group in turn while
  // those rows of the input stay in cache.
  const int64_t images_groups = s.batch * out_groups;
  const bool by_groups = split_by_groups(images_groups, threads);
  const int64_t groups_per_item = by_groups ? 1 : out_groups;
  const int64_t bands = by_groups ? 1 : std::min<int64_t>(s.out_h, threads);
  const int64_t items = s.batch * (out_groups / groups_per_item) * bands;
  const bool clamp = !(std::isinf(e.lo) && e.lo < 0 && std::isinf(e.hi) && e.hi > 0);
  const int used = static_cast<int>(std::min<int64_t>(threads, items));
  const int kind3 = s.kernel_w == 3 ? 2 : 0;  // the tile kinds for this kernel width
  // Output columns [ow_inside0, ow_inside1) read no padding column.
  const int64_t ow_inside0 = (s.pad_left + s.stride_w - 1) / s.stride_w;
  const int64_t ow_inside1 =
      s.in_w + s.pad_left >= s.kernel_w ? std::min(s.out_w, (s.in_w + s.pad_left - s.kernel_w) / s.stride_w + 1) : 0;

  auto run = [&](int64_t begin, int64_t end, float* part) {
    TileArgs a{};
    a.x_block = s.in_h * s.in_w * kBlock;
    a.x_row = s.in_w * kBlock;
    a.in_h = s.in_h;
    a.in_w = s.in_w;
    a.kw = s.kernel_w;
    a.w_out_block = in_blocks * w_in_block;
    a.w_in_block = w_in_block;
    a.y_block = s.out_h * s.out_w * kBlock;
    a.lo = e.lo;
    a.hi = e.hi;
    a.clamp = clamp;
    a.step = max_outputs * s.stride_w * kBlock;
    const int64_t item_groups = out_groups / groups_per_item;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t band = item % bands, og_first = item / bands % item_groups * groups_per_item,
                    n = item / bands / item_groups;
      const int64_t oh0 = s.out_h * band / bands, oh1 = s.out_h * (band + 1) / bands;
      const float* xn = x + n * in_blocks * a.x_block;
      // Passes of pass_rows rows; within one, positions pos0..pos1 (row-major) in tiles of
      // max_outputs, the last one shorter.
      for (int64_t pass0 = oh0; pass0 < oh1; pass0 += pass_rows) {
        const int64_t pos0 = pass0 * s.out_w, pos1 = std::min(oh1, pass0 + pass_rows) * s.out_w;
        a.part_block = (pos1 - pos0) * kBlock;
        for (int64_t og = og_first; og < og_first + groups_per_item; ++og) {
          const int64_t ob = og * groups;
          float* yn = y + (n * out_blocks + ob) * a.y_block;
          const float* rn = e.residual ? e.residual + (n * out_blocks + ob) * a.y_block : nullptr;
          a.bias = e.bias ? e.bias + ob * kBlock : nullptr;
          a.mul = e.mul ? e.mul + ob * kBlock : nullptr;
          a.add = e.mul ? e.add + ob * kBlock : nullptr;
          for (int64_t c = 0; c < chunks; ++c) {
            const int64_t b0 = c * chunk, b1 = std::min(in_blocks, b0 + chunk);
            a.blocks = b1 - b0;
            a.x = xn + b0 * a.x_block;
            a.w = w + ob * a.w_out_block + b0 * w_in_block;
            a.first = c == 0;
            a.last = c + 1 == chunks;
            // (oh, ow) of the tile's first position, advanced without division.
            int64_t toh = pass0, tow = 0;
            for (int64_t pos = pos0; pos < pos1;) {
              const int outputs = static_cast<int>(std::min<int64_t>(max_outputs, pos1 - pos));
              const int64_t row_ih0 = toh * s.stride_h - s.pad_top;
              if (outputs == max_outputs && row_ih0 >= 0 && row_ih0 + s.kernel_h <= s.in_h && tow >= ow_inside0 &&
                  tow + outputs <= ow_inside1) {
                // A run of whole tiles inside the image on this row: one call.
                a.count = (ow_inside1 - tow) / outputs;
                for (int i = 0; i < outputs; ++i)
                  a.at[i] = row_ih0 * a.x_row + ((tow + i) * s.stride_w - s.pad_left) * kBlock;
                a.kh_lo = 0;
                a.kh_hi = static_cast<int>(s.kernel_h);
                a.kw_lo = 0;
                a.kw_hi = static_cast<int>(s.kernel_w);
                a.y = yn + pos * kBlock;
                a.residual = rn ? rn + pos * kBlock : nullptr;
                a.part = part ? part + (pos - pos0) * kBlock : nullptr;
                table[outputs][kind3](a);
                pos += a.count * outputs;
                tow += a.count * outputs;
                if (tow == s.out_w) {
                  tow = 0;
                  ++toh;
                }
                continue;
              }
              int64_t kh_lo = s.kernel_h, kh_hi = 0, kw_lo = s.kernel_w, kw_hi = 0;
              bool edge = false;
              for (int i = 0; i < outputs; ++i) {
                const int64_t ih0 = toh * s.stride_h - s.pad_top, iw0 = tow * s.stride_w - s.pad_left;
                if (++tow == s.out_w) {
                  tow = 0;
                  ++toh;
                }
                a.ih0[i] = ih0;
                a.iw0[i] = iw0;
                a.at[i] = ih0 * a.x_row + iw0 * kBlock;
                // The taps inside the image for this output.
                const int64_t h_lo = std::max<int64_t>(0, -ih0), h_hi = std::min(s.kernel_h, s.in_h - ih0);
                const int64_t w_lo = std::max<int64_t>(0, -iw0), w_hi = std::min(s.kernel_w, s.in_w - iw0);
                edge = edge || h_lo > 0 || h_hi < s.kernel_h || w_lo > 0 || w_hi < s.kernel_w;
                kh_lo = std::min(kh_lo, h_lo);
                kh_hi = std::max(kh_hi, h_hi);
                kw_lo = std::min(kw_lo, w_lo);
                kw_hi = std::max(kw_hi, w_hi);
              }
              a.count = 1;
              a.kh_lo = static_cast<int>(kh_lo);
              a.kh_hi = static_cast<int>(std::max(kh_lo, kh_hi));
              a.kw_lo = static_cast<int>(kw_lo);
              a.kw_hi = static_cast<int>(std::max(kw_lo, kw_hi));
              a.y = yn + pos * kBlock;
              a.residual = rn ? rn + pos * kBlock : nullptr;
              a.part = part ? part + (pos - pos0) * kBlock : nullptr;
              table[outputs][kind3 + (edge ? 1 : 0)](a);
              pos += outputs;
            }
          }
        }
      }
    }
  };
  // One slice of the items per thread, each thread with its own partial sums; a thread whose
  // slice is done takes items from another's (work_shares.h: where the groups go round the
  // threads there are several items a thread).
  const size_t part_floats = partial_sum_bytes(s) / sizeof(float);
  parallel_items_balanced(items, used, [&](int64_t item, int t) {
    run(item, item + 1, part_floats > 0 ? partial_sums + static_cast<size_t>(t) * part_floats : nullptr);
  });
}

}  // namespace lw::cpu
