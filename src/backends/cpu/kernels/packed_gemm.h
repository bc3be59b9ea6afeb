// Y = clamp(A * B + bias, lo, hi) with B held in panels of columns: the weight products of a
// transformer (128 rows of A against 512 x 2048 weights, say) and of an MLP over a small batch.
// On AVX2 (panels of 16 columns) it serves machines where oneDNN 2.6 runs such products through
// its AVX2 gemm, which packs B again on every call and ran them at about 60% of the FMA peak
// where ONNX Runtime's MLAS, with B prepacked, runs at over 80%. On AVX-512 (panels of 48 or
// 64) it replaces oneDNN's AVX-512 matmul, which is as fast on the transformer's products but
// allocates memory on every call (its argument maps) and streamed the MLP's weights slower. B is
// a weight: the runtime holds it in the panel layout (packed_gemm_b_desc) and a refresh writes
// it there, so inference never packs.
#pragma once

#include <cstdint>
#include <memory>

#include "backends/cpu/kernel.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

// Columns per panel of the packed B on AVX2 (attention.h and winograd_conv.h pack their own
// operands this way).
inline constexpr int64_t kPackedGemmPanel = 16;

// The code paths, by register block; each has its own panel width, so B's layout follows the
// path chosen for it.
enum class GemmPath {
  kAvx2,          // 6 rows x 16 columns: panels of 16
  kAvx512Narrow,  // 8 rows x 48 columns: up to 8 rows of A (a small batch) stream each panel once
  kAvx512Wide,    // 6 rows x 64 columns: more rows, and the common widths split evenly in panels
};

// Columns per panel of B for `path`: 16, 48 or 64.
int64_t packed_gemm_panel(GemmPath path);

// True when the CPU runs `path`'s code: AVX2 and FMA; for the other two also AVX-512, where
// oneDNN may use it (avx512_allowed).
bool packed_gemm_supported(GemmPath path = GemmPath::kAvx2);

// The path a weight multiplied by m rows of A takes on this CPU: AVX-512 where it has it.
GemmPath packed_gemm_weight_path(int64_t m);

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

// y[i, j] = clamp(sum_q a[i * lda + q] * B[q, j] + (bias ? bias[j] : 0), lo, hi) for i < m,
// j < n; `b` in `path`'s panel layout above, y row-major with rows ldc apart. m, k, n >= 1. Runs
// on up to `threads` OpenMP threads. Needs packed_gemm_supported(path). Thread-safe; y must not
// overlap the inputs.
void packed_gemm(const float* a, int64_t lda, const float* b, const float* bias, float* y, int64_t ldc, int64_t m,
                 int64_t k, int64_t n, float lo, float hi, int threads, GemmPath path = GemmPath::kAvx2);

}  // namespace lw::cpu
