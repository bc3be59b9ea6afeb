// Gemm and MatMul (float32, float16) with the fused epilogue of compiler/passes/epilogue_fusion.h.
//
// Paths, chosen per run from what the factory prepared:
//   * cuBLAS (cublasGemmEx / cublasGemmStridedBatchedEx / cublasGemmBatchedEx) when the
//     library was opened, this execution has a cuBLAS handle, and every size fits cuBLAS's
//     int parameters. Row-major operands go in swapped (Y^T = B^T A^T in column-major terms).
//     Batches: one GEMM when there is one batch (MatMul with an unbatched B folds A's batch
//     dims into its rows, as the CPU kernel does); a strided-batched call when each side is
//     either batched exactly like the output or not batched at all (stride 0); otherwise a
//     pointer-array batched call, the pointers written into scratch by a small kernel.
//     float32 computes in CUBLAS_COMPUTE_32F, or CUBLAS_COMPUTE_32F_FAST_TF32 when the spec
//     allows TF32; float16 stores half and computes in float.
//   * An own shared-memory tiled GEMM (float accumulation, any sizes, transposes and batch
//     broadcasting) when cuBLAS is absent, the handle is null, a size exceeds int, or a cuBLAS
//     call fails, so results never depend on cuBLAS.
// Both compute alpha * op(A) op(B) only; one elementwise pass then adds beta * C (Gemm's C
// broadcast to [M, N]), the residual, and applies the activation, in the CPU kernel's order.
// An empty reduction (K = 0) zero-fills the output before that pass.
#include <cublas_v2.h>
#include <cuda_fp16.h>

#include <climits>
#include <memory>
#include <mutex>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/epilogue.cuh"
#include "backends/cuda/kernels/kernels.h"
#include "backends/cuda/libraries.h"
#include "core/log.h"

namespace lw::cuda {

namespace {

constexpr int kMaxBatchDims = 10;

// Output batch dims (size-1 dims dropped) and, per dim, the element stride between the
// matrices of A and of B (0 where that side is broadcast).
struct BatchMap {
  int nd = 0;
  int64_t dims[kMaxBatchDims] = {};
  int64_t a_stride[kMaxBatchDims] = {};
  int64_t b_stride[kMaxBatchDims] = {};
};

__device__ __forceinline__ void batch_offsets(const BatchMap& map, int64_t batch, int64_t* a_off, int64_t* b_off) {
  int64_t a = 0, b = 0;
  for (int d = map.nd - 1; d >= 0; --d) {
    int64_t q = batch / map.dims[d];
    int64_t i = batch - q * map.dims[d];
    batch = q;
    a += i * map.a_stride[d];
    b += i * map.b_stride[d];
  }
  *a_off = a;
  *b_off = b;
}

// Y[batch] (M x N, row-major, contiguous batches) = alpha * A'(m, k) B'(k, n), where
// A'(m, k) = A[a_off + m * sam + k * sak] and B'(k, n) = B[b_off + k * sbk + n * sbn].
struct GemmArgs {
  int64_t m = 0, n = 0, k = 0, batch = 1;
  int64_t sam = 0, sak = 0, sbk = 0, sbn = 0;
  float alpha = 1.0f;
  BatchMap map;
};

constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kGemmThreads = 256;

// Each thread owns a 4 x 4 block of the 64 x 64 tile, rows ty + 16 i and columns tx + 16 j,
// so a warp reads 16 consecutive B values and 2 broadcast A values from shared memory.
template <typename T>
__global__ void __launch_bounds__(kGemmThreads) tiled_gemm_kernel(const T* __restrict__ A, const T* __restrict__ B,
                                                                  T* __restrict__ Y, GemmArgs g) {
  __shared__ float As[kTileK][kTileM + 4];
  __shared__ float Bs[kTileK][kTileN + 4];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t tiles_m = (g.m + kTileM - 1) / kTileM, tiles_n = (g.n + kTileN - 1) / kTileN;
  // Load A and B so consecutive threads read consecutive addresses where a layout allows.
  const bool a_k_contig = g.sak == 1;
  const bool b_n_contig = g.sbn == 1;
  for (int64_t bz = blockIdx.z; bz < g.batch; bz += gridDim.z) {
    int64_t a_off = 0, b_off = 0;
    batch_offsets(g.map, bz, &a_off, &b_off);
    const T* a_mat = A + a_off;
    const T* b_mat = B + b_off;
    T* y_mat = Y + bz * g.m * g.n;
    for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
      for (int64_t tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
        const int64_t m0 = tm * kTileM, n0 = tn * kTileN;
        float acc[4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
        for (int64_t k0 = 0; k0 < g.k; k0 += kTileK) {
#pragma unroll
          for (int i = 0; i < (kTileM * kTileK) / kGemmThreads; ++i) {
            const int e = tid + i * kGemmThreads;
            const int ml = a_k_contig ? e / kTileK : e % kTileM;
            const int kl = a_k_contig ? e % kTileK : e / kTileM;
            const int64_t m = m0 + ml, k = k0 + kl;
            As[kl][ml] = (m < g.m && k < g.k) ? epi::to_float(a_mat[m * g.sam + k * g.sak]) : 0.0f;
          }
#pragma unroll
          for (int i = 0; i < (kTileN * kTileK) / kGemmThreads; ++i) {
            const int e = tid + i * kGemmThreads;
            const int nl = b_n_contig ? e % kTileN : e / kTileK;
            const int kl = b_n_contig ? e / kTileN : e % kTileK;
            const int64_t n = n0 + nl, k = k0 + kl;
            Bs[kl][nl] = (n < g.n && k < g.k) ? epi::to_float(b_mat[k * g.sbk + n * g.sbn]) : 0.0f;
          }
          __syncthreads();
          epi::accumulate_tile(As, Bs, ty, tx, acc);
          __syncthreads();
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int64_t m = m0 + ty + 16 * i;
          if (m >= g.m) continue;
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const int64_t n = n0 + tx + 16 * j;
            if (n < g.n) y_mat[m * g.n + n] = epi::from_float<T>(g.alpha * acc[i][j]);
          }
        }
      }
    }
  }
}

// Pointer arrays of a broadcast batched GEMM, written on the stream (scratch is device memory).
template <typename T>
__global__ void batch_pointers_kernel(const T* A, const T* B, T* Y, BatchMap map, int64_t batch, int64_t y_stride,
                                      const void** pa, const void** pb, void** py) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < batch; i += step) {
    int64_t a_off = 0, b_off = 0;
    batch_offsets(map, i, &a_off, &b_off);
    pa[i] = A + a_off;
    pb[i] = B + b_off;
    py[i] = Y + i * y_stride;
  }
}

enum class Mode { kSingle, kStrided, kPointers };

struct Plan {
  bool empty = false;
  GemmArgs g;
  bool ta = false, tb = false;  // A stored K x M, B stored N x K (Gemm only)
  Mode mode = Mode::kSingle;
  int64_t a_mat_stride = 0, b_mat_stride = 0;  // kStrided
  bool cublas_ok = false;                      // every size fits cuBLAS's ints
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  int c_input = -1, residual_input = -1;
  epi::EpilogueParams ep;  // pointers filled in per run
  int64_t out_numel = 0;
};

template <typename T>
constexpr cudaDataType cuda_type() {
  return sizeof(T) == 2 ? CUDA_R_16F : CUDA_R_32F;
}

template <typename T>
class MatMulKernel final : public Kernel {
 public:
  MatMulKernel(Plan p, const Libraries* libs, const ir::Node& node)
      : p_(std::move(p)), libs_(libs), name_(node.name), op_(node.op) {}

  size_t scratch_bytes() const override {
    return p_.mode == Mode::kPointers ? 3 * static_cast<size_t>(p_.g.batch) * sizeof(void*) : 0;
  }

  std::string variant() const override { return p_.cublas_ok && libs_->has_cublas() ? "cublas" : "own GEMM"; }

  Status run(const KernelRun& r) const override {
    Status st = run_impl(r);
    return st.is_ok() ? st : st.with_context("node '" + name_ + "' (" + op_ + "): ");
  }

 private:
  Status run_impl(const KernelRun& r) const {
    if (p_.empty) return Status::ok();
    const T* a = static_cast<const T*>(r.inputs[0]);
    const T* b = static_cast<const T*>(r.inputs[1]);
    T* y = static_cast<T*>(r.outputs[0]);
    cudaStream_t stream = r.handles.stream;
    if (p_.g.k == 0) {
      LW_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(y, 0, static_cast<size_t>(p_.out_numel) * sizeof(T), stream));
    } else {
      bool done = false;
      if (p_.cublas_ok && r.handles.cublas != nullptr && libs_->has_cublas()) {
        cublasStatus_t st = run_cublas(static_cast<cublasHandle_t>(r.handles.cublas), a, b, y, r.scratch, stream);
        done = st == CUBLAS_STATUS_SUCCESS;
        if (!done) {
          static std::once_flag said;
          std::call_once(said, [&] {
            log(LogLevel::kWarning, "a cuBLAS GEMM failed (status ", static_cast<int>(st),
                "); running the own GEMM kernel instead");
          });
        }
      }
      if (!done) LW_RETURN_IF_ERROR(run_own(a, b, y, stream));
    }
    epi::EpilogueParams ep = p_.ep;
    ep.bias = p_.c_input >= 0 ? r.inputs[p_.c_input] : nullptr;
    ep.residual = p_.residual_input >= 0 ? r.inputs[p_.residual_input] : nullptr;
    return epi::launch_epilogue<T>(y, ep, stream);
  }

  // Column-major view: Y^T (N x M) = op(B)^T (N x K) * op(A)^T (K x M); a row-major matrix
  // is its own transpose in column-major terms, so no data moves.
  cublasStatus_t run_cublas(cublasHandle_t h, const T* a, const T* b, T* y, void* scratch,
                            cudaStream_t stream) const {
    const GemmArgs& g = p_.g;
    const int m = static_cast<int>(g.n), n = static_cast<int>(g.m), k = static_cast<int>(g.k);
    const cublasOperation_t op_b = p_.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_a = p_.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int ld_b = static_cast<int>(p_.tb ? g.k : g.n);
    const int ld_a = static_cast<int>(p_.ta ? g.m : g.k);
    const int ld_y = static_cast<int>(g.n);
    const float alpha = g.alpha, beta = 0.0f;
    constexpr cudaDataType dt = cuda_type<T>();
    switch (p_.mode) {
      case Mode::kSingle:
        return libs_->cublasGemmEx_fn(h, op_b, op_a, m, n, k, &alpha, b, dt, ld_b, a, dt, ld_a, &beta, y, dt, ld_y,
                                      p_.compute, CUBLAS_GEMM_DEFAULT);
      case Mode::kStrided:
        return libs_->cublasGemmStridedBatchedEx_fn(h, op_b, op_a, m, n, k, &alpha, b, dt, ld_b, p_.b_mat_stride, a,
                                                    dt, ld_a, p_.a_mat_stride, &beta, y, dt, ld_y, g.m * g.n,
                                                    static_cast<int>(g.batch), p_.compute, CUBLAS_GEMM_DEFAULT);
      case Mode::kPointers: {
        void** base = static_cast<void**>(scratch);
        const void** pa = const_cast<const void**>(base);
        const void** pb = pa + g.batch;
        void** py = base + 2 * g.batch;
        batch_pointers_kernel<T><<<grid_for(g.batch), 256, 0, stream>>>(a, b, y, g.map, g.batch, g.m * g.n, pa, pb,
                                                                         py);
        if (cudaGetLastError() != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
        return libs_->cublasGemmBatchedEx_fn(h, op_b, op_a, m, n, k, &alpha, pb, dt, ld_b, pa, dt, ld_a, &beta, py,
                                             dt, ld_y, static_cast<int>(g.batch), p_.compute, CUBLAS_GEMM_DEFAULT);
      }
    }
    return CUBLAS_STATUS_INVALID_VALUE;
  }

  Status run_own(const T* a, const T* b, T* y, cudaStream_t stream) const {
    const GemmArgs& g = p_.g;
    const int64_t tiles_m = (g.m + kTileM - 1) / kTileM, tiles_n = (g.n + kTileN - 1) / kTileN;
    dim3 grid(static_cast<unsigned>(std::min<int64_t>(tiles_n, INT_MAX)),
              static_cast<unsigned>(std::min<int64_t>(tiles_m, 65535)),
              static_cast<unsigned>(std::min<int64_t>(g.batch, 65535)));
    tiled_gemm_kernel<T><<<grid, kGemmThreads, 0, stream>>>(a, b, y, g);
    LW_CUDA_CHECK_LAUNCH("tiled_gemm_kernel");
    return Status::ok();
  }

  Plan p_;
  const Libraries* libs_;
  std::string name_, op_;
};

Status check_dtypes(const KernelSpec& spec, const std::vector<int>& used, DType* dtype) {
  DType dt = spec.inputs[0].dtype;
  if (dt != DType::kFloat32 && dt != DType::kFloat16)
    return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "only float32 and float16 are supported");
  for (int i : used)
    if (spec.inputs[static_cast<size_t>(i)].dtype != dt)
      return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "input ", i, " has another dtype than input 0");
  if (spec.outputs.size() != 1 || spec.outputs[0].dtype != dt)
    return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "output dtype differs from the inputs'");
  *dtype = dt;
  return Status::ok();
}

// Index of the fused residual input (the last one) or -1; checks it against the output.
Result<int> residual_input(const KernelSpec& spec, size_t min_inputs) {
  if (spec.node.attr_int(passes::kAttrResidual, 0) == 0) return -1;
  size_t idx = spec.inputs.size() - 1;
  if (spec.inputs.size() <= min_inputs || spec.inputs[idx].dtype == DType::kUndefined ||
      spec.inputs[idx].shape.dims() != spec.outputs[0].shape.dims())
    return kernel_error(spec.node, StatusCode::kOpNotFound, "fused residual must be the last input, shaped like the output");
  return static_cast<int>(idx);
}

template <typename T>
Result<std::unique_ptr<Kernel>> finish(const KernelSpec& spec, Plan p) {
  const GemmArgs& g = p.g;
  p.out_numel = g.batch * g.m * g.n;
  p.empty = p.out_numel == 0;
  const int64_t lim = INT_MAX;
  p.cublas_ok = g.m <= lim && g.n <= lim && g.k <= lim && g.batch <= lim;
  if (sizeof(T) == 4 && spec.allow_tf32) p.compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  p.ep.n = p.out_numel;
  return std::unique_ptr<Kernel>(new MatMulKernel<T>(std::move(p), spec.libs, spec.node));
}

Result<std::unique_ptr<Kernel>> make_plan_kernel(const KernelSpec& spec, DType dt, Plan p) {
  if (dt == DType::kFloat16) return finish<__half>(spec, std::move(p));
  return finish<float>(spec, std::move(p));
}

Result<std::unique_ptr<Kernel>> make_matmul(const KernelSpec& spec) {
  if (spec.inputs.size() < 2) return kernel_error(spec.node, StatusCode::kOpNotFound, "needs A and B");
  LW_ASSIGN_OR_RETURN(int res, residual_input(spec, 2));
  std::vector<int> used = {0, 1};
  if (res >= 0) used.push_back(res);
  DType dt;
  LW_RETURN_IF_ERROR(check_dtypes(spec, used, &dt));
  Dims a = spec.inputs[0].shape.dims(), b = spec.inputs[1].shape.dims();
  if (a.empty() || b.empty()) return kernel_error(spec.node, StatusCode::kOpNotFound, "inputs must not be scalars");
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const size_t r = std::max(a.size(), b.size());
  a.insert(a.begin(), r - a.size(), 1);
  b.insert(b.begin(), r - b.size(), 1);
  const int64_t m = a[r - 2], k = a[r - 1], n = b[r - 1];
  if (b[r - 2] != k) return kernel_error(spec.node, StatusCode::kOpNotFound, "A ", a, " and B ", b, " disagree");
  Dims out_batch(r - 2);
  bool a_full = true, a_none = true, b_full = true, b_none = true;
  for (size_t i = 0; i + 2 < r; ++i) {
    if (a[i] != b[i] && a[i] != 1 && b[i] != 1)
      return kernel_error(spec.node, StatusCode::kOpNotFound, "batch dims of A ", a, " and B ", b, " do not broadcast");
    out_batch[i] = a[i] == 1 ? b[i] : a[i];
    a_full = a_full && a[i] == out_batch[i];
    b_full = b_full && b[i] == out_batch[i];
    a_none = a_none && a[i] == 1;
    b_none = b_none && b[i] == 1;
  }
  const int64_t batch = numel_of(out_batch);
  if (batch * m * n != numel_of(spec.outputs[0].shape.dims()))
    return kernel_error(spec.node, StatusCode::kOpNotFound, "output shape ", spec.outputs[0].shape.to_string(),
                        " does not match A ", a, " and B ", b);

  Plan p;
  GemmArgs& g = p.g;
  g.n = n;
  g.k = k;
  g.sam = k;
  g.sak = 1;
  g.sbk = n;
  g.sbn = 1;
  if (b_none) {
    // One B for every batch of A: A's batches are just more rows of one product.
    g.m = batch * m;
    g.batch = 1;
  } else {
    g.m = m;
    g.batch = batch;
    // Batch map over the output's non-trivial batch dims, innermost stride first.
    int64_t a_run = m * k, b_run = k * n;
    int nd = 0;
    int64_t dims[kMaxBatchDims], as[kMaxBatchDims], bs[kMaxBatchDims];
    for (size_t i = r - 2; i-- > 0;) {
      if (out_batch[i] != 1) {
        if (nd == kMaxBatchDims)
          return kernel_error(spec.node, StatusCode::kOpNotFound, "more than ", kMaxBatchDims, " batch dims");
        dims[nd] = out_batch[i];
        as[nd] = a[i] == 1 ? 0 : a_run;
        bs[nd] = b[i] == 1 ? 0 : b_run;
        ++nd;
      }
      a_run *= a[i];
      b_run *= b[i];
    }
    g.map.nd = nd;
    for (int d = 0; d < nd; ++d) {  // stored outermost first
      g.map.dims[d] = dims[nd - 1 - d];
      g.map.a_stride[d] = as[nd - 1 - d];
      g.map.b_stride[d] = bs[nd - 1 - d];
    }
    if (g.batch == 1) {
      p.mode = Mode::kSingle;
    } else if ((a_full || a_none) && (b_full || b_none)) {
      p.mode = Mode::kStrided;
      p.a_mat_stride = a_full ? m * k : 0;
      p.b_mat_stride = b_full ? k * n : 0;
    } else {
      p.mode = Mode::kPointers;
    }
  }
  p.residual_input = res;
  p.ep.inner = g.n;
  LW_RETURN_IF_ERROR(epi::read_activation(spec, &p.ep.act));
  return make_plan_kernel(spec, dt, std::move(p));
}

Result<std::unique_ptr<Kernel>> make_gemm(const KernelSpec& spec) {
  if (spec.inputs.size() < 2) return kernel_error(spec.node, StatusCode::kOpNotFound, "needs A and B");
  LW_ASSIGN_OR_RETURN(int res, residual_input(spec, 2));
  const float alpha = spec.node.attr_float("alpha", 1.0f);
  const float beta = spec.node.attr_float("beta", 1.0f);
  // As the CPU kernel: C takes no part when beta is 0 (its shape is not even checked).
  const bool has_c = spec.inputs.size() > 2 && res != 2 && spec.inputs[2].dtype != DType::kUndefined && beta != 0.0f;
  std::vector<int> used = {0, 1};
  if (has_c) used.push_back(2);
  if (res >= 0) used.push_back(res);
  DType dt;
  LW_RETURN_IF_ERROR(check_dtypes(spec, used, &dt));
  const Dims& a = spec.inputs[0].shape.dims();
  const Dims& b = spec.inputs[1].shape.dims();
  if (a.size() != 2 || b.size() != 2) return kernel_error(spec.node, StatusCode::kOpNotFound, "A and B must be 2-D");
  const bool ta = spec.node.attr_int("transA", 0) != 0, tb = spec.node.attr_int("transB", 0) != 0;
  const int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1], n = tb ? b[0] : b[1];
  if ((tb ? b[1] : b[0]) != k)
    return kernel_error(spec.node, StatusCode::kOpNotFound, "A ", a, " and B ", b, " disagree");
  if (spec.outputs[0].shape.dims() != Dims{m, n})
    return kernel_error(spec.node, StatusCode::kOpNotFound, "output shape ", spec.outputs[0].shape.to_string(),
                        " expected [", m, ",", n, "]");
  Plan p;
  GemmArgs& g = p.g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.batch = 1;
  g.alpha = alpha;
  p.ta = ta;
  p.tb = tb;
  g.sam = ta ? 1 : k;
  g.sak = ta ? m : 1;
  g.sbk = tb ? 1 : n;
  g.sbn = tb ? k : 1;
  p.ep.inner = n;
  p.ep.channels = m > 0 ? m : 1;
  if (has_c) {
    Dims c = spec.inputs[2].shape.dims();
    if (c.size() > 2)
      return kernel_error(spec.node, StatusCode::kOpNotFound, "C ", c, " does not broadcast to [", m, ",", n, "]");
    c.insert(c.begin(), 2 - c.size(), 1);
    if ((c[0] != 1 && c[0] != m) || (c[1] != 1 && c[1] != n))
      return kernel_error(spec.node, StatusCode::kOpNotFound, "C ", c, " does not broadcast to [", m, ",", n, "]");
    p.c_input = 2;
    p.ep.bias_scale = beta;
    p.ep.stride_c = c[0] == 1 ? 0 : c[1];
    p.ep.stride_r = c[1] == 1 ? 0 : 1;
  }
  p.residual_input = res;
  LW_RETURN_IF_ERROR(epi::read_activation(spec, &p.ep.act));
  return make_plan_kernel(spec, dt, std::move(p));
}

}  // namespace

void register_matmul_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"MatMul", make_matmul});
  registry.push_back({"Gemm", make_gemm});
}

}  // namespace lw::cuda
