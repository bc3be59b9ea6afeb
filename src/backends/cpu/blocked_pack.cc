#include "backends/cpu/blocked_pack.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/transpose_8x8.h"
#include "core/stream_copy.h"

namespace lw::cpu {

std::optional<Blocked2DPacking> describe_blocked_2d(const dnnl::memory::desc& plain, const dnnl::memory::desc& packed) {
  const dnnl_memory_desc_t& s = plain.data;
  const dnnl_memory_desc_t& d = packed.data;
  if (s.ndims != 2 || d.ndims != 2 || s.data_type != dnnl_f32 || d.data_type != dnnl_f32) return std::nullopt;
  if (s.format_kind != dnnl_blocked || d.format_kind != dnnl_blocked) return std::nullopt;
  if (s.format_desc.blocking.inner_nblks != 0 || s.offset0 != 0 || s.extra.flags != 0) return std::nullopt;
  if (d.extra.flags != 0 || d.padded_offsets[0] != 0 || d.padded_offsets[1] != 0) return std::nullopt;
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  // Exactly one block on each dim: the tiles are then big enough (16 x 64 for BA16a64b) for a
  // loop per tile to cost nothing; other layouts go through oneDNN's reorder.
  if (b.inner_nblks != 2 || b.inner_idxs[0] == b.inner_idxs[1]) return std::nullopt;
  Blocked2DPacking p;
  for (int i = 0; i < 2; ++i) {
    if (s.dims[i] != d.dims[i] || s.dims[i] <= 0) return std::nullopt;
    p.dims[i] = d.dims[i];
    p.padded[i] = d.padded_dims[i];
    p.src_stride[i] = s.format_desc.blocking.strides[i];
    p.outer_stride[i] = b.strides[i];
    p.block[b.inner_idxs[i]] = b.inner_blks[i];
  }
  p.inner = static_cast<int>(b.inner_idxs[1]);
  p.offset0 = d.offset0;
  for (int i = 0; i < 2; ++i)
    if (p.block[i] <= 0 || p.padded[i] % p.block[i] != 0 || p.padded[i] < p.dims[i]) return std::nullopt;
  return p;
}

std::optional<Blocked2DPacking> describe_pointwise_conv_2d(const dnnl::memory::desc& plain,
                                                           const dnnl::memory::desc& packed) {
  dnnl_memory_desc_t s = plain.data, d = packed.data;
  if (s.ndims <= 2 || d.ndims != s.ndims || d.format_kind != dnnl_blocked || s.format_kind != dnnl_blocked)
    return std::nullopt;
  for (int i = 2; i < d.ndims; ++i)
    if (d.dims[i] != 1 || d.padded_dims[i] != 1 || d.padded_offsets[i] != 0 || s.dims[i] != 1) return std::nullopt;
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  for (int k = 0; k < b.inner_nblks; ++k)
    if (b.inner_idxs[k] > 1) return std::nullopt;
  // Unit dims add nothing to an offset, so the first two dims' strides and blocks describe it all.
  s.ndims = 2;
  d.ndims = 2;
  return describe_blocked_2d(dnnl::memory::desc(s), dnnl::memory::desc(d));
}

namespace {

// Stores 4 floats at `o`: non-temporal when kStream (then `o` is 16-byte aligned: the callers
// check the layout's alignment before choosing the streaming path).
template <bool kStream>
inline void store4(float* o, __m128 x) {
  if constexpr (kStream) {
    _mm_stream_ps(o, x);
  } else {
    _mm_storeu_ps(o, x);
  }
}

// Transposes the 4 x 4 floats at `s` (rows `stride` apart) and stores column k of them at o_k.
template <bool kStream>
inline void transpose_4x4(const float* s, int64_t stride, float* o0, float* o1, float* o2, float* o3) {
  __m128 x0 = _mm_loadu_ps(s), x1 = _mm_loadu_ps(s + stride);
  __m128 x2 = _mm_loadu_ps(s + 2 * stride), x3 = _mm_loadu_ps(s + 3 * stride);
  _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
  store4<kStream>(o0, x0);
  store4<kStream>(o1, x1);
  store4<kStream>(o2, x2);
  store4<kStream>(o3, x3);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

bool has_avx512();
bool has_avx2();

// How a pack stores: streaming when asked for and every 16-byte store is aligned (`aligned16`);
// through the AVX-512 blocks when the CPU has them, unless streaming their whole-line stores
// would be misaligned (`aligned64` false). Without AVX-512 the 4 x 4 transposes stream 16-byte
// pieces of lines that other transposes finish later, and each leaves a partial line to memory:
// on an AVX2 machine, ResNet-50's full refresh took 15-16 ms that way against 9.5 with oneDNN's
// reorders, so there they take cached stores.
// The 8 x 8 runs of 1 x 1 weights (transposed_run_avx2 with cb 8) do write whole lines: those
// stream on AVX2 (`stream_runs`), and so do the 3 x 3 weights' groups put together in L1
// (pack_rows_grouped_avx2); every other AVX2 path keeps cached stores. ResNet-50's full
// refresh at one thread (half its bytes in 1 x 1 convolutions) wrote its 100 MB with each line
// read first.
struct StorePaths {
  bool stream = false, avx512 = false, stream_runs = false;
};
StorePaths choose_paths(StoreMode mode, bool aligned16, bool aligned64, bool aligned32 = false) {
  StorePaths p;
  p.stream = mode == StoreMode::kStreaming && aligned16 && has_avx512();
  p.avx512 = has_avx512() && (!p.stream || aligned64);
  p.stream_runs = mode == StoreMode::kStreaming && aligned32 && !has_avx512() && has_avx2();
  return p;
}

// AVX-512: a 16 x 16 block moves as 16 loads, 64 shuffles and 16 whole-line stores, against 64
// loads, 128 shuffles and 64 16-byte stores as 4 x 4 blocks: about twice the speed when the
// data is in cache (a MobileNet v2 refresh), and the stores fill whole lines for streaming.
// Compiled for AVX-512 only here and chosen at run time; oneDNN asks for these 16/32/48/64-row
// layouts on AVX-512 machines.
#define LW_AVX512 __attribute__((target("avx512f")))
// GCC 12 reports the intrinsics' own _mm512_undefined_ps() operands as uninitialized (clang,
// which builds the fuzzers, has no -Wmaybe-uninitialized and no such report).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

bool has_avx512() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return has;
}

// Row i of the block is the 16 floats at s + i * stride; column k is stored at out(k) (16 floats,
// 64-byte aligned when kStream). Rows from `rows` on are not read and count as zeros.
// Always inlined: GCC made it a call per block, with a vzeroupper and the closure's captures
// reloaded from memory at every out(k) (full refresh, 2 threads: ResNet-50 5.0-5.1 -> 4.8-4.9 ms,
// MobileNet v2 0.70-0.77 -> 0.70-0.73 ms). Taking the 16 destinations before the first store
// instead spilled them to the stack and made MobileNet's 6% slower.
template <bool kStream, typename Out>
LW_AVX512 __attribute__((always_inline)) inline void transpose_16x16(const float* s, int64_t stride, Out out,
                                                                     int rows = 16) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_loadu_ps(s + i * stride) : _mm512_setzero_ps();
  // Pairs of rows interleaved: t[2m] = (a0 b0 a1 b1 | a4 b4 a5 b5 | ...), t[2m+1] the 2/3 halves.
  for (int m = 0; m < 8; ++m) {
    t[2 * m] = _mm512_unpacklo_ps(r[2 * m], r[2 * m + 1]);
    t[2 * m + 1] = _mm512_unpackhi_ps(r[2 * m], r[2 * m + 1]);
  }
  // Quads of rows: r[4q + c] holds column c, 4 + c, 8 + c, 12 + c of rows 4q .. 4q + 3, one per lane.
  for (int q = 0; q < 4; ++q) {
    const __m512d a = _mm512_castps_pd(t[4 * q]), b = _mm512_castps_pd(t[4 * q + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * q + 2]), d = _mm512_castps_pd(t[4 * q + 3]);
    r[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // Lanes regrouped: t[c] = columns c and 8 + c of rows 0-7, t[4 + c] = 4 + c and 12 + c; t[8..15] rows 8-15.
  for (int c = 0; c < 4; ++c) {
    t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
    t[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
    t[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
    t[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
  }
  for (int c = 0; c < 8; ++c) {
    const __m512 lo = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);  // column c (c < 4) or 4 + (c - 4)
    const __m512 hi = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xdd);  // column 8 + that
    const int col = c;  // t[0..3] carry columns 0-3 / 8-11, t[4..7] columns 4-7 / 12-15
    if constexpr (kStream) {
      _mm512_stream_ps(out(col), lo);
      _mm512_stream_ps(out(col + 8), hi);
    } else {
      _mm512_storeu_ps(out(col), lo);
      _mm512_storeu_ps(out(col + 8), hi);
    }
  }
}

// AVX2: an 8 x 8 block moves as 8 loads, 24 shuffles and 8 stores of 32 bytes, against 16
// loads, 32 shuffles and 16 stores of 16 bytes as 4 x 4 blocks, and each column's 8 values of
// an 8-row group (one row of an ABcd8b8a 8 x 8 block, AVX2's 3 x 3 weights) are stored at once
// instead of in two passes over the columns. ABcd8b8a packs, against the 4 x 4 code in one
// process: 256 x 256 x 3 x 3 0.69-0.72x the time, 512 x 512 x 3 x 3 0.82x, MobileNet v2's
// 1 x 1 weights 0.73-0.97x (one and two threads); ResNet-18's full refresh at one thread went
// from 1.22-1.52x a memcpy to 0.98-1.14x, ResNet-50's from 1.14-1.46x to 1.02-1.13x.
#define LW_AVX2 __attribute__((target("avx2")))

// pack_rows' 8-row step on AVX2: rows s0 + i * cols (i < 8), columns [j0, j1) (j1 - j0 a
// multiple of 8), column j to o + offset[j]. The next 8 rows' lines are requested meanwhile
// when `ahead`, once per 64-byte line, as pack_rows does for its other steps.
LW_AVX2 void rows8_avx2(const float* s0, int64_t cols, int64_t j0, int64_t j1, const int64_t* offset, float* o,
                        bool ahead) {
  for (int64_t j = j0; j < j1; j += 8) {
    if (ahead && (j & 15) == 0)
      for (int q = 0; q < 8; ++q) _mm_prefetch(reinterpret_cast<const char*>(s0 + (8 + q) * cols + j), _MM_HINT_T0);
    transpose_8x8(s0 + j, cols, [&](int k) { return o + offset[j + k]; });
  }
}

// pack_transposed_run's AVX2 path for rb and cb multiples of 8 (1 x 1 ABcd8b8a weights): 8
// source columns by 8 rows at a time, each destination tile row of 8 columns stored whole; the
// next 8 columns' lines are requested ahead, once per 16 rows. With cb 8 the 8 stores of a
// block are 256 contiguous bytes, whole lines: kStream writes them around the cache (32-byte
// aligned destination), unlike the 4 x 4 code's 16-byte pieces (see choose_paths).
template <bool kStream>
LW_AVX2 void transposed_run_avx2(const float* from, int64_t sc, int64_t rb, int64_t cb, int64_t g,
                                 int64_t tile_stride, float* dst) {
  const int64_t len = g * rb;
  for (int64_t c = 0; c < cb; c += 8) {
    const float* col = from + c * sc;
    const bool ahead = c + 8 < cb;
    for (int64_t r = 0; r < len; r += 8) {
      if (ahead && (r & 15) == 0)
        for (int q = 0; q < 8; ++q) _mm_prefetch(reinterpret_cast<const char*>(col + (8 + q) * sc + r), _MM_HINT_T0);
      float* o = dst + (r / rb) * tile_stride + (r % rb) * cb + c;
      transpose_8x8<kStream>(col + r, sc, [&](int k) { return o + k * cb; });
    }
  }
}

bool has_avx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}

// pack_rows' 16-row step: rows s0 + i * cols (i < 16), columns [j0, j1) in 16-column blocks,
// column j to o + offset[j]. Returns the first column left for the 4 x 4 code. `next`: where the
// rows transposed after these start (their column j0's counterpart), whose lines are requested
// column for column meanwhile (see pack_rows); null for none.
template <bool kStream>
LW_AVX512 int64_t rows16_avx512(const float* s0, int64_t cols, int64_t j0, int64_t j1, const int64_t* offset, float* o,
                                const float* next) {
  int64_t j = j0;
  for (; j + 16 <= j1; j += 16) {
    // The next rows' lines into L2 (they are used a whole pass over the columns from now, and
    // into L1 they pushed out lines still wanted), these rows' lines 4 blocks ahead into L1: one
    // thread, ResNet-50's full refresh 6.8 -> 6.4 ms (memcpy 5.1-5.5); two threads unchanged.
    if (next) {
      const float* n = next + (j - j0);
      for (int i = 0; i < 16; ++i) _mm_prefetch(reinterpret_cast<const char*>(n + i * cols), _MM_HINT_T1);
    }
    if (j + 64 < j1)
      for (int i = 0; i < 16; ++i) _mm_prefetch(reinterpret_cast<const char*>(s0 + i * cols + j + 64), _MM_HINT_T0);
    // With ordinary stores, each destination line is read before it is written; requesting the
    // lines of the block two ahead (for writing) starts those reads early instead of stalling
    // the stores on them. Full refresh of MobileNet v2 (14 MB, ordinary stores): one thread
    // 1.07-1.10 -> 0.89-0.95 ms, two 0.64-0.67 -> 0.55-0.57 ms.
    if constexpr (!kStream) {
      if (j + 32 + 16 <= j1)
        for (int k = 0; k < 16; ++k) __builtin_prefetch(o + offset[j + 32 + k], 1, 3);
    }
    transpose_16x16<kStream>(s0 + j, cols, [&](int k) { return o + offset[j + k]; });
  }
  return j;
}

// pack_transposed_run for rb and cb multiples of 16: each 16 x 16 block of 16 source columns
// by 16 rows lands as 16 destination row pieces of 16 floats. The 16 source columns are read
// as 16 runs of g * rb floats; each step requests the lines kAhead blocks further down the same
// runs (past their end, the start of the next 16 columns' runs). Requesting only the next
// columns' lines at the same rows, one block ahead, left too little time for a fetch from
// memory: a Gemm weight of 1024 x 2048 read transposed into BA16a64b, cold, one thread, went
// 8.5-9.2 -> 13.3-15.6 GB/s with this and runs of 64 tiles (memcpy 17-21), two threads
// 15-17 -> 23-24 GB/s; in cache (1024 x 1280), 24 -> 28-29 GB/s. Only the first vc of the cb
// columns exist in the source when the matrix's width is not a multiple of cb (a 1000-class
// classifier): the others are written as zeros, in the same whole-line stores.
template <bool kStream>
LW_AVX512 void transposed_run_avx512(const float* from, int64_t sc, int64_t rb, int64_t cb, int64_t vc, int64_t g,
                                     int64_t tile_stride, float* dst) {
  constexpr int64_t kAhead = 4;
  const int64_t len = g * rb;
  for (int64_t c = 0; c < cb; c += 16) {
    const float* col = from + c * sc;
    const int valid = static_cast<int>(std::clamp<int64_t>(vc - c, 0, 16));
    const int next_valid = static_cast<int>(std::clamp<int64_t>(vc - c - 16, 0, 16));
    for (int64_t r = 0; r < len; r += 16) {
      const int64_t want = r + kAhead * 16;
      const float* next = nullptr;
      int fetch = 0;
      if (want < len) {
        next = col + want;
        fetch = valid;
      } else if (c + 16 < cb) {
        next = col + 16 * sc + (want - len);
        fetch = next_valid;
      }
      for (int i = 0; i < fetch; ++i) _mm_prefetch(reinterpret_cast<const char*>(next + i * sc), _MM_HINT_T0);
      if constexpr (!kStream) {  // the destination lines two blocks ahead, as in rows16_avx512
        if (r + 32 < len) {
          float* o2 = dst + ((r + 32) / rb) * tile_stride + ((r + 32) % rb) * cb + c;
          for (int k = 0; k < 16; ++k) __builtin_prefetch(o2 + k * cb, 1, 3);
        }
      }
      float* o = dst + (r / rb) * tile_stride + (r % rb) * cb + c;
      transpose_16x16<kStream>(col + r, sc, [&](int k) { return o + k * cb; }, valid);
    }
  }
}
// n floats (a multiple of 16) to the 64-byte-aligned o, streamed.
LW_AVX512 void stream_row_avx512(float* o, const float* s, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) _mm512_stream_ps(o + i, _mm512_loadu_ps(s + i));
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Streamed packing of a matrix whose source rows are contiguous along the tile rows (C), with no
// padding along C: walks the source one row at a time, in order, and sends each cb-float piece
// of the row to its tile with whole-line streaming stores. The reads are then one sequential
// stream, where walking tile by tile reads rb short runs a row apart per tile; the scattered
// stores cost nothing extra when streamed (each piece is whole lines), though they do when
// cached (so updates that stay in cache keep the tile walk). 512 x 2048 and 2048 x 512 into
// BA16a64b, 48 MB, one thread: 3.4-3.6 ms tile by tile, 1.8-2.3 ms this way, memcpy 2.2-2.4.
// The padding rows of the last row of tiles are zeroed afterwards.
LW_AVX512 void stream_source_rows(const Blocked2DPacking& p, const float* src, float* dst, int threads) {
  const int C = p.inner, R = 1 - p.inner;
  const int64_t rb = p.block[R], cb = p.block[C], nc = p.dims[C] / cb, rows = p.dims[R];
  parallel_ranges(rows, threads, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = src + r * p.src_stride[R];
      float* to = dst + p.offset0 + (r / rb) * p.outer_stride[R] + (r % rb) * cb;
      for (int64_t tc = 0; tc < nc; ++tc) stream_row_avx512(to + tc * p.outer_stride[C], row + tc * cb, cb);
    }
    streaming_fence();  // this thread's stores, before the region ends
  });
  const int64_t last = (p.padded[R] / rb) - 1, valid = rows - last * rb;
  if (valid < rb)
    for (int64_t tc = 0; tc < nc; ++tc)
      std::memset(dst + p.offset0 + last * p.outer_stride[R] + tc * p.outer_stride[C] + valid * cb, 0,
                  static_cast<size_t>((rb - valid) * cb) * sizeof(float));
}

// One tile: rows along dim R (rb of them, vr valid), columns along dim C (cb, vc valid), row-major
// in dst. `from` points at the source element of (row 0, col 0); sr/sc its strides.
template <bool kStream>
void pack_tile(const float* from, int64_t sr, int64_t sc, int64_t rb, int64_t cb, int64_t vr, int64_t vc, float* dst,
               bool avx512) {
  if (vr <= 0 || vc <= 0) {
    std::memset(dst, 0, static_cast<size_t>(rb * cb) * sizeof(float));
    return;
  }
  if (sc == 1) {  // rows are contiguous in the source: row copies
    // Streamed only as whole 64-byte lines (AVX-512): with 16-byte streaming stores these row
    // copies ran at 10 GB/s against 17 cached (2 threads, cold); whole lines give 22 against 17.6.
    const bool whole_lines = kStream && avx512 && vc == cb && cb % 16 == 0;
    for (int64_t r = 0; r < vr; ++r) {
      // The same columns rb rows down: the next tile when tiles are walked down the rows (the
      // hardware prefetcher misses these short strided runs). Streamed, 50 MB of MatMul weights
      // cold: 4.8-5.2 -> 3.7-4.0 ms at one thread, 3.9 -> 2.6 ms at two (memcpy 2.4-2.6).
      // Past the matrix it requests nothing harmful: prefetches do not fault.
      const char* next = reinterpret_cast<const char*>(from + (r + rb) * sr);
      for (int64_t b = 0; b < vc * static_cast<int64_t>(sizeof(float)); b += 64) _mm_prefetch(next + b, _MM_HINT_T0);
      if (whole_lines) {
        stream_row_avx512(dst + r * cb, from + r * sr, cb);
        continue;
      }
      std::memcpy(dst + r * cb, from + r * sr, static_cast<size_t>(vc) * sizeof(float));
      if (vc < cb) std::memset(dst + r * cb + vc, 0, static_cast<size_t>(cb - vc) * sizeof(float));
    }
  } else if (sr == 1) {  // columns are contiguous: transpose 4 x 4 blocks
    const int64_t r4 = vr / 4 * 4, c4 = vc / 4 * 4;
    for (int64_t c = 0; c < c4; c += 4) {
      const float* col = from + c * sc;
      for (int64_t r = 0; r < r4; r += 4) {
        float* o = dst + r * cb + c;
        transpose_4x4<kStream>(col + r, sc, o, o + cb, o + 2 * cb, o + 3 * cb);
      }
      for (int64_t r = r4; r < vr; ++r)
        for (int64_t k = 0; k < 4; ++k) dst[r * cb + c + k] = col[k * sc + r];
    }
    for (int64_t c = c4; c < vc; ++c)
      for (int64_t r = 0; r < vr; ++r) dst[r * cb + c] = from[c * sc + r];
    if (vc < cb)
      for (int64_t r = 0; r < vr; ++r) std::memset(dst + r * cb + vc, 0, static_cast<size_t>(cb - vc) * sizeof(float));
  } else {
    for (int64_t r = 0; r < vr; ++r) {
      for (int64_t c = 0; c < vc; ++c) dst[r * cb + c] = from[r * sr + c * sc];
      for (int64_t c = vc; c < cb; ++c) dst[r * cb + c] = 0.0f;
    }
  }
  if (vr < rb) std::memset(dst + vr * cb, 0, static_cast<size_t>((rb - vr) * cb) * sizeof(float));
}

// Whether pack_transposed_run takes the AVX-512 path, the one that accepts a `vc` below cb
// (source columns that exist; the rest are written as zeros).
bool transposed_run_handles_partial(bool avx512, int64_t rb, int64_t cb) {
  return avx512 && rb % 16 == 0 && cb % 16 == 0;
}

// Transposed source, `g` full tiles side by side along R (each rb x cb, tile stride `tile_stride`
// in dst): reads source columns along all g tiles (g * rb contiguous floats each) instead of
// one 64-byte run from each of cb columns per tile, and (here, on the 4 x 4 path) requests the
// next columns' lines ahead; the AVX-512 path prefetches along the runs instead.
// 16 columns at a time where cb allows, so each destination line (16 floats of one tile row)
// is written whole while in L1. (A 4096 x 4096 matrix, one thread: 7.9 ms tile by tile, 7.2 ms
// in runs of 16 tiles, 6.0 ms with the prefetches; a memcpy of it takes 3.3 ms. A 512 x 2048
// one in cache: 23 -> 36 GB/s with 16 columns at a time.)
template <bool kStream>
void pack_transposed_run(const float* from, int64_t sc, int64_t rb, int64_t cb, int64_t vc, int64_t g,
                         int64_t tile_stride, float* dst, bool avx512, bool stream_runs) {
  if (transposed_run_handles_partial(avx512, rb, cb)) {
    transposed_run_avx512<kStream>(from, sc, rb, cb, vc, g, tile_stride, dst);
    return;
  }
  if constexpr (!kStream) {  // AVX2 machines stream only these runs (choose_paths)
    if (!avx512 && rb % 8 == 0 && cb % 8 == 0 && has_avx2()) {
      if (stream_runs && cb == 8) {
        transposed_run_avx2<true>(from, sc, rb, cb, g, tile_stride, dst);
      } else {
        transposed_run_avx2<false>(from, sc, rb, cb, g, tile_stride, dst);
      }
      return;
    }
  }
  const int64_t len = g * rb;
  const int64_t width = cb % 16 == 0 ? 16 : 4;
  for (int64_t c = 0; c < cb; c += width) {
    const float* col = from + c * sc;
    const float* next = col + width * sc;  // the next columns, requested ahead (see pack_blocked_rows)
    const bool ahead = c + width < cb;
    for (int64_t r = 0; r < len; r += 4) {
      float* o = dst + (r / rb) * tile_stride + (r % rb) * cb + c;
      const bool fetch = ahead && (r & 15) == 0;
      for (int64_t q = 0; q < width; q += 4) {
        const float* s = col + q * sc + r;
        if (fetch) {
          const float* n = next + q * sc + r;
          _mm_prefetch(reinterpret_cast<const char*>(n), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(n + sc), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(n + 2 * sc), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(n + 3 * sc), _MM_HINT_T0);
        }
        transpose_4x4<kStream>(s, sc, o + q, o + cb + q, o + 2 * cb + q, o + 3 * cb + q);
      }
    }
  }
}

template <bool kStream>
void pack_2d(const Blocked2DPacking& p, const float* src, float* dst, int threads, bool avx512, bool stream_runs) {
  const int C = p.inner, R = 1 - p.inner;
  const int64_t rb = p.block[R], cb = p.block[C];
  const int64_t nr = p.padded[R] / rb, nc = p.padded[C] / cb;
  // Walk the tiles in destination order (the dim with the larger block stride outermost), so
  // each thread writes one contiguous stretch.
  const bool r_outer = p.outer_stride[R] >= p.outer_stride[C];
  // Tiles go in groups of consecutive ones along R when the source is transposed (R is its
  // contiguous dim): pack_transposed_run reads each source column across the whole group.
  const bool transposed = p.src_stride[R] == 1 && p.src_stride[C] != 1 && !r_outer && rb % 4 == 0 && cb % 4 == 0;
  if constexpr (kStream) {
    // avx512 with kStream: the destination and its strides are 64-byte aligned (choose_paths).
    if (avx512 && p.src_stride[C] == 1 && cb % 16 == 0 && p.padded[C] == p.dims[C]) {
      stream_source_rows(p, src, dst, threads);
      return;
    }
  }
  // 64 tiles per run on the AVX-512 path (its prefetching wants long runs: see
  // transposed_run_avx512), 16 on the 4 x 4 one.
  const int64_t group = !transposed ? 1 : avx512 ? 64 : 16;
  const int64_t groups_r = (nr + group - 1) / group;
  const int64_t units = groups_r * nc;
  auto pack_one = [&](int64_t tr, int64_t tc) {
    const int64_t r0 = tr * rb, c0 = tc * cb;
    const int64_t vr = std::min(rb, p.dims[R] - r0), vc = std::min(cb, p.dims[C] - c0);
    const float* from = vr > 0 && vc > 0 ? src + r0 * p.src_stride[R] + c0 * p.src_stride[C] : src;
    float* to = dst + p.offset0 + tr * p.outer_stride[R] + tc * p.outer_stride[C];
    pack_tile<kStream>(from, p.src_stride[R], p.src_stride[C], rb, cb, vr, vc, to, avx512);
  };
  parallel_ranges(units, threads, [&](int64_t u0, int64_t u1) {
  for (int64_t u = u0; u < u1; ++u) {
    // Destination order: the dim with the larger block stride outermost.
    const int64_t gr = r_outer ? u / nc : u % groups_r;
    const int64_t tc = r_outer ? u % nc : u / groups_r;
    const int64_t tr0 = gr * group, tr1 = std::min(nr, tr0 + group);
    const int64_t full_r = std::min(tr1, p.dims[R] / rb);  // tiles [tr0, full_r) have no padding along R
    const int64_t vc = std::min(cb, p.dims[C] - tc * cb);
    if (transposed && full_r > tr0 && vc > 0 && (vc == cb || transposed_run_handles_partial(avx512, rb, cb))) {
      float* out = dst + p.offset0 + tr0 * p.outer_stride[R] + tc * p.outer_stride[C];
      pack_transposed_run<kStream>(src + tr0 * rb + tc * cb * p.src_stride[C], p.src_stride[C], rb, cb, vc,
                                   full_r - tr0, p.outer_stride[R], out, avx512, stream_runs);
      for (int64_t tr = full_r; tr < tr1; ++tr) pack_one(tr, tc);
    } else {
      for (int64_t tr = tr0; tr < tr1; ++tr) pack_one(tr, tc);
    }
  }
  if (kStream || stream_runs) streaming_fence();  // this thread's stores, before the region ends
  });
}

}  // namespace

void pack_blocked_2d(const Blocked2DPacking& p, const float* src, float* dst, int threads, StoreMode mode) {
  // Streaming stores need 16-byte-aligned destinations: every 4-float group of a tile starts
  // at a multiple of 4 floats from `dst` when the tile strides and the column block are.
  const int C = p.inner, R = 1 - p.inner;
  const bool aligned = aligned16(dst) && p.offset0 % 4 == 0 && p.outer_stride[R] % 4 == 0 &&
                       p.outer_stride[C] % 4 == 0 && p.block[C] % 4 == 0;
  // The AVX-512 blocks store whole 64-byte lines: streaming them needs 16-float alignment.
  const bool aligned64 = reinterpret_cast<uintptr_t>(dst) % 64 == 0 && p.offset0 % 16 == 0 &&
                         p.outer_stride[R] % 16 == 0 && p.outer_stride[C] % 16 == 0 && p.block[C] % 16 == 0;
  const bool aligned32 = reinterpret_cast<uintptr_t>(dst) % 32 == 0 && p.offset0 % 8 == 0 &&
                         p.outer_stride[R] % 8 == 0 && p.outer_stride[C] % 8 == 0 && p.block[C] % 8 == 0;
  const StorePaths paths = choose_paths(mode, aligned, aligned64, aligned32);
  if (paths.stream) {
    pack_2d<true>(p, src, dst, threads, paths.avx512, false);
  } else {
    pack_2d<false>(p, src, dst, threads, paths.avx512, paths.stream_runs);
  }
}

namespace {

// The shortest run length (a multiple of 8 columns, whole 64-byte lines of rows, at most 8 KB a
// run) whose every run of columns fills a contiguous stretch of p's destination: the
// BlockedRowsPacking::group described there. Sets p.group and p.group_base; leaves group 0
// when no length qualifies.
void find_column_groups(BlockedRowsPacking& p) {
  constexpr int64_t kMaxGroupFloats = 2048;
  const int64_t* offset = p.column_offset.data();
  std::vector<char> seen;
  for (int64_t g = 8; g <= p.cols && g * p.block <= kMaxGroupFloats; g += 8) {
    if (p.cols % g != 0 || g * p.block < 16) continue;
    std::vector<int64_t> bases;
    bool ok = true;
    for (int64_t j0 = 0; ok && j0 < p.cols; j0 += g) {
      const int64_t base = *std::min_element(offset + j0, offset + j0 + g);
      seen.assign(static_cast<size_t>(g), 0);
      for (int64_t j = j0; ok && j < j0 + g; ++j) {
        const int64_t d = offset[j] - base;
        ok = d % p.block == 0 && d / p.block < g && !seen[static_cast<size_t>(d / p.block)];
        if (ok) seen[static_cast<size_t>(d / p.block)] = 1;
      }
      bases.push_back(base);
    }
    if (ok) {
      p.group = g;
      p.group_base = std::move(bases);
      return;
    }
  }
}

}  // namespace

std::optional<BlockedRowsPacking> describe_blocked_rows(const dnnl::memory::desc& plain,
                                                        const dnnl::memory::desc& packed) {
  const dnnl_memory_desc_t& s = plain.data;
  const dnnl_memory_desc_t& d = packed.data;
  const int nd = s.ndims;
  if (nd < 2 || d.ndims != nd || s.data_type != dnnl_f32 || d.data_type != dnnl_f32) return std::nullopt;
  if (s.format_kind != dnnl_blocked || d.format_kind != dnnl_blocked) return std::nullopt;
  if (s.format_desc.blocking.inner_nblks != 0 || s.offset0 != 0 || s.extra.flags != 0 || d.extra.flags != 0)
    return std::nullopt;
  // The source must be dense row-major.
  int64_t expect = 1;
  for (int i = nd; i-- > 0;) {
    if (s.dims[i] <= 0 || s.dims[i] != d.dims[i] || s.format_desc.blocking.strides[i] != expect) return std::nullopt;
    expect *= s.dims[i];
  }
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  for (int i = 0; i < nd; ++i)
    if (d.padded_offsets[i] != 0 || (i > 0 && d.padded_dims[i] != d.dims[i])) return std::nullopt;
  // Inner blocks: at most one per dim; a block on dim 0 must be the innermost (its rows o % block
  // lie next to each other). Blocks on the other dims (ABcd8b8a's 8b) only move columns, which
  // the offsets below take in.
  int64_t block_of[DNNL_MAX_NDIMS], inner_stride[DNNL_MAX_NDIMS];
  std::fill(block_of, block_of + nd, int64_t{1});
  std::fill(inner_stride, inner_stride + nd, int64_t{0});
  int64_t stride = 1;
  for (int m = b.inner_nblks; m-- > 0;) {
    const int k = static_cast<int>(b.inner_idxs[m]);
    if (k < 0 || k >= nd || block_of[k] != 1 || b.inner_blks[m] <= 0) return std::nullopt;
    if (k == 0 && m != b.inner_nblks - 1) return std::nullopt;
    block_of[k] = b.inner_blks[m];
    inner_stride[k] = stride;
    stride *= b.inner_blks[m];
  }
  for (int i = 1; i < nd; ++i)
    if (d.dims[i] % block_of[i] != 0) return std::nullopt;
  BlockedRowsPacking p;
  p.rows = d.dims[0];
  p.padded_rows = d.padded_dims[0];
  p.block = block_of[0];
  if (p.padded_rows % p.block != 0) return std::nullopt;
  p.block_stride = b.strides[0];
  p.offset0 = d.offset0;
  p.cols = expect / p.rows;
  p.column_offset.resize(static_cast<size_t>(p.cols));
  // Column j is the row-major index over dims 1..nd-1; walk those indices as an odometer
  // instead of dividing j by every dim for every column (a load makes one of these per conv).
  // Index x of dim i lies (x / block) * stride + (x % block) * inner stride from index 0.
  auto dim_offset = [&](int i, int64_t x) { return x / block_of[i] * b.strides[i] + x % block_of[i] * inner_stride[i]; };
  int64_t index[DNNL_MAX_NDIMS] = {}, off = 0;
  for (int64_t j = 0; j < p.cols; ++j) {
    p.column_offset[static_cast<size_t>(j)] = off;
    for (int i = nd - 1; i >= 1; --i) {
      off -= dim_offset(i, index[i]);
      if (++index[i] < d.dims[i]) {
        off += dim_offset(i, index[i]);
        break;
      }
      index[i] = 0;
    }
  }
  find_column_groups(p);
  return p;
}

namespace {

template <bool kStream>
void pack_rows(const BlockedRowsPacking& p, const float* src, float* dst, int threads, bool avx512) {
  // Work units: one block of rows by a stretch of columns, so a single block (64 output
  // channels) still spreads over the threads.
  constexpr int64_t kCols = 512;
  const int64_t blocks = p.padded_rows / p.block, col_chunks = (p.cols + kCols - 1) / kCols;
  const int64_t units = blocks * col_chunks;
  const int64_t* offset = p.column_offset.data();
  parallel_ranges(units, threads, [&](int64_t u0, int64_t u1) {
  for (int64_t u = u0; u < u1; ++u) {
    const int64_t ob = u / col_chunks, j0 = u % col_chunks * kCols, j1 = std::min(p.cols, j0 + kCols);
    float* out = dst + p.offset0 + ob * p.block_stride;
    const int64_t r0 = ob * p.block;
    if (p.block == 1) {  // unblocked: a permuted copy of one row, a run of adjacent columns at a time
      // (packed_gemm's panels of a [k, n] B: runs of 16; one float at a time, the transformer's
      // full refresh took 14.6 ms against a memcpy of 7.8)
      const float* row = src + r0 * p.cols;
      for (int64_t j = j0; j < j1;) {
        int64_t end = j + 1;
        while (end < j1 && offset[end] == offset[end - 1] + 1) ++end;
        std::memcpy(out + offset[j], row + j, static_cast<size_t>(end - j) * sizeof(float));
        j = end;
      }
      continue;
    }
    const int64_t valid = std::min(p.block, p.rows - r0);
    const int64_t j4 = j0 + (j1 - j0) / 4 * 4;
    // 16 rows at a time where the block allows: the 16 values of one column then fill a whole
    // 64-byte destination line while it is in L1, instead of a quarter of it per pass over the
    // columns (a MobileNet v2 1x1 weight in cache, one thread: 35 -> 43 GB/s; cold data gains
    // 0-15%).
    const int64_t r16 = p.block % 16 == 0 ? valid / 16 * 16 : 0;
    for (int64_t r = 0; r < r16; r += 16) {
      const float* s0 = src + (r0 + r) * p.cols;
      // The next 16 rows' lines are requested while these are transposed: each row is a short
      // run (one chunk), too short for the hardware prefetcher to ramp up on (one thread,
      // 100 MB of 1x1/3x3 conv weights, cold: 11.7-12.6 ms without, 7.5-8.5 ms with). Written
      // out here: GCC 12 drops prefetches wrapped in a helper function (it sees no side effect).
      const bool ahead = r + 32 <= valid;
      // After the last 16 rows of this unit come those of the next unit this thread takes (the
      // next stretch of columns of the block, or the next block's first): requesting them too
      // leaves no unit starting cold (full refresh, one thread: ResNet-50 6.4-6.5 -> 6.1 ms,
      // ResNet-18 2.3 -> 2.1 ms, against memcpys of 4.9-5.1 and 1.9-2.0 ms).
      const float* next_rows = ahead ? s0 + 16 * p.cols + j0
                               : r + 16 < r16 ? nullptr
                               : j1 < p.cols ? src + r0 * p.cols + j1
                               : r0 + p.block < p.rows ? src + (r0 + p.block) * p.cols
                                                       : nullptr;
      const int64_t jv = avx512 ? rows16_avx512<kStream>(s0, p.cols, j0, j4, offset, out + r, next_rows) : j0;
      for (int64_t j = jv; j < j4; j += 4) {
        float* o = out + r;
        const bool fetch = ahead && (j & 15) == 0;  // once per 64-byte line (j0 is a multiple of 16)
        for (int64_t q = 0; q < 16; q += 4) {
          const float* s = s0 + q * p.cols + j;
          if (fetch) {
            const float* next = s + 16 * p.cols;
            _mm_prefetch(reinterpret_cast<const char*>(next), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(next + p.cols), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(next + 2 * p.cols), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(next + 3 * p.cols), _MM_HINT_T0);
          }
          // column j + k of rows r + q .. r + q + 3 goes to o + offset[j + k] + q
          transpose_4x4<kStream>(s, p.cols, o + offset[j] + q, o + offset[j + 1] + q, o + offset[j + 2] + q,
                        o + offset[j + 3] + q);
        }
      }
      for (int64_t k = 0; k < 16; ++k)
        for (int64_t j = j4; j < j1; ++j) out[offset[j] + r + k] = s0[k * p.cols + j];
    }
    // Blocks of 8 rows on AVX2 (with cached stores, the only kind it takes: see choose_paths)
    // 8 rows at a time.
    int64_t r8 = r16;
    if constexpr (!kStream) {
      if (!avx512 && p.block % 16 != 0 && p.block % 8 == 0 && has_avx2()) {
        r8 = valid / 8 * 8;
        const int64_t j8 = j0 + (j1 - j0) / 8 * 8;
        for (int64_t r = 0; r < r8; r += 8) {
          const float* s0 = src + (r0 + r) * p.cols;
          rows8_avx2(s0, p.cols, j0, j8, offset, out + r, r + 16 <= valid);
          for (int64_t k = 0; k < 8; ++k)
            for (int64_t j = j8; j < j1; ++j) out[offset[j] + r + k] = s0[k * p.cols + j];
        }
      }
    }
    // Blocks of 4 or 8 rows (or the rest of a partial block) 4 rows at a time.
    const int64_t r4 = p.block % 4 == 0 ? valid / 4 * 4 : r8;
    for (int64_t r = r8; r < r4; r += 4) {
      const float* s0 = src + (r0 + r) * p.cols;
      const float* next = s0 + 4 * p.cols;
      const bool ahead = r + 8 <= valid;
      for (int64_t j = j0; j < j4; j += 4) {
        if (ahead && (j & 15) == 0) {
          _mm_prefetch(reinterpret_cast<const char*>(next + j), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(next + p.cols + j), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(next + 2 * p.cols + j), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(next + 3 * p.cols + j), _MM_HINT_T0);
        }
        transpose_4x4<kStream>(s0 + j, p.cols, out + offset[j] + r, out + offset[j + 1] + r, out + offset[j + 2] + r,
                      out + offset[j + 3] + r);
      }
      for (int64_t k = 0; k < 4; ++k)
        for (int64_t j = j4; j < j1; ++j) out[offset[j] + r + k] = s0[k * p.cols + j];
    }
    for (int64_t r = r4; r < valid; ++r) {
      const float* row = src + (r0 + r) * p.cols;
      for (int64_t j = j0; j < j1; ++j) out[offset[j] + r] = row[j];
    }
    for (int64_t r = std::max<int64_t>(valid, 0); r < p.block; ++r)  // padding rows
      for (int64_t j = j0; j < j1; ++j) out[offset[j] + r] = 0.0f;
  }
  if constexpr (kStream) streaming_fence();  // this thread's stores, before the region ends
  });
}

// One group gi of the 8 rows at s0 (`valid` of them real) into the L1 buffer `stage`, then to
// `out` + the group's base with streaming stores. Its own AVX2 function: clang compiles no AVX
// code in the body of an OpenMP region, which does not inherit the caller's target.
LW_AVX2 void pack_group_avx2(const BlockedRowsPacking& p, const float* s0, int64_t valid, int64_t gi, float* out,
                             float* stage) {
  constexpr int64_t kBlock = 8;
  const int64_t g = p.group, j0 = gi * g, base = p.group_base[static_cast<size_t>(gi)];
  const int64_t* offset = p.column_offset.data();
  if (valid == kBlock) {
    // The source lines of the group after next, one request per 64-byte line of each row:
    // eight short runs a row apart, too scattered for the hardware prefetcher alone.
    const int64_t ahead = j0 + 2 * g;
    for (int64_t j = j0; j < j0 + g; j += 8) {
      if (((j - j0) & 15) == 0 && ahead + (j - j0) < p.cols)
        for (int q = 0; q < 8; ++q)
          _mm_prefetch(reinterpret_cast<const char*>(s0 + q * p.cols + ahead + (j - j0)), _MM_HINT_T0);
      transpose_8x8(s0 + j, p.cols, [&](int k) { return stage + (offset[j + k] - base); });
    }
  } else {  // the last, partial block: its padding rows are zeros
    for (int64_t j = j0; j < j0 + g; ++j)
      for (int64_t r = 0; r < kBlock; ++r) stage[offset[j] - base + r] = r < valid ? s0[r * p.cols + j] : 0.0f;
  }
  float* o = out + base;
  for (int64_t i = 0; i < kBlock * g; i += 8) _mm256_stream_ps(o + i, _mm256_load_ps(stage + i));
}

// pack_rows for AVX2 blocks of 8 rows whose columns come in groups (p.group, a multiple of 8):
// an 8-row block's group is transposed 8 x 8 at a time into an L1 buffer laid out as its
// destination stretch, which then goes out with 32-byte streaming stores, whole lines in order.
// Transposing straight to the destination writes 32-byte halves of lines whose other halves
// come a transpose later, so there the lines take cached stores, each read from memory before it
// is written: ResNet-18's full refresh (3 x 3 weights in ABcd8b8a) at one thread took 1.3-1.4x
// a memcpy of its bytes. Destination 32-byte aligned at every group (pack_blocked_rows checks).
void pack_rows_grouped_avx2(const BlockedRowsPacking& p, const float* src, float* dst, int threads) {
  constexpr int64_t kBlock = 8;
  const int64_t g = p.group;
  // Work units: one block of rows by a stretch of whole groups, about 512 columns.
  const int64_t per_unit = std::max<int64_t>(1, 512 / g), groups = p.cols / g;
  const int64_t blocks = p.padded_rows / kBlock, chunks = (groups + per_unit - 1) / per_unit;
  const int64_t units = blocks * chunks;
  parallel_ranges(units, threads, [&](int64_t u0, int64_t u1) {
    alignas(64) float stage[2048];  // find_column_groups' kMaxGroupFloats
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t ob = u / chunks, g0 = u % chunks * per_unit, g1 = std::min(groups, g0 + per_unit);
      const int64_t r0 = ob * kBlock;
      for (int64_t gi = g0; gi < g1; ++gi)
        pack_group_avx2(p, src + r0 * p.cols, std::min(kBlock, p.rows - r0), gi, dst + p.offset0 + ob * p.block_stride,
                        stage);
    }
    streaming_fence();  // this thread's stores, before the region ends
  });
}

}  // namespace

void pack_blocked_rows(const BlockedRowsPacking& p, const float* src, float* dst, int threads, StoreMode mode) {
  // Every store address is a multiple of 4 floats from `dst` (4-row groups of a block) when the
  // block, its stride, offset0 and every column offset are.
  bool aligned = aligned16(dst) && p.block % 4 == 0 && p.block_stride % 4 == 0 && p.offset0 % 4 == 0;
  for (size_t j = 0; aligned && j < p.column_offset.size(); ++j) aligned = p.column_offset[j] % 4 == 0;
  // The AVX-512 blocks (16-row groups) store whole 64-byte lines: streaming them needs
  // 16-float alignment of every destination row piece.
  bool aligned64 = aligned && reinterpret_cast<uintptr_t>(dst) % 64 == 0 && p.block_stride % 16 == 0 &&
                   p.offset0 % 16 == 0;
  for (size_t j = 0; aligned64 && j < p.column_offset.size(); ++j) aligned64 = p.column_offset[j] % 16 == 0;
  const StorePaths paths = choose_paths(mode, aligned, aligned64);
  // AVX2 streams whole groups of 8-row blocks (see pack_rows_grouped_avx2) where every group
  // starts 32-byte aligned.
  bool grouped = mode == StoreMode::kStreaming && !has_avx512() && has_avx2() && p.block == 8 && p.group > 0 &&
                 p.group % 8 == 0 && reinterpret_cast<uintptr_t>(dst) % 32 == 0 && p.offset0 % 8 == 0 &&
                 p.block_stride % 8 == 0;
  for (size_t i = 0; grouped && i < p.group_base.size(); ++i) grouped = p.group_base[i] % 8 == 0;
  if (grouped) {
    pack_rows_grouped_avx2(p, src, dst, threads);
  } else if (paths.stream) {
    pack_rows<true>(p, src, dst, threads, paths.avx512);
  } else {
    pack_rows<false>(p, src, dst, threads, paths.avx512);
  }
}

}  // namespace lw::cpu
