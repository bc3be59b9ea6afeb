// Y = clamp(A * W^T + bias, lo, hi) for an A of few rows (a batch of a few samples through a
// Linear layer), with W [N, K] row-major as the caller holds it (a Gemm's transB, PyTorch's
// Linear). Such a product is bound by reading W: this kernel reads each row of W once, from
// memory into FMAs against every row of A held in cache, on each thread's own range of rows.
// oneDNN 2.6's AVX2 gemm ran the MLP benchmark's 8 x 4096 x 4096 layers at about 7.5 GB/s of W
// where the machine reads 19 GB/s at two threads (on AVX-512 packed_gemm's 8-row blocks take
// such products, on B held in panels, and this kernel is not used).
#pragma once

#include <cstdint>

namespace lw::cpu {

// Rows of A this kernel takes.
inline constexpr int64_t kSkinnyGemmMaxRows = 16;

// True when the CPU has AVX2 and FMA (the kernel's only code path).
bool skinny_gemm_supported();

// y[i, j] = clamp(sum_q a[i, q] * w[j, q] + (bias ? bias[j] : 0), lo, hi) for i < m, j < n;
// a is [m, k] and y [m, n], both row-major and dense; 1 <= m <= kSkinnyGemmMaxRows. Runs on up
// to `threads` OpenMP threads. Needs skinny_gemm_supported(). Thread-safe; y must not overlap
// the inputs.
void skinny_gemm(const float* a, const float* w, const float* bias, float* y, int64_t m, int64_t k, int64_t n,
                 float lo, float hi, int threads);

}  // namespace lw::cpu
