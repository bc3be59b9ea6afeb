// Y = clamp(A * B + bias, lo, hi) with B held in panels of 16 columns, on AVX2 + FMA: the
// weight products of a transformer (128 rows of A against 512 x 2048 weights, say) on machines
// where oneDNN 2.6 runs them through its AVX2 gemm, which packs B again on every call and ran
// those products at about 60% of the FMA peak where ONNX Runtime's MLAS, with B prepacked,
// runs at over 80%. B is a weight: the runtime holds it in the panel layout (packed_gemm_b_desc)
// and a refresh writes it there, so inference never packs.
#pragma once

#include <cstdint>
#include <memory>

#include "backends/cpu/kernel.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

// Columns per panel of the packed B.
inline constexpr int64_t kPackedGemmPanel = 16;

// True when the CPU has AVX2 and FMA (the kernel's only code path).
bool packed_gemm_supported();

// The panel layout as a oneDNN descriptor, so the weight packing machinery (make_weight_packing:
// pack, unpack, layout keys) serves it. Panel p holds rows 0..k-1 of columns 16p..16p+15, row
// after row; columns past n are zero. `b_rows_are_columns` false: over B's own dims [k, n]
// (MatMul's B); true: over the dims [n, k] of a matrix W whose transpose is B (Gemm's transB
// weight, PyTorch's Linear), the same bytes.
dnnl::memory::desc packed_gemm_b_desc(int64_t k, int64_t n, bool b_rows_are_columns);

// The packing of a B into that layout (from [n, k] when b_rows_are_columns): pack() writes it
// from the caller's matrix on up to omp_get_max_threads() threads, unpack() reads it back; its
// key and native descriptor are those of packed_gemm_b_desc. Throws dnnl::error as
// make_weight_packing does.
std::shared_ptr<PackedLayout> packed_gemm_b_packing(int64_t k, int64_t n, bool b_rows_are_columns);

// y[i, j] = clamp(sum_q a[i * lda + q] * B[q, j] + (bias ? bias[j] : 0), lo, hi) for i < m,
// j < n; `b` in the panel layout above, y row-major with rows ldc apart. m, k, n >= 1. Runs on
// up to `threads` OpenMP threads. Needs packed_gemm_supported(). Thread-safe; y must not overlap
// the inputs.
void packed_gemm(const float* a, int64_t lda, const float* b, const float* bias, float* y, int64_t ldc, int64_t m,
                 int64_t k, int64_t n, float lo, float hi, int threads);

}  // namespace lw::cpu
