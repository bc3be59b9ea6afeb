#include "backends/cpu/kernels/packed_gemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/gemm_block.h"
#include "backends/cpu/kernels/gemm_block_avx512.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/work_shares.h"
#include "core/stream_copy.h"

namespace lw::cpu {

namespace {

static_assert(kPackedGemmPanel == kGemmBlockCols, "an AVX2 panel is one register block wide");
// The AVX-512 blocks: 8 rows by 3 vectors of 16, and 6 rows by 4 (24 accumulators each). On a
// Zen 5 core, against 12 x 2 and 14 x 2 (one thread, B from memory): the MLP's 8 x 4096 x 4096
// layer 150 GFLOPS with 8 x 3 (the others 100-108; oneDNN's matmul 110), the transformer's
// 128-row products 238-256 with either (oneDNN 250-259). 8 x 3 fits a batch of 8 rows in one
// block, 6 x 4 splits the usual widths (512, 2048) into an even count of panels for two threads.
using GemmBlockAvx512Fn = void (*)(const GemmBlockAvx512Args&);
// By rows (index 0: none).
constexpr GemmBlockAvx512Fn kNarrowBlocks[9] = {nullptr,
                                                gemm_block_avx512<1, 3>,
                                                gemm_block_avx512<2, 3>,
                                                gemm_block_avx512<3, 3>,
                                                gemm_block_avx512<4, 3>,
                                                gemm_block_avx512<5, 3>,
                                                gemm_block_avx512<6, 3>,
                                                gemm_block_avx512<7, 3>,
                                                gemm_block_avx512<8, 3>};
constexpr GemmBlockAvx512Fn kWideBlocks[7] = {nullptr,
                                              gemm_block_avx512<1, 4>,
                                              gemm_block_avx512<2, 4>,
                                              gemm_block_avx512<3, 4>,
                                              gemm_block_avx512<4, 4>,
                                              gemm_block_avx512<5, 4>,
                                              gemm_block_avx512<6, 4>};

struct PathShape {
  int rows;                                // rows per block
  int64_t panel;                           // columns per panel
  const GemmBlockAvx512Fn* avx512_blocks;  // by rows, or null (AVX2: gemm_block.h)
  // AVX-512: the block requests B's lines this many floats ahead of the row it reads (43 and 64
  // rows of a panel). One thread, B from memory: the MLP's layer 100 -> 150 GFLOPS; the
  // transformer at two threads 3% faster than with none, 2% than with half as far.
  int64_t b_ahead;
};

PathShape path_shape(GemmPath path) {
  switch (path) {
    case GemmPath::kAvx512Narrow:
      return {8, 48, kNarrowBlocks, 2048};
    case GemmPath::kAvx512Wide:
      return {6, 64, kWideBlocks, 4096};
    case GemmPath::kAvx2:
      break;
  }
  return {kGemmBlockRows, kPackedGemmPanel, nullptr, 0};
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
  const int threads = omp_get_max_threads();
#pragma omp parallel num_threads(threads) if (threads > 1 && k * n >= 65536)
  {
#pragma omp for schedule(static)
    for (int64_t q = 0; q < k; ++q) {
      const float* row = b + q * n;
      row_to_panels(row, full, panel, dst + q * panel, k * panel, stream);
      if (tail != 0) {
        float* o = dst + (full * k + q) * panel;
        std::memcpy(o, row + full * panel, static_cast<size_t>(tail) * sizeof(float));
        std::memset(o + tail, 0, static_cast<size_t>(panel - tail) * sizeof(float));
      }
    }
    if (stream) streaming_fence();  // this thread's stores, before the region ends
  }
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

bool packed_gemm_supported(GemmPath path) {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  static const bool avx512 = avx2 && avx512_allowed();
  return path == GemmPath::kAvx2 ? avx2 : avx512;
}

GemmPath packed_gemm_weight_path(int64_t m) {
  if (!packed_gemm_supported(GemmPath::kAvx512Wide)) return GemmPath::kAvx2;
  return m <= path_shape(GemmPath::kAvx512Narrow).rows ? GemmPath::kAvx512Narrow : GemmPath::kAvx512Wide;
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

void packed_gemm(const float* a, int64_t lda, const float* b, const float* bias, float* y, int64_t ldc, int64_t m,
                 int64_t k, int64_t n, float lo, float hi, int threads, GemmPath path) {
  const PathShape shape = path_shape(path);
  const bool avx512 = shape.avx512_blocks != nullptr;
  const int64_t panel_cols = shape.panel;
  const int64_t panels = (n + panel_cols - 1) / panel_cols;
  const int block_rows = shape.rows;
  const int64_t row_blocks = (m + block_rows - 1) / block_rows;
  const int64_t passes = avx512 && row_blocks == 1 ? 1 : (k + kDepth - 1) / kDepth;
  // One panel of one pass, all rows. `next`: the slice of B the thread takes after it (the next
  // panel, or the first of the next pass), requested into L2 a share per row block, so it is not
  // fetched from memory when its first row block starts: a model's weights are read once per
  // inference and mostly come from DRAM. One thread, the transformer's products with B rotated
  // among 16 copies: 3-8% more GFLOPS. Only with enough row blocks to spread the requests over:
  // with few rows (the MLP's batch of 8) the product streams B at memory bandwidth and bursts of
  // requests cost 5-10%.
  auto panel = [&](int64_t pass, int64_t p, const float* next, int64_t next_depth) {
    const int64_t q0 = k * pass / passes, q1 = k * (pass + 1) / passes;
    const bool first = pass == 0, last = pass + 1 == passes;
    const int cols = static_cast<int>(std::min(panel_cols, n - p * panel_cols));
    const float* bp = b + p * k * panel_cols + q0 * panel_cols;
    const float* bias_p = bias ? bias + p * panel_cols : nullptr;
    if (row_blocks < 8) next = nullptr;
    const int64_t next_lines = next ? next_depth * panel_cols * static_cast<int64_t>(sizeof(float)) / 64 : 0;
    const int64_t lines_per_block = (next_lines + row_blocks - 1) / row_blocks;
    for (int64_t i = 0, blk = 0; i < m; i += block_rows, ++blk) {
      for (int64_t l = blk * lines_per_block, end = std::min(next_lines, l + lines_per_block); l < end; ++l)
        _mm_prefetch(reinterpret_cast<const char*>(next) + l * 64, _MM_HINT_T1);
      const int rows = static_cast<int>(std::min<int64_t>(block_rows, m - i));
      if (avx512) {
        GemmBlockAvx512Args g;
        g.a = a + i * lda + q0;
        g.lda = lda;
        g.b = bp;
        g.b_step = panel_cols;
        g.depth = q1 - q0;
        g.y = y + i * ldc + p * panel_cols;
        g.ldc = ldc;
        g.cols = cols;
        g.first = first;
        g.last = last;
        g.bias = bias_p;
        g.lo = lo;
        g.hi = hi;
        g.b_ahead = shape.b_ahead;
        shape.avx512_blocks[rows](g);
        continue;
      }
      GemmBlockArgs g;
      g.a = a + i * lda + q0;
      g.lda = lda;
      g.b = bp;
      g.depth = q1 - q0;
      g.y = y + i * ldc + p * panel_cols;
      g.ldc = ldc;
      g.cols = cols;
      g.first = first;
      g.last = last;
      g.bias = bias_p;
      g.lo = lo;
      g.hi = hi;
      kGemmBlocks<>[rows](g);
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
  const int want = static_cast<int>(std::min<int64_t>(std::max(threads, 1), panels));
  if (want <= 1) {
    for (int64_t pass = 0; pass < passes; ++pass)
      for (int64_t p = 0; p < panels; ++p) own_panel(pass, p, p + 1 < panels ? p + 1 : -1, 0);
    return;
  }
  // The panels of each pass shared out among the threads (work_shares.h): a thread's own share is
  // the same on every pass, so the Y it accumulates stays in its cache.
  WorkShares shares(passes, panels, want);
#pragma omp parallel num_threads(want)
  {
    const int t = omp_get_thread_num();
    const int64_t next_pass_start = panels * t / want;
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
