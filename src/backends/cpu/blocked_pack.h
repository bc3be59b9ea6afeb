// Packing of a 2-D float32 weight into a oneDNN blocked layout without a oneDNN reorder.
//
// oneDNN's matmul streams B fastest from its own blocked layout (BA16a64b for float32 on
// AVX-512): a [K, N] matrix cut into 16 x 64 tiles stored one after the other. A refresh of a
// Gemm/MatMul weight writes the caller's plain matrix (row-major [K, N], or [N, K] read
// transposed for Gemm's transB) into that layout. The tile copy here (row copies, or transposes
// of 16 x 16 blocks with AVX-512 where the CPU has it, 8 x 8 with AVX2 for blocks of 8, 4 x 4
// with SSE otherwise) beats oneDNN
// 2.6's reorder: a 4096 x 4096 matrix on this project's 2-core machine, one thread: 5.0-5.5 ms
// plain / 6.0 ms transposed (4 x 4), reorder 8.1-10 ms, memcpy 2.9-3.4 ms; two threads:
// 4.1-4.4 / 3.8-4.3 ms, reorder 4.6-6.3 ms.
#pragma once

#include <optional>
#include <vector>

#include "core/stream_copy.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

// A plain 2-D source and a blocked 2-D destination this file can pack between.
struct Blocked2DPacking {
  int64_t dims[2] = {0, 0};        // logical dims
  int64_t padded[2] = {0, 0};      // destination's padded dims (multiples of block[])
  int64_t src_stride[2] = {0, 0};  // plain source strides, in elements
  int64_t outer_stride[2] = {0, 0};  // destination stride of one block step along each dim
  int64_t block[2] = {1, 1};       // inner block along each dim (1: not blocked)
  int inner = 1;                   // the dim whose block index is innermost in a tile
  int64_t offset0 = 0;
};

// The packing from `plain` into `packed`, when both are float32 2-D, `plain` has no blocks, and
// `packed` has at most one inner block per dim and no extra (compensation) data; nullopt
// otherwise (use a oneDNN reorder then).
std::optional<Blocked2DPacking> describe_blocked_2d(const dnnl::memory::desc& plain, const dnnl::memory::desc& packed);

// The same for a 1 x 1 convolution's weight ([O, I, 1, 1], plain OIhw) in a layout that blocks
// both O and I (oneDNN's AVX2 ABcd8b8a, AVX-512's ABcd16b16a): seen without its unit dims it is
// a blocked [O, I] matrix. nullopt for any other weight or layout.
std::optional<Blocked2DPacking> describe_pointwise_conv_2d(const dnnl::memory::desc& plain,
                                                           const dnnl::memory::desc& packed);

// Writes `src` (laid out as p's plain source) into `dst` (p's packed layout, padding zeroed),
// on up to `threads` OpenMP threads. kStreaming writes with non-temporal stores (fenced before
// return) where `dst` and the layout are 16-byte aligned, ordinary stores otherwise. Thread-safe.
void pack_blocked_2d(const Blocked2DPacking& p, const float* src, float* dst, int threads,
                     StoreMode mode = StoreMode::kCached);

// Convolution weights: oneDNN's layouts for them block the first dim (output channels, or
// groups for a depthwise conv) and permute the others: Acdb64a ([O/64][H][W][I][64]),
// debcA16a, acdb (no block); some also block the input channels without padding them
// (ABcd8b8a). Seen as a matrix of rows o (dim 0) by columns j (the other dims, flattened in the
// plain source's order), every such layout puts element (o, j) at
//   offset0 + (o / block) * block_stride + column_offset[j] + o % block,
// so one routine packs them all: transposes from 16, 8 or 4 source rows at a time.
struct BlockedRowsPacking {
  int64_t rows = 0, cols = 0;   // the plain source is rows x cols, row-major
  int64_t padded_rows = 0;      // rows rounded up to the block; padding is zeroed
  int64_t block = 1;            // 1: dim 0 not blocked
  int64_t block_stride = 0;     // destination stride of one block of rows (or of one row, unblocked)
  int64_t offset0 = 0;
  std::vector<int64_t> column_offset;  // per column j
  // Columns in runs of `group` (0: none) whose block of rows fills one contiguous stretch of
  // the destination: run g's offsets are group_base[g] + block * k, k < group, in some order.
  // AVX2's ABcd8b8a for a 3 x 3 weight has runs of 72 (8 input channels x 9 taps), 2304 bytes
  // that can be put together in L1 and streamed out as whole lines (see pack_blocked_rows).
  int64_t group = 0;
  std::vector<int64_t> group_base;
};

// The packing from a dense row-major `plain` into `packed` when `packed` is float32 with no
// padding but on dim 0, no extra data, and at most one inner block per dim, dim 0's (if any) the
// innermost: the conv layouts above, and also those that block the input channels as well
// (AVX2's ABcd8b8a for a 3 x 3 convolution: [O/8][I/8][H][W][8i][8o]); nullopt otherwise.
std::optional<BlockedRowsPacking> describe_blocked_rows(const dnnl::memory::desc& plain,
                                                        const dnnl::memory::desc& packed);

// Writes `src` into `dst` (padding zeroed) on up to `threads` OpenMP threads; `mode` as for
// pack_blocked_2d. Thread-safe.
void pack_blocked_rows(const BlockedRowsPacking& p, const float* src, float* dst, int threads,
                       StoreMode mode = StoreMode::kCached);

}  // namespace lw::cpu
