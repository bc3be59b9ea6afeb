#include "backends/cpu/kernels/winograd_conv.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/cpu/kernels/work_shares.h"

namespace lw::cpu {

namespace {

constexpr int64_t kBlock = 8;     // channels per activation block
constexpr int64_t kPoints = 16;   // transformed values per tile: 4 x 4
// Tiles per step of a thread: their transformed inputs (16 x tiles x in_channels floats) and
// products (16 x tiles x out_channels) stay in L2 between the three phases; a multiple of the
// gemm's 6-row register block.
constexpr int64_t kTiles = 36;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

struct Geometry {
  int64_t in_blocks, out_blocks, tiles_h, tiles_w, tiles, out_cols;  // out_cols: out_channels in whole panels
  size_t weights_floats, step_floats;                                  // U; V and M of one thread
};

Geometry geometry(const BlockedConvShape& s) {
  Geometry g;
  g.in_blocks = s.in_channels / kBlock;
  g.out_blocks = s.out_channels / kBlock;
  g.tiles_h = (s.out_h + 1) / 2;
  g.tiles_w = (s.out_w + 1) / 2;
  g.tiles = g.tiles_h * g.tiles_w;
  g.out_cols = round_up(s.out_channels, kPackedGemmPanel);
  g.weights_floats = static_cast<size_t>(kPoints * s.in_channels * g.out_cols);
  g.step_floats = static_cast<size_t>(kPoints * kTiles * (s.in_channels + s.out_channels));
  return g;
}

// U = G g G^T for 8 output channels at once: g[3][3] (vectors over the output channels) ->
// u[16], with G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
__attribute__((target("avx2,fma"))) void transform_filter(const float* w, int64_t tap_stride, float* u,
                                                           int64_t point_stride) {
  __m256 g[3][3];
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) g[r][c] = _mm256_loadu_ps(w + (r * 3 + c) * tap_stride);
  const __m256 half = _mm256_set1_ps(0.5f);
  __m256 t[4][3];  // G g
  for (int c = 0; c < 3; ++c) {
    const __m256 s = _mm256_add_ps(g[0][c], g[2][c]);
    t[0][c] = g[0][c];
    t[1][c] = _mm256_mul_ps(_mm256_add_ps(s, g[1][c]), half);
    t[2][c] = _mm256_mul_ps(_mm256_sub_ps(s, g[1][c]), half);
    t[3][c] = g[2][c];
  }
  for (int r = 0; r < 4; ++r) {  // (G g) G^T
    const __m256 s = _mm256_add_ps(t[r][0], t[r][2]);
    _mm256_storeu_ps(u + (r * 4 + 0) * point_stride, t[r][0]);
    _mm256_storeu_ps(u + (r * 4 + 1) * point_stride, _mm256_mul_ps(_mm256_add_ps(s, t[r][1]), half));
    _mm256_storeu_ps(u + (r * 4 + 2) * point_stride, _mm256_mul_ps(_mm256_sub_ps(s, t[r][1]), half));
    _mm256_storeu_ps(u + (r * 4 + 3) * point_stride, t[r][2]);
  }
}

// The filters of panel pp (output channels 16 pp .. 16 pp + 15, all input channels) into U:
// point p's matrix is [in_channels x out_cols] in packed_gemm's panels of 16 columns. The two
// output blocks of a panel are transformed into a small buffer first, so each 16-float row of
// U is written whole and once (by block, each row was written half at a time, the halves far
// apart in time: a 256 x 256 transform took 0.23 ms that way on two threads); columns past the
// output channels are zeros.
__attribute__((target("avx2,fma"))) void transform_panel(const float* w, const BlockedConvShape& s,
                                                          const Geometry& g, int64_t pp, float* u) {
  const int64_t point_stride = s.in_channels * g.out_cols;
  float* panel = u + pp * s.in_channels * kPackedGemmPanel;
  alignas(32) float rows[kPoints][kPackedGemmPanel];
  const int64_t blocks = std::min<int64_t>(2, g.out_blocks - 2 * pp);  // 1 or 2 output blocks
  if (blocks < 2)
    for (auto& row : rows) _mm256_store_ps(row + kBlock, _mm256_setzero_ps());
  for (int64_t ib = 0; ib < g.in_blocks; ++ib)
    for (int64_t ii = 0; ii < kBlock; ++ii) {
      for (int64_t h = 0; h < blocks; ++h) {
        // ABcd8b8a: [ob][ib][kh][kw][8 inputs][8 outputs].
        const float* src = w + (((2 * pp + h) * g.in_blocks + ib) * 9) * kBlock * kBlock + ii * kBlock;
        transform_filter(src, kBlock * kBlock, &rows[0][h * kBlock], kPackedGemmPanel);
      }
      float* out = panel + (ib * kBlock + ii) * kPackedGemmPanel;
      for (int64_t p = 0; p < kPoints; ++p) {
        _mm256_storeu_ps(out + p * point_stride, _mm256_load_ps(rows[p]));
        _mm256_storeu_ps(out + p * point_stride + kBlock, _mm256_load_ps(rows[p] + kBlock));
      }
    }
}

// V = B^T d B for one 4 x 4 input tile of 8 channels whose top-left is (r0, c0) (zeros outside
// the image), with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; v[p * point_stride].
__attribute__((target("avx2,fma"))) void transform_input(const float* x, int64_t in_h, int64_t in_w, int64_t r0,
                                                          int64_t c0, float* v, int64_t point_stride) {
  __m256 d[4][4];
  const bool inside = r0 >= 0 && c0 >= 0 && r0 + 4 <= in_h && c0 + 4 <= in_w;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      const int64_t rr = r0 + r, cc = c0 + c;
      const bool present = inside || (rr >= 0 && rr < in_h && cc >= 0 && cc < in_w);
      d[r][c] = present ? _mm256_loadu_ps(x + (rr * in_w + cc) * kBlock) : _mm256_setzero_ps();
    }
  __m256 t[4][4];  // B^T d
  for (int c = 0; c < 4; ++c) {
    t[0][c] = _mm256_sub_ps(d[0][c], d[2][c]);
    t[1][c] = _mm256_add_ps(d[1][c], d[2][c]);
    t[2][c] = _mm256_sub_ps(d[2][c], d[1][c]);
    t[3][c] = _mm256_sub_ps(d[1][c], d[3][c]);
  }
  for (int r = 0; r < 4; ++r) {  // (B^T d) B
    _mm256_storeu_ps(v + (r * 4 + 0) * point_stride, _mm256_sub_ps(t[r][0], t[r][2]));
    _mm256_storeu_ps(v + (r * 4 + 1) * point_stride, _mm256_add_ps(t[r][1], t[r][2]));
    _mm256_storeu_ps(v + (r * 4 + 2) * point_stride, _mm256_sub_ps(t[r][2], t[r][1]));
    _mm256_storeu_ps(v + (r * 4 + 3) * point_stride, _mm256_sub_ps(t[r][1], t[r][3]));
  }
}

// Y = A^T m A for one tile of 8 output channels, A^T = [1 1 1 0; 0 1 -1 -1], then the epilogue,
// into the `rows` x `cols` (1 or 2 each) outputs at y (row stride out_w * 8).
__attribute__((target("avx2,fma"))) void transform_output(const float* m, int64_t point_stride, float* y,
                                                           const float* residual, int64_t row_stride, int rows,
                                                           int cols, const BlockedConvEpilogue& e, int64_t oc,
                                                           bool clamp) {
  __m256 p[16];
  for (int i = 0; i < 16; ++i) p[i] = _mm256_loadu_ps(m + i * point_stride);
  __m256 t[2][4];  // A^T m
  for (int c = 0; c < 4; ++c) {
    t[0][c] = _mm256_add_ps(_mm256_add_ps(p[c], p[4 + c]), p[8 + c]);
    t[1][c] = _mm256_sub_ps(_mm256_sub_ps(p[4 + c], p[8 + c]), p[12 + c]);
  }
  const __m256 bias = e.bias ? _mm256_loadu_ps(e.bias + oc) : _mm256_setzero_ps();
  const __m256 mul = e.mul ? _mm256_loadu_ps(e.mul + oc) : _mm256_set1_ps(1.0f);
  const __m256 add = e.mul ? _mm256_loadu_ps(e.add + oc) : _mm256_setzero_ps();
  const __m256 lo = _mm256_set1_ps(e.lo), hi = _mm256_set1_ps(e.hi);
  for (int r = 0; r < rows; ++r) {
    __m256 out[2] = {_mm256_add_ps(_mm256_add_ps(t[r][0], t[r][1]), t[r][2]),
                     _mm256_sub_ps(_mm256_sub_ps(t[r][1], t[r][2]), t[r][3])};
    for (int c = 0; c < cols; ++c) {
      __m256 v = _mm256_add_ps(out[c], bias);
      if (e.mul) v = _mm256_fmadd_ps(v, mul, add);
      const int64_t at = r * row_stride + c * kBlock;
      if (residual) v = _mm256_add_ps(v, _mm256_loadu_ps(residual + at));
      // The value as the second operand: a NaN passes the clamp, as through oneDNN's Relu.
      if (clamp) v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
      _mm256_storeu_ps(y + at, v);
    }
  }
}

}  // namespace

bool winograd_conv_accepts(const BlockedConvShape& s) {
  return blocked_conv_accepts(s) && s.kernel_h == 3 && s.kernel_w == 3 && s.stride_h == 1 && s.stride_w == 1 &&
         s.pad_top <= 2 && s.pad_left <= 2;
}

bool winograd_conv_pays(const BlockedConvShape& s) {
  if (!winograd_conv_accepts(s) || s.in_channels < 32) return false;
  const Geometry g = geometry(s);
  const double weight_mb = static_cast<double>(g.weights_floats) * sizeof(float) / (1 << 20);
  return s.batch * g.tiles >= 20 || weight_mb <= 1.0;
}

size_t winograd_filters_bytes(const BlockedConvShape& s) {
  return (geometry(s).weights_floats * sizeof(float) + 63) / 64 * 64;
}

size_t winograd_step_scratch_bytes(const BlockedConvShape& s, int threads) {
  return static_cast<size_t>(std::max(threads, 1)) * geometry(s).step_floats * sizeof(float) + 64;
}

size_t winograd_conv_scratch_bytes(const BlockedConvShape& s, int threads) {
  return winograd_filters_bytes(s) + winograd_step_scratch_bytes(s, threads);
}

void winograd_transform_filters(const float* w, const BlockedConvShape& s, float* u, int threads) {
  const Geometry g = geometry(s);
  // One panel of 16 output channels per work item.
  const int64_t panels = g.out_cols / kPackedGemmPanel;
  const int filter_threads = static_cast<int>(std::min<int64_t>(std::max(threads, 1), panels));
  parallel_ranges(panels, filter_threads, [&](int64_t p0, int64_t p1) {
    for (int64_t pp = p0; pp < p1; ++pp) transform_panel(w, s, g, pp, u);
  });
}

void winograd_conv(const float* x, const float* w, float* y, const BlockedConvShape& s, const BlockedConvEpilogue& e,
                   void* scratch, int threads) {
  auto* u = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch) + 63) / 64 * 64);
  winograd_transform_filters(w, s, u, threads);
  winograd_conv_transformed(x, u, y, s, e, reinterpret_cast<uint8_t*>(u) + winograd_filters_bytes(s), threads);
}

void winograd_conv_transformed(const float* x, const float* u, float* y, const BlockedConvShape& s,
                               const BlockedConvEpilogue& e, void* scratch, int threads) {
  threads = std::max(threads, 1);
  const Geometry g = geometry(s);
  auto* steps = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch) + 63) / 64 * 64);

  const bool clamp = !(std::isinf(e.lo) && e.lo < 0 && std::isinf(e.hi) && e.hi > 0);
  // Steps of at most kTiles tiles, as many for each thread and as even as they come.
  const int64_t all_tiles = s.batch * g.tiles;
  const int64_t step_count = std::min(all_tiles, round_up((all_tiles + kTiles - 1) / kTiles, threads));
  const int used = static_cast<int>(std::min<int64_t>(threads, step_count));
  const int64_t v_point = kTiles * s.in_channels, m_point = kTiles * s.out_channels;
  const int64_t x_block = s.in_h * s.in_w * kBlock, y_block = s.out_h * s.out_w * kBlock;
  // Each step on the scratch of the thread that runs it; a thread whose own steps are done takes
  // another's (work_shares.h).
  parallel_items_balanced(step_count, used, [&](int64_t step, int t) {
    float* v = steps + static_cast<size_t>(t) * g.step_floats;
    float* m = v + kPoints * v_point;
    const int64_t first = all_tiles * step / step_count, count = all_tiles * (step + 1) / step_count - first;
    // 1. The input tiles: V[p] is [count x in_channels].
    for (int64_t i = 0; i < count; ++i) {
      const int64_t tile = first + i, n = tile / g.tiles, ty = tile % g.tiles / g.tiles_w, tx = tile % g.tiles_w;
      for (int64_t ib = 0; ib < g.in_blocks; ++ib)
        transform_input(x + (n * g.in_blocks + ib) * x_block, s.in_h, s.in_w, 2 * ty - s.pad_top, 2 * tx - s.pad_left,
                        v + i * s.in_channels + ib * kBlock, v_point);
    }
    // 2. M[p] = V[p] U[p], [count x out_channels].
    for (int64_t p = 0; p < kPoints; ++p)
      packed_gemm(v + p * v_point, s.in_channels, u + p * s.in_channels * g.out_cols, nullptr, m + p * m_point,
                  s.out_channels, count, s.in_channels, s.out_channels, -INFINITY, INFINITY, 1);
    // 3. The output tiles, with the epilogue.
    for (int64_t i = 0; i < count; ++i) {
      const int64_t tile = first + i, n = tile / g.tiles, ty = tile % g.tiles / g.tiles_w, tx = tile % g.tiles_w;
      const int rows = static_cast<int>(std::min<int64_t>(2, s.out_h - 2 * ty));
      const int cols = static_cast<int>(std::min<int64_t>(2, s.out_w - 2 * tx));
      for (int64_t ob = 0; ob < g.out_blocks; ++ob) {
        const int64_t at = (n * g.out_blocks + ob) * y_block + (2 * ty * s.out_w + 2 * tx) * kBlock;
        transform_output(m + i * s.out_channels + ob * kBlock, m_point, y + at, e.residual ? e.residual + at : nullptr,
                         s.out_w * kBlock, rows, cols, e, ob * kBlock, clamp);
      }
    }
  });
}

}  // namespace lw::cpu
