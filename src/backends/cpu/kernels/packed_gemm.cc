#include "backends/cpu/kernels/packed_gemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/gemm_block.h"
#include "backends/cpu/kernels/gemm_block_avx512.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/work_shares.h"
#include "core/stream_copy.h"

namespace lw::cpu {

namespace {

static_assert(kPackedGemmPanel == kGemmBlockCols, "an AVX2 panel is one register block wide");
// The AVX-512 blocks: R rows by NV vectors of 16 columns. On a Zen 5 core, one thread, B from
// memory: the MLP's 8 x 4096 x 4096 layer 150 GFLOPS with 8 x 48 (6 x 64, 12 x 32 and 14 x 32:
// 100-108; oneDNN's matmul 110), the transformer's 128-row products 238-256 with 8 x 48 or
// 6 x 64 (oneDNN 250-259). Narrower blocks serve products with few columns, where a wide panel
// would be mostly padding.
template <int NV, bool kSiLU, int... R>
constexpr std::array<GemmBlockAvx512Fn, sizeof...(R) + 1> avx512_blocks(std::integer_sequence<int, R...>) {
  return {nullptr, gemm_block_avx512<R + 1, NV, kSiLU>...};
}
// By rows (index 0: none); the ...S tables end in SiLU.
constexpr auto kBlocksX16 = avx512_blocks<1, false>(std::make_integer_sequence<int, 14>{});
constexpr auto kBlocksX32 = avx512_blocks<2, false>(std::make_integer_sequence<int, 12>{});
constexpr auto kBlocksX48 = avx512_blocks<3, false>(std::make_integer_sequence<int, 8>{});
constexpr auto kBlocksX64 = avx512_blocks<4, false>(std::make_integer_sequence<int, 6>{});
constexpr auto kBlocksX16S = avx512_blocks<1, true>(std::make_integer_sequence<int, 14>{});
constexpr auto kBlocksX32S = avx512_blocks<2, true>(std::make_integer_sequence<int, 12>{});
constexpr auto kBlocksX48S = avx512_blocks<3, true>(std::make_integer_sequence<int, 8>{});
constexpr auto kBlocksX64S = avx512_blocks<4, true>(std::make_integer_sequence<int, 6>{});

struct PathShape {
  int rows;                                // rows per block
  int64_t panel;                           // columns per panel
  const GemmBlockAvx512Fn* avx512_blocks;  // by rows, or null (AVX2: gemm_block.h)
  const GemmBlockAvx512Fn* avx512_silu_blocks;  // the same ending in SiLU
  // AVX-512: the block requests B's lines this many floats ahead of the row it reads (about 43
  // to 64 rows of a panel). One thread, B from memory: the MLP's layer 100 -> 150 GFLOPS; the
  // transformer at two threads 3% faster than with none, 2% than with half as far.
  int64_t b_ahead;
};

PathShape path_shape(GemmPath path) {
  switch (path) {
    case GemmPath::kAvx512x16:
      return {14, 16, kBlocksX16.data(), kBlocksX16S.data(), 1024};
    case GemmPath::kAvx512x32:
      return {12, 32, kBlocksX32.data(), kBlocksX32S.data(), 2048};
    case GemmPath::kAvx512x48:
      return {8, 48, kBlocksX48.data(), kBlocksX48S.data(), 2048};
    case GemmPath::kAvx512x64:
      return {6, 64, kBlocksX64.data(), kBlocksX64S.data(), 4096};
    case GemmPath::kAvx2:
      break;
  }
  return {kGemmBlockRows, kPackedGemmPanel, nullptr, nullptr, 0};
}

// Depth of one pass over K: a [m, 512] slice of A (256 KB for 128 rows) stays in L2 while every
// panel of B takes its turn, and a panel's slice (32 KB on AVX2) stays in L1 while the row
// blocks of A pass over it. With a single row block (AVX-512, up to 8 rows), one pass: each
// panel is then one contiguous stream from memory.
constexpr int64_t kDepth = 512;

// The `full` whole `panel`-float pieces (a multiple of 8) of one row of B to their panels
// (`panel_stride` floats apart), streamed past the cache or stored.
__attribute__((target("avx2,fma"))) void row_to_panels(const float* row, int64_t full, int64_t panel, float* o,
                                                       int64_t panel_stride, bool stream) {
  for (int64_t p = 0; p < full; ++p, o += panel_stride) {
    const float* from = row + p * panel;
    for (int64_t c = 0; c < panel; c += 8) {
      const __m256 v = _mm256_loadu_ps(from + c);
      if (stream) {
        _mm256_stream_ps(o + c, v);
      } else {
        _mm256_storeu_ps(o + c, v);
      }
    }
  }
}

// B [k, n] row-major into panels of `panel` columns: row by row (sequential reads), each row's
// pieces to their panels, as whole 64-byte lines streamed past the cache when asked (no line is
// read for ownership first) or copied. The generic row packer (blocked_pack.h) walked the same
// bytes in 512-column pieces and left the transformer's full refresh at 1.95x a memcpy on one
// thread. (The vector code is in row_to_panels: clang does not compile AVX intrinsics in an
// OpenMP region's outlined body, which does not inherit the target attribute.)
void pack_panels(const float* b, int64_t k, int64_t n, int64_t panel, float* dst, StoreMode mode) {
  const int64_t full = n / panel, tail = n - full * panel;
  const bool stream = mode == StoreMode::kStreaming && reinterpret_cast<uintptr_t>(dst) % 64 == 0;
  const int threads = k * n >= 65536 ? omp_get_max_threads() : 1;
  parallel_ranges(k, threads, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const float* row = b + q * n;
      row_to_panels(row, full, panel, dst + q * panel, k * panel, stream);
      if (tail != 0) {
        float* o = dst + (full * k + q) * panel;
        std::memcpy(o, row + full * panel, static_cast<size_t>(tail) * sizeof(float));
        std::memset(o + tail, 0, static_cast<size_t>(panel - tail) * sizeof(float));
      }
    }
    if (stream) streaming_fence();  // this thread's stores, before the region ends
  });
}

}  // namespace

std::shared_ptr<PackedLayout> packed_gemm_b_packing(int64_t k, int64_t n, bool b_rows_are_columns, GemmPath path) {
  // make_weight_packing gives the layout's key, size and unpack; a B given as [k, n] packs here.
  auto layout = make_weight_packing(b_rows_are_columns ? plain_desc({n, k}) : plain_desc({k, n}),
                                    packed_gemm_b_desc(k, n, b_rows_are_columns, path));
  if (!b_rows_are_columns && packed_gemm_supported()) {
    const int64_t panel = packed_gemm_panel(path);
    layout->pack = [k, n, panel](const void* src, void* dst, StoreMode mode) -> Status {
      pack_panels(static_cast<const float*>(src), k, n, panel, static_cast<float*>(dst), mode);
      return Status::ok();
    };
  }
  return layout;
}

int64_t packed_gemm_panel(GemmPath path) { return path_shape(path).panel; }

int packed_gemm_block_rows(GemmPath path) { return path_shape(path).rows; }

GemmBlockAvx512Fn packed_gemm_avx512_block(GemmPath path, int rows, bool silu) {
  const PathShape shape = path_shape(path);
  if (!shape.avx512_blocks || rows < 1 || rows > shape.rows) return nullptr;
  return (silu ? shape.avx512_silu_blocks : shape.avx512_blocks)[rows];
}

bool packed_gemm_supported(GemmPath path) {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  static const bool avx512 = avx2 && avx512_allowed();
  return path == GemmPath::kAvx2 ? avx2 : avx512;
}

GemmPath packed_gemm_weight_path(int64_t m, int64_t n) {
  if (!packed_gemm_supported(GemmPath::kAvx512x64)) return GemmPath::kAvx2;
  if (m <= path_shape(GemmPath::kAvx512x48).rows) return GemmPath::kAvx512x48;
  // Per row of A and step of the depth, over all panels: NV FMAs per panel, and NV loads of B
  // plus a broadcast shared by the block's R rows; two of each per cycle. The cheapest wins; on
  // a tie the wider (fewer loads), except for a few rows (up to 64: a 7 x 7 image's 49), where
  // B is read again for every block of rows and outweighs A: there the taller. Alternating
  // calls, two threads, 49 rows: 160 x 960 and 320 x 1280 1 x 1 convolutions on 12 x 32 blocks
  // 0.91-0.93 of their time on 6 x 64 ones, 512 x 2048 0.93, 2048 x 512 0.92; at 196 rows the
  // two within 3% either way.
  constexpr int64_t kFewRows = 64;
  GemmPath best = GemmPath::kAvx512x64;
  double best_cycles = 0;
  int best_rows = 0;
  for (GemmPath path : {GemmPath::kAvx512x64, GemmPath::kAvx512x48, GemmPath::kAvx512x32, GemmPath::kAvx512x16}) {
    const PathShape shape = path_shape(path);
    const double vectors = static_cast<double>(shape.panel / 16), rows = shape.rows;
    const double panels = static_cast<double>((n + shape.panel - 1) / shape.panel);
    const double fmas = panels * vectors, loads = panels * (vectors + rows) / rows;
    const double cycles = std::max(fmas, loads) / 2;
    const bool taller_on_tie = m <= kFewRows && cycles < best_cycles + 1e-9 && shape.rows > best_rows;
    if (path == GemmPath::kAvx512x64 || cycles < best_cycles - 1e-9 || taller_on_tie) {
      best = path;
      best_cycles = cycles;
      best_rows = shape.rows;
    }
  }
  return best;
}

dnnl::memory::desc packed_gemm_b_desc(int64_t k, int64_t n, bool b_rows_are_columns, GemmPath path) {
  // Built field by field: oneDNN has no tag for a 2-D matrix blocked on one dim this way.
  const int64_t panel = packed_gemm_panel(path);
  const int64_t padded_n = (n + panel - 1) / panel * panel;
  dnnl_memory_desc_t d{};
  d.ndims = 2;
  d.data_type = dnnl_f32;
  d.format_kind = dnnl_blocked;
  const int nd = b_rows_are_columns ? 0 : 1;  // the dim that holds B's columns (n)
  const int kd = 1 - nd;
  d.dims[nd] = n;
  d.dims[kd] = k;
  d.padded_dims[nd] = padded_n;
  d.padded_dims[kd] = k;
  dnnl_blocking_desc_t& blk = d.format_desc.blocking;
  blk.strides[nd] = k * panel;  // one panel
  blk.strides[kd] = panel;      // one row of a panel
  blk.inner_nblks = 1;
  blk.inner_blks[0] = panel;
  blk.inner_idxs[0] = nd;
  return dnnl::memory::desc(d);
}

int64_t packed_gemm_passes(int64_t m, int64_t k, GemmPath path) {
  const PathShape shape = path_shape(path);
  if (!shape.avx512_blocks) return (k + kDepth - 1) / kDepth;
  if (m <= shape.rows) return 1;
  // A's slice of a pass, [m, depth], kept to about 512 KB (half of a Zen 5 core's L2) but at
  // least kDepth deep: fewer rows, deeper passes (a 7 x 7 convolution's 49 rows in one pass of
  // 2048, 5-15% faster than in four of 512).
  const int64_t depth = std::max(kDepth, (int64_t{512} << 10) / static_cast<int64_t>(sizeof(float)) / m);
  return (k + depth - 1) / depth;
}

namespace {

// The row blocks of m rows for a block of R rows: R rows each and a remainder; with
// `split_tail` (AVX-512) the remainder is not left as a block of its own (a block of 1 or 2 rows
// does a load of B per 1 or 2 FMAs): the last full block and the remainder become two blocks of
// about equal height.
class RowBlocks {
 public:
  RowBlocks(int64_t m, int rows, bool split_tail) : rows_(rows) {
    const int64_t full = m / rows, rem = m % rows;
    if (rem == 0 || full == 0 || !split_tail) {
      count_ = full + (rem > 0 ? 1 : 0);
      uniform_ = full;
      last_rows_ = rem > 0 ? static_cast<int>(rem) : rows;
      return;
    }
    count_ = full + 1;
    uniform_ = full - 1;
    split_ = static_cast<int>((rows + rem + 1) / 2);
    last_rows_ = static_cast<int>(rows + rem - split_);
  }
  int64_t count() const { return count_; }
  // Blocks [0, uniform()) are all rows() high.
  int64_t uniform() const { return uniform_; }
  int rows() const { return rows_; }
  int64_t start(int64_t blk) const { return blk <= uniform_ ? blk * rows_ : uniform_ * rows_ + split_; }
  int height(int64_t blk) const {
    if (blk < uniform_) return rows_;
    if (blk + 1 == count_) return last_rows_;
    return split_;  // the first of the two tail blocks
  }

 private:
  int rows_;
  int64_t count_ = 0, uniform_ = 0;
  int split_ = 0, last_rows_ = 0;
};

}  // namespace

void packed_gemm(const float* a, int64_t lda, const float* b, float* y, int64_t ldc, int64_t m, int64_t k, int64_t n,
                 const GemmEpilogue& e, int threads, GemmPath path) {
  const PathShape shape = path_shape(path);
  const int64_t panel_cols = shape.panel;
  const int64_t panels = (n + panel_cols - 1) / panel_cols;
  const RowBlocks blocks(m, shape.rows, shape.avx512_blocks != nullptr);
  const int64_t row_blocks = blocks.count();
  const int64_t passes = packed_gemm_passes(m, k, path);
  // `count` blocks of `rows` rows from row i, against panel p, over one pass.
  auto call = [&](int64_t pass, int64_t p, int64_t i, int rows, int64_t count, int64_t b_ahead) {
    const int64_t q0 = k * pass / passes, q1 = k * (pass + 1) / passes;
    const int64_t c0 = p * panel_cols;
    const int cols = static_cast<int>(std::min(panel_cols, n - c0));
    const float* bp = b + p * k * panel_cols + q0 * panel_cols;
    const float* bias = e.bias ? e.bias + c0 : nullptr;
    const float* mul = e.mul ? e.mul + c0 : nullptr;
    const float* add = e.add ? e.add + c0 : nullptr;
    const float* residual = e.residual ? e.residual + i * ldc + c0 : nullptr;
    // The fields both blocks' arguments share.
    auto fill = [&](auto& g) {
      g.a = a + i * lda + q0;
      g.lda = lda;
      g.b = bp;
      g.depth = q1 - q0;
      g.y = y + i * ldc + c0;
      g.ldc = ldc;
      g.cols = cols;
      g.first = pass == 0;
      g.last = pass + 1 == passes;
      g.bias = bias;
      g.mul = mul;
      g.add = add;
      g.residual = residual;
      g.lo = e.lo;
      g.hi = e.hi;
      g.count = count;
      g.a_next = rows * lda;
      g.y_next = rows * ldc;
    };
    if (shape.avx512_blocks) {
      GemmBlockAvx512Args g;
      fill(g);
      g.b_step = panel_cols;
      g.b_ahead = b_ahead;
      (e.silu ? shape.avx512_silu_blocks : shape.avx512_blocks)[rows](g);
      return;
    }
    GemmBlockArgs g;
    fill(g);
    kGemmBlocks<>[rows](g);
  };
  // Row blocks [blk0, blk1) against panel p in one pass: the run of full blocks in one call.
  auto run_blocks = [&](int64_t pass, int64_t p, int64_t blk0, int64_t blk1, int64_t b_ahead) {
    const int64_t uniform_end = std::min(blk1, blocks.uniform());
    if (blk0 < uniform_end) call(pass, p, blocks.start(blk0), blocks.rows(), uniform_end - blk0, b_ahead);
    for (int64_t blk = std::max(blk0, uniform_end); blk < blk1; ++blk)
      call(pass, p, blocks.start(blk), blocks.height(blk), 1, b_ahead);
  };
  const int want = static_cast<int>(std::min<int64_t>(std::max(threads, 1), std::max(panels, row_blocks)));
  if (shape.avx512_blocks && row_blocks >= want && row_blocks > 1) {
    if (m > n) {
      // More rows than columns (a 1 x 1 convolution over an image: thousands of positions
      // against a few hundred channels): each thread takes an even share of the row blocks and
      // every panel of B, in chunks of rows whose slice of A stays in L1 while the panels take
      // their turns, a run of blocks per call; B, the smaller operand, comes from L2 and is not
      // requested ahead. Against one call per block, B requested ahead: ResNet-50's and
      // MobileNet v2's 1 x 1 convolutions on a Zen 5, one thread, 0.95-1.04 of oneDNN's time
      // per layer (alternating calls) where they were 0.99-1.30.
      const int64_t depth = (k + passes - 1) / passes;
      const int64_t chunk =
          std::max<int64_t>(1, (int64_t{32} << 10) / (depth * static_cast<int64_t>(sizeof(float))) / shape.rows);
      auto share = [&](int t) {
        const int64_t blk0 = row_blocks * t / want, blk1 = row_blocks * (t + 1) / want;
        for (int64_t pass = 0; pass < passes; ++pass)
          for (int64_t c0 = blk0; c0 < blk1; c0 += chunk)
            for (int64_t p = 0; p < panels; ++p) run_blocks(pass, p, c0, std::min(blk1, c0 + chunk), 0);
      };
      if (want <= 1) {
        share(0);
        return;
      }
#pragma omp parallel num_threads(want)
      share(omp_get_thread_num());
      return;
    }
    // Otherwise each thread takes an even share of (panel, 1/T of the rows) items, panel by
    // panel, so it reads about its share of B, and no thread is left with an extra panel (a
    // 1 x 1 convolution on a 7 x 7 image to 320 channels: 5 panels). Against panels shared out
    // one by one: the transformer 0.96 of the time at two threads; 7 x 7 and 14 x 14 1 x 1
    // convolutions 0.92-1.10 of oneDNN's time where they were 1.05-1.30.
    const int64_t items = panels * want;
    auto share = [&](int t) {
      const int64_t it0 = items * t / want, it1 = items * (t + 1) / want;
      for (int64_t pass = 0; pass < passes; ++pass)
        for (int64_t it = it0; it < it1; ++it) {
          const int64_t p = it / want, part = it % want;
          run_blocks(pass, p, row_blocks * part / want, row_blocks * (part + 1) / want, shape.b_ahead);
        }
    };
    if (want > 1) {
#pragma omp parallel num_threads(want)
      share(omp_get_thread_num());
      return;
    }
    // One thread: panel after panel as below, with the next panel requested ahead (1% faster on
    // the transformer than the runs of blocks above).
  }
  // Panels shared out (or one thread over few rows). `next`: the slice of B the thread takes
  // after this panel (the next panel, or the first of the next pass), requested into L2 a share
  // per row block, so it is not fetched from memory when its first row block starts: a model's
  // weights are read once per inference and mostly come from DRAM. One thread, the
  // transformer's products with B rotated among 16 copies: 3-8% more GFLOPS. Only with enough
  // row blocks to spread the requests over: with few rows (the MLP's batch of 8) the product
  // streams B at memory bandwidth and bursts of requests cost 5-10%.
  auto panel = [&](int64_t pass, int64_t p, const float* next, int64_t next_depth) {
    if (row_blocks < 8) next = nullptr;
    const int64_t next_lines = next ? next_depth * panel_cols * static_cast<int64_t>(sizeof(float)) / 64 : 0;
    const int64_t lines_per_block = (next_lines + row_blocks - 1) / row_blocks;
    for (int64_t blk = 0; blk < row_blocks; ++blk) {
      for (int64_t l = blk * lines_per_block, end = std::min(next_lines, l + lines_per_block); l < end; ++l)
        _mm_prefetch(reinterpret_cast<const char*>(next) + l * 64, _MM_HINT_T1);
      call(pass, p, blocks.start(blk), blocks.height(blk), 1, shape.b_ahead);
    }
  };
  // Panel p of a thread's own share, followed by own_next (-1: none left this pass, then the
  // share's first panel, next_start, of the next pass).
  auto own_panel = [&](int64_t pass, int64_t p, int64_t own_next, int64_t next_start) {
    const int64_t next_pass = own_next >= 0 ? pass : pass + 1, next_p = own_next >= 0 ? own_next : next_start;
    if (next_pass >= passes) {
      panel(pass, p, nullptr, 0);
    } else {
      const int64_t q0 = k * next_pass / passes, q1 = k * (next_pass + 1) / passes;
      panel(pass, p, b + next_p * k * panel_cols + q0 * panel_cols, q1 - q0);
    }
  };
  const int share = static_cast<int>(std::min<int64_t>(want, panels));
  if (share <= 1) {
    for (int64_t pass = 0; pass < passes; ++pass)
      for (int64_t p = 0; p < panels; ++p) own_panel(pass, p, p + 1 < panels ? p + 1 : -1, 0);
    return;
  }
  // The panels of each pass shared out among the threads (work_shares.h): a thread's own share is
  // the same on every pass, so the Y it accumulates stays in its cache.
  WorkShares shares(passes, panels, share);
#pragma omp parallel num_threads(share)
  {
    const int t = omp_get_thread_num();
    const int64_t next_pass_start = panels * t / share;
    for (int64_t pass = 0; pass < passes; ++pass) {
      for (int64_t p; (p = shares.take_front(pass, t)) >= 0;)
        own_panel(pass, p, shares.peek_front(pass, t), next_pass_start);
      for (int64_t p; (p = shares.steal(pass, t)) >= 0;) panel(pass, p, nullptr, 0);
      // A later pass adds to the Y an earlier one wrote, possibly on another thread.
      if (pass + 1 < passes) {
#pragma omp barrier
      }
    }
  }
}

}  // namespace lw::cpu
