// Y = clamp(A * B + bias, lo, hi) with B held in panels of columns: the weight products of a
// transformer (128 rows of A against 512 x 2048 weights, say) and of an MLP over a small batch.
// On AVX2 (panels of 16 columns) it serves machines where oneDNN 2.6 runs such products through
// its AVX2 gemm, which packs B again on every call and ran them at about 60% of the FMA peak
// where ONNX Runtime's MLAS, with B prepacked, runs at over 80%. On AVX-512 (panels of 16 to
// 64 columns) it replaces oneDNN's AVX-512 matmul, which is as fast on the transformer's
// products but allocates memory on every call (its argument maps) and streamed the MLP's
// weights slower, and runs the 1 x 1 convolutions of channels-last activations (conv.cc) with
// their fused epilogue. B is a weight: the runtime holds it in the panel layout
// (packed_gemm_b_desc) and a refresh writes it there, so inference never packs.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>

#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/gemm_block_avx512.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

// Columns per panel of the packed B on AVX2 (attention.h and winograd_conv.h pack their own
// operands this way).
inline constexpr int64_t kPackedGemmPanel = 16;

// The code paths, by register block (rows x columns of Y); each has its own panel width, so B's
// layout follows the path chosen for it.
enum class GemmPath {
  kAvx2,       // 6 x 16: panels of 16
  kAvx512x16,  // 14 x 16: narrow products (a 1 x 1 convolution to 16 channels)
  kAvx512x32,  // 12 x 32
  kAvx512x48,  // 8 x 48: up to 8 rows of A (a small batch) stream each panel once
  kAvx512x64,  // 6 x 64: the fewest loads per FMA
};
inline constexpr GemmPath kAllGemmPaths[] = {GemmPath::kAvx2, GemmPath::kAvx512x16, GemmPath::kAvx512x32,
                                             GemmPath::kAvx512x48, GemmPath::kAvx512x64};

// Columns per panel of B for `path`: 16, 16, 32, 48 or 64.
int64_t packed_gemm_panel(GemmPath path);

// True when the CPU runs `path`'s code: AVX2 and FMA; for the others also AVX-512, where oneDNN
// may use it (avx512_allowed).
bool packed_gemm_supported(GemmPath path = GemmPath::kAvx2);

// The path for a weight of n columns multiplied by m rows of A on this CPU: AVX-512 where it
// has it, then 8 x 48 for up to 8 rows, else the block that wastes the fewest FMAs on a partial
// last panel and loads the least per FMA.
GemmPath packed_gemm_weight_path(int64_t m, int64_t n);

// Rows per register block of `path`, and the AVX-512 block function for `rows` rows (1 to that
// count; null for kAvx2), for kernels that drive the blocks themselves (plain_conv.h).
int packed_gemm_block_rows(GemmPath path);
using GemmBlockAvx512Fn = void (*)(const GemmBlockAvx512Args&);
GemmBlockAvx512Fn packed_gemm_avx512_block(GemmPath path, int rows, bool silu = false);

// The panel layout as a oneDNN descriptor, so the weight packing machinery (make_weight_packing:
// pack, unpack, layout keys) serves it. With P = packed_gemm_panel(path), panel p holds rows
// 0..k-1 of columns Pp..Pp+P-1, row after row; columns past n are zero. `b_rows_are_columns`
// false: over B's own dims [k, n] (MatMul's B); true: over the dims [n, k] of a matrix W whose
// transpose is B (Gemm's transB weight, PyTorch's Linear), the same bytes.
dnnl::memory::desc packed_gemm_b_desc(int64_t k, int64_t n, bool b_rows_are_columns, GemmPath path = GemmPath::kAvx2);

// The packing of a B into that layout (from [n, k] when b_rows_are_columns): pack() writes it
// from the caller's matrix on up to omp_get_max_threads() threads, unpack() reads it back; its
// key and native descriptor are those of packed_gemm_b_desc. Throws dnnl::error as
// make_weight_packing does.
std::shared_ptr<PackedLayout> packed_gemm_b_packing(int64_t k, int64_t n, bool b_rows_are_columns,
                                                    GemmPath path = GemmPath::kAvx2);

// What follows the product, per column j: y = clamp((y + bias[j]) * mul[j] + add[j] +
// residual[i, j], lo, hi); each pointer may be null (mul and add come together).
struct GemmEpilogue {
  const float* bias = nullptr;  // [n]
  const float* mul = nullptr;   // [n]
  const float* add = nullptr;   // [n]
  // [m, n], rows ldc apart like y. It may be y itself when packed_gemm_passes(m, k, path) is 1
  // (each element is then read before y's is written); otherwise it must not overlap y.
  const float* residual = nullptr;
  float lo = -INFINITY, hi = INFINITY;
  // Then y = y * sigmoid(y) (SiLU), where the kernel takes it: the AVX-512 register blocks
  // (gemm_block_avx512.h's kSiLU variants) and depthwise_conv.h; the AVX2 blocks do not (conv.cc
  // applies it after them).
  bool silu = false;
};

// Sets a register block's per-column epilogue (gemm_block.h's or gemm_block_avx512.h's
// arguments: bias, mul, add, the clamp) from e for the block's columns from c0 (SiLU is the
// choice of the block function: packed_gemm_avx512_block); the residual,
// which goes with the block's rows, is left to the caller.
template <typename BlockArgs>
void set_block_epilogue(BlockArgs& g, const GemmEpilogue& e, int64_t c0) {
  g.bias = e.bias ? e.bias + c0 : nullptr;
  g.mul = e.mul ? e.mul + c0 : nullptr;
  g.add = e.add ? e.add + c0 : nullptr;
  g.lo = e.lo;
  g.hi = e.hi;
}

// How many passes over the depth packed_gemm makes for m rows and depth k on `path`: partial
// sums are written into y between them.
int64_t packed_gemm_passes(int64_t m, int64_t k, GemmPath path);

// y[i, j] = epilogue(sum_q a[i * lda + q] * B[q, j]) for i < m, j < n; `b` in `path`'s panel
// layout above, y row-major with rows ldc apart. m, k, n >= 1. Runs on up to `threads` OpenMP
// threads. Needs packed_gemm_supported(path). Thread-safe; y must not overlap the inputs (but
// for a residual as said above).
void packed_gemm(const float* a, int64_t lda, const float* b, float* y, int64_t ldc, int64_t m, int64_t k, int64_t n,
                 const GemmEpilogue& e, int threads, GemmPath path = GemmPath::kAvx2);

// The same with a bias and a clamp only.
inline void packed_gemm(const float* a, int64_t lda, const float* b, const float* bias, float* y, int64_t ldc,
                        int64_t m, int64_t k, int64_t n, float lo, float hi, int threads,
                        GemmPath path = GemmPath::kAvx2) {
  GemmEpilogue e;
  e.bias = bias;
  e.lo = lo;
  e.hi = hi;
  packed_gemm(a, lda, b, y, ldc, m, k, n, e, threads, path);
}

}  // namespace lw::cpu
