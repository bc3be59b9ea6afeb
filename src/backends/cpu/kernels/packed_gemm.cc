#include "backends/cpu/kernels/packed_gemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/gemm_block.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/work_shares.h"
#include "core/stream_copy.h"

namespace lw::cpu {

namespace {

constexpr int64_t kPanel = kPackedGemmPanel;
static_assert(kPanel == kGemmBlockCols, "a panel is one register block wide");
constexpr int kRows = kGemmBlockRows;
// Depth of one pass over K: a [m, 512] slice of A (256 KB for 128 rows) stays in L2 while every
// panel of B takes its turn, and a panel's slice (32 KB) stays in L1 while the row blocks of A
// pass over it.
constexpr int64_t kDepth = 512;

// The `full` whole 16-float pieces of one row of B to their panels (`panel_stride` floats
// apart), streamed past the cache or stored.
__attribute__((target("avx2,fma"))) void row_to_panels(const float* row, int64_t full, float* o, int64_t panel_stride,
                                                       bool stream) {
  for (int64_t p = 0; p < full; ++p, o += panel_stride) {
    const __m256 lo = _mm256_loadu_ps(row + p * kPanel), hi = _mm256_loadu_ps(row + p * kPanel + 8);
    if (stream) {
      _mm256_stream_ps(o, lo);
      _mm256_stream_ps(o + 8, hi);
    } else {
      _mm256_storeu_ps(o, lo);
      _mm256_storeu_ps(o + 8, hi);
    }
  }
}

// B [k, n] row-major into the panels: row by row (sequential reads), each row's 16-float pieces
// to their panels, as whole 64-byte lines streamed past the cache when asked (no line is read
// for ownership first) or copied. The generic row packer (blocked_pack.h) walked the same bytes
// in 512-column pieces and left the transformer's full refresh at 1.95x a memcpy on one thread.
// (The vector code is in row_to_panels: clang does not compile AVX intrinsics in an OpenMP
// region's outlined body, which does not inherit the target attribute.)
void pack_panels(const float* b, int64_t k, int64_t n, float* dst, StoreMode mode) {
  const int64_t full = n / kPanel, tail = n - full * kPanel;
  const bool stream = mode == StoreMode::kStreaming && reinterpret_cast<uintptr_t>(dst) % 64 == 0;
  const int threads = omp_get_max_threads();
#pragma omp parallel num_threads(threads) if (threads > 1 && k * n >= 65536)
  {
#pragma omp for schedule(static)
    for (int64_t q = 0; q < k; ++q) {
      const float* row = b + q * n;
      row_to_panels(row, full, dst + q * kPanel, k * kPanel, stream);
      if (tail != 0) {
        float* o = dst + (full * k + q) * kPanel;
        std::memcpy(o, row + full * kPanel, static_cast<size_t>(tail) * sizeof(float));
        std::memset(o + tail, 0, static_cast<size_t>(kPanel - tail) * sizeof(float));
      }
    }
    if (stream) streaming_fence();  // this thread's stores, before the region ends
  }
}

}  // namespace

std::shared_ptr<PackedLayout> packed_gemm_b_packing(int64_t k, int64_t n, bool b_rows_are_columns) {
  // make_weight_packing gives the layout's key, size and unpack; a B given as [k, n] packs here.
  auto layout = make_weight_packing(b_rows_are_columns ? plain_desc({n, k}) : plain_desc({k, n}),
                                    packed_gemm_b_desc(k, n, b_rows_are_columns));
  if (!b_rows_are_columns && packed_gemm_supported()) {
    layout->pack = [k, n](const void* src, void* dst, StoreMode mode) -> Status {
      pack_panels(static_cast<const float*>(src), k, n, static_cast<float*>(dst), mode);
      return Status::ok();
    };
  }
  return layout;
}

bool packed_gemm_supported() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

dnnl::memory::desc packed_gemm_b_desc(int64_t k, int64_t n, bool b_rows_are_columns) {
  // Built field by field: oneDNN has no tag for a 2-D matrix blocked on one dim this way.
  const int64_t padded_n = (n + kPanel - 1) / kPanel * kPanel;
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
  blk.strides[nd] = k * kPanel;  // one panel
  blk.strides[kd] = kPanel;      // one row of a panel
  blk.inner_nblks = 1;
  blk.inner_blks[0] = kPanel;
  blk.inner_idxs[0] = nd;
  return dnnl::memory::desc(d);
}

void packed_gemm(const float* a, int64_t lda, const float* b, const float* bias, float* y, int64_t ldc, int64_t m,
                 int64_t k, int64_t n, float lo, float hi, int threads) {
  const int64_t panels = (n + kPanel - 1) / kPanel;
  const int64_t passes = (k + kDepth - 1) / kDepth;
  const int64_t row_blocks = (m + kRows - 1) / kRows;
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
    const int cols = static_cast<int>(std::min(kPanel, n - p * kPanel));
    const float* bp = b + p * k * kPanel + q0 * kPanel;
    const float* bias_p = bias ? bias + p * kPanel : nullptr;
    if (row_blocks < 8) next = nullptr;
    const int64_t next_lines = next ? next_depth * kPanel * static_cast<int64_t>(sizeof(float)) / 64 : 0;
    const int64_t lines_per_block = (next_lines + row_blocks - 1) / row_blocks;
    for (int64_t i = 0, blk = 0; i < m; i += kRows, ++blk) {
      for (int64_t l = blk * lines_per_block, end = std::min(next_lines, l + lines_per_block); l < end; ++l)
        _mm_prefetch(reinterpret_cast<const char*>(next) + l * 64, _MM_HINT_T1);
      const int rows = static_cast<int>(std::min<int64_t>(kRows, m - i));
      GemmBlockArgs g;
      g.a = a + i * lda + q0;
      g.lda = lda;
      g.b = bp;
      g.depth = q1 - q0;
      g.y = y + i * ldc + p * kPanel;
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
      panel(pass, p, b + next_p * k * kPanel + q0 * kPanel, q1 - q0);
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
