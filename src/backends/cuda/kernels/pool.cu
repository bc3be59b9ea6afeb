// CUDA pooling kernels matching the CPU kernels of pool.cc: MaxPool (dilations, ceil_mode,
// storage_order, optional int64 Indices), AveragePool (count_include_pad, ceil_mode,
// dilations) and GlobalAveragePool / GlobalMaxPool, for float32 and float16 (computed in float,
// stored in the input type). 1-D and 2-D pools run as 3-D ones with leading unit dims, as on
// the CPU, and every output element visits its window in the CPU's order so the float sums
// and the max tie-breaking (first maximum wins, a leading NaN sticks) agree exactly.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernel.h"
#include "backends/cuda/kernels/kernels.h"
#include "graph/ops/spatial.h"

namespace lw::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kInt32Limit = int64_t{1} << 31;


bool all_static(const KernelSpec& spec) {
  for (const auto& t : spec.inputs)
    if (t.dtype != DType::kUndefined && !t.shape.is_static()) return false;
  for (const auto& t : spec.outputs)
    if (t.dtype != DType::kUndefined && !t.shape.is_static()) return false;
  return true;
}

class EmptyKernel final : public Kernel {
 public:
  Status run(const KernelRun&) const override { return Status::ok(); }
};

__host__ __device__ __forceinline__ float load_f(float v) { return v; }
__host__ __device__ __forceinline__ float load_f(__half v) { return __half2float(v); }
template <typename T>
__device__ __forceinline__ T store_f(float v);
template <>
__device__ __forceinline__ float store_f<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half store_f<__half>(float v) { return __float2half_rn(v); }

// ---------------------------------------------------------------------------------------------
// MaxPool and AveragePool

struct PoolGeometry {
  int64_t planes = 0;  // N * C
  int64_t in[3] = {}, out[3] = {}, k[3] = {}, s[3] = {}, d[3] = {}, pb[3] = {}, pe[3] = {};
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
};

// The taps of output index o along axis `a` that land inside the input: [first, first + count),
// and (for count_include_pad) how many land inside the input plus its explicit pads. The same
// loops as the CPU kernel's window(), so edge cases (windows wholly in padding) agree.
__host__ __device__ __forceinline__ void window(const PoolGeometry& g, int a, int64_t o, int64_t* first, int64_t* count,
                                                int64_t* padded) {
  const int64_t start = o * g.s[a] - g.pb[a];
  int64_t lo = 0, hi = g.k[a];
  while (lo < hi && start + lo * g.d[a] < 0) ++lo;
  while (hi > lo && start + (hi - 1) * g.d[a] >= g.in[a]) --hi;
  *first = lo;
  *count = hi - lo;
  int64_t plo = 0, phi = g.k[a];
  while (plo < phi && start + plo * g.d[a] < -g.pb[a]) ++plo;
  while (phi > plo && start + (phi - 1) * g.d[a] >= g.in[a] + g.pe[a]) --phi;
  *padded = phi - plo;
}

// Output element i (its value, and for MaxPool the Indices value). I is the unsigned type of the
// output index (32-bit when the output has fewer than 2^31 elements); offsets into X are int64.
// Host-callable for tests.
template <typename T, typename I, bool Max>
__host__ __device__ __forceinline__ float pool_element(const T* __restrict__ x, const PoolGeometry& g, I i,
                                                       bool include_pad, bool column_major, int64_t* index) {
  const I out0 = static_cast<I>(g.out[0]), out1 = static_cast<I>(g.out[1]), out2 = static_cast<I>(g.out[2]);
  const int64_t h_in = g.in[1], w_in = g.in[2];
  const int64_t in_plane = g.in[0] * h_in * w_in;
  const I t = i / out2;
  const int64_t o2 = static_cast<int64_t>(i - t * out2);
  const I u = t / out1;
  const int64_t o1 = static_cast<int64_t>(t - u * out1);
  const I p = u / out0;
  const int64_t o0 = static_cast<int64_t>(u - p * out0);
  int64_t f0, c0, p0, f1, c1, p1, f2, c2, p2;
  window(g, 0, o0, &f0, &c0, &p0);
  window(g, 1, o1, &f1, &c1, &p1);
  window(g, 2, o2, &f2, &c2, &p2);
  const int64_t s0 = o0 * g.s[0] - g.pb[0], s1 = o1 * g.s[1] - g.pb[1], s2 = o2 * g.s[2] - g.pb[2];
  const T* xp = x + static_cast<int64_t>(p) * in_plane;
  if constexpr (Max) {
    float best = -INFINITY;
    int64_t best_at = -1;
    for (int64_t k0 = f0; k0 < f0 + c0; ++k0) {
      const int64_t i0 = s0 + k0 * g.d[0];
      for (int64_t k1 = f1; k1 < f1 + c1; ++k1) {
        const int64_t i1 = s1 + k1 * g.d[1];
        const int64_t row = (i0 * h_in + i1) * w_in;
        for (int64_t k2 = f2; k2 < f2 + c2; ++k2) {
          const int64_t i2 = s2 + k2 * g.d[2];
          const float v = load_f(xp[row + i2]);
          if (best_at < 0 || v > best) {
            best = v;
            best_at = row + i2;
          }
        }
      }
    }
    if (index) {
      int64_t at = best_at < 0 ? 0 : best_at;
      if (column_major) {  // storage_order = 1: the offset of a column-major plane
        const int64_t a2 = at % w_in, rest = at / w_in;
        const int64_t a1 = rest % h_in, a0 = rest / h_in;
        at = (a2 * h_in + a1) * g.in[0] + a0;
      }
      *index = static_cast<int64_t>(p) * in_plane + at;
    }
    return best;
  } else {
    float sum = 0.0f;
    for (int64_t k0 = f0; k0 < f0 + c0; ++k0) {
      const int64_t i0 = s0 + k0 * g.d[0];
      for (int64_t k1 = f1; k1 < f1 + c1; ++k1) {
        const int64_t i1 = s1 + k1 * g.d[1];
        const int64_t row = (i0 * h_in + i1) * w_in;
        for (int64_t k2 = f2; k2 < f2 + c2; ++k2) sum += load_f(xp[row + s2 + k2 * g.d[2]]);
      }
    }
    const int64_t count = include_pad ? p0 * p1 * p2 : c0 * c1 * c2;
    return count > 0 ? sum / static_cast<float>(count) : 0.0f;
  }
}

template <typename T, typename I, bool Max>
__global__ void pool_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ indices,
                            const PoolGeometry g, bool include_pad, bool column_major) {
  const I total = static_cast<I>(g.planes * g.out[0] * g.out[1] * g.out[2]);
  const I step = static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + threadIdx.x; i < total; i += step) {
    int64_t at = 0;
    const float v = pool_element<T, I, Max>(x, g, i, include_pad, column_major, &at);
    y[i] = store_f<T>(v);
    if (indices) indices[i] = at;
  }
}

class PoolKernel final : public Kernel {
 public:
  PoolKernel(PoolGeometry g, bool max, bool half, bool include_pad, bool indices, bool column_major)
      : g_(g), max_(max), half_(half), include_pad_(include_pad), indices_(indices), column_major_(column_major) {}

  Status run(const KernelRun& r) const override {
    return half_ ? launch<__half>(r) : launch<float>(r);
  }

 private:
  template <typename T>
  Status launch(const KernelRun& r) const {
    const T* x = static_cast<const T*>(r.inputs[0]);
    T* y = static_cast<T*>(r.outputs[0]);
    int64_t* idx = indices_ ? static_cast<int64_t*>(r.outputs[1]) : nullptr;
    const int64_t total = g_.planes * g_.out_plane();
    const unsigned blocks = grid_for(total, kThreads);
    cudaStream_t stream = r.handles.stream;
    const bool small = total < kInt32Limit;
    const bool pad = include_pad_, cm = column_major_;
    if (max_) {
      if (small) pool_kernel<T, uint32_t, true><<<blocks, kThreads, 0, stream>>>(x, y, idx, g_, pad, cm);
      else pool_kernel<T, uint64_t, true><<<blocks, kThreads, 0, stream>>>(x, y, idx, g_, pad, cm);
    } else {
      if (small) pool_kernel<T, uint32_t, false><<<blocks, kThreads, 0, stream>>>(x, y, idx, g_, pad, cm);
      else pool_kernel<T, uint64_t, false><<<blocks, kThreads, 0, stream>>>(x, y, idx, g_, pad, cm);
    }
    LW_CUDA_CHECK_LAUNCH(max_ ? "MaxPool kernel" : "AveragePool kernel");
    return Status::ok();
  }

  PoolGeometry g_;
  bool max_, half_, include_pad_, indices_, column_major_;
};

Result<std::unique_ptr<Kernel>> make_pool(const KernelSpec& spec, bool max) {
  if (spec.inputs.size() != 1 || spec.outputs.empty() || spec.outputs.size() > (max ? 2u : 1u))
    return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  const DType t = spec.inputs[0].dtype;
  if (t != DType::kFloat32 && t != DType::kFloat16) return refuse_dtype(spec, t);
  if (spec.outputs[0].dtype != t) return refuse_dtype(spec, spec.outputs[0].dtype);
  const bool indices = max && spec.outputs.size() > 1 && spec.outputs[1].dtype != DType::kUndefined;
  if (indices && spec.outputs[1].dtype != DType::kInt64) return refuse_dtype(spec, spec.outputs[1].dtype);
  const Dims& x = spec.inputs[0].shape.dims();
  if (x.size() < 3 || x.size() > 5) return refuse(spec, "pooling other than 1-D to 3-D");
  const size_t rank = x.size() - 2;
  auto params = ir::read_spatial_params(spec.node, rank, nullptr, true, true);
  if (!params.is_ok()) return refuse(spec, "these attributes (", params.status().message(), ")");
  ir::SpatialParams p = std::move(*params);
  auto out = ir::spatial_output_dims(spec.node, p, Dims(x.begin() + 2, x.end()));
  if (!out.is_ok()) return refuse(spec, "this window (", out.status().message(), ")");
  Dims y = {x[0], x[1]};
  y.insert(y.end(), out->begin(), out->end());
  if (y != spec.outputs[0].shape.dims() || (indices && y != spec.outputs[1].shape.dims()))
    return refuse(spec, "output dims that disagree with inference");
  PoolGeometry g;
  g.planes = x[0] * x[1];
  const size_t shift = 3 - rank;
  for (size_t a = 0; a < 3; ++a) {
    const bool real = a >= shift;
    const size_t i = a - shift;
    g.in[a] = real ? x[2 + i] : 1;
    g.out[a] = real ? (*out)[i] : 1;
    g.k[a] = real ? p.kernel[i] : 1;
    g.s[a] = real ? p.strides[i] : 1;
    g.d[a] = real ? p.dilations[i] : 1;
    g.pb[a] = real ? p.pads_begin[i] : 0;
    g.pe[a] = real ? p.pads_end[i] : 0;
  }
  if (g.planes * g.out_plane() == 0) return make_kernel<EmptyKernel>();
  const bool include_pad = spec.node.attr_int("count_include_pad", 0) != 0;
  const bool column_major = spec.node.attr_int("storage_order", 0) != 0;
  return make_kernel<PoolKernel>(g, max, t == DType::kFloat16, include_pad, indices, column_major);
}

Result<std::unique_ptr<Kernel>> make_max_pool(const KernelSpec& spec) { return make_pool(spec, true); }
Result<std::unique_ptr<Kernel>> make_avg_pool(const KernelSpec& spec) { return make_pool(spec, false); }

// ---------------------------------------------------------------------------------------------
// GlobalAveragePool and GlobalMaxPool: one block per (n, c) plane and a block reduction. The
// average accumulates in double as the CPU does; the max is NaN if any element is NaN, which is
// what the CPU's sequential (isnan(v) || v > m) rule yields.

struct SumOp {
  __device__ __forceinline__ double operator()(double a, double b) const { return a + b; }
};
struct NanMaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const {
    if (isnan(a)) return a;
    if (isnan(b)) return b;
    return b > a ? b : a;
  }
};

// Reduces `v` over the block (blockDim.x a multiple of 32, at most 1024); the result is valid in
// thread 0. `identity` fills the lanes of absent warps. Ends with the block synchronized, so
// `shared` may be reused right after.
template <typename V, typename Op>
__device__ V block_reduce(V v, V identity, Op op, V* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, off));
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = static_cast<int>(blockDim.x >> 5);
    v = lane < warps ? shared[lane] : identity;
    for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, off));
  }
  __syncthreads();
  return v;
}

template <typename T, bool Max>
__global__ void global_pool_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes, int64_t size) {
  __shared__ double partial_sum[32];
  __shared__ float partial_max[32];
  for (int64_t p = blockIdx.x; p < planes; p += gridDim.x) {
    const T* xp = x + p * size;
    if constexpr (Max) {
      float m = -INFINITY;
      for (int64_t i = threadIdx.x; i < size; i += blockDim.x) {
        const float v = load_f(xp[i]);
        m = (isnan(v) || v > m) ? v : m;
      }
      m = block_reduce(m, -INFINITY, NanMaxOp{}, partial_max);
      if (threadIdx.x == 0) y[p] = store_f<T>(m);
    } else {
      double s = 0.0;
      for (int64_t i = threadIdx.x; i < size; i += blockDim.x) s += static_cast<double>(load_f(xp[i]));
      s = block_reduce(s, 0.0, SumOp{}, partial_sum);
      if (threadIdx.x == 0)
        y[p] = store_f<T>(size > 0 ? static_cast<float>(s / static_cast<double>(size)) : 0.0f);
    }
  }
}

class GlobalPoolKernel final : public Kernel {
 public:
  GlobalPoolKernel(int64_t planes, int64_t size, bool max, bool half)
      : planes_(planes), size_(size), max_(max), half_(half) {
    // Enough threads to cover a small plane without idle warps; more for large planes.
    threads_ = 32;
    while (threads_ < 256 && threads_ < size_) threads_ *= 2;
    if (size_ >= 8192) threads_ = 512;
  }
  Status run(const KernelRun& r) const override { return half_ ? launch<__half>(r) : launch<float>(r); }

 private:
  template <typename T>
  Status launch(const KernelRun& r) const {
    const T* x = static_cast<const T*>(r.inputs[0]);
    T* y = static_cast<T*>(r.outputs[0]);
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(planes_, int64_t{1} << 20));
    cudaStream_t stream = r.handles.stream;
    if (max_) global_pool_kernel<T, true><<<blocks, threads_, 0, stream>>>(x, y, planes_, size_);
    else global_pool_kernel<T, false><<<blocks, threads_, 0, stream>>>(x, y, planes_, size_);
    LW_CUDA_CHECK_LAUNCH(max_ ? "GlobalMaxPool kernel" : "GlobalAveragePool kernel");
    return Status::ok();
  }

  int64_t planes_, size_;
  bool max_, half_;
  int threads_ = 256;
};

Result<std::unique_ptr<Kernel>> make_global_pool(const KernelSpec& spec) {
  if (spec.inputs.size() != 1 || spec.outputs.size() != 1) return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  const DType t = spec.inputs[0].dtype;
  if (t != DType::kFloat32 && t != DType::kFloat16) return refuse_dtype(spec, t);
  if (spec.outputs[0].dtype != t) return refuse_dtype(spec, spec.outputs[0].dtype);
  const Dims& x = spec.inputs[0].shape.dims();
  if (x.size() < 3) return refuse(spec, "an input of rank below 3");
  const int64_t planes = x[0] * x[1];
  if (numel_of(spec.outputs[0].shape.dims()) != planes) return refuse(spec, "output dims that disagree with inference");
  if (planes == 0) return make_kernel<EmptyKernel>();
  return make_kernel<GlobalPoolKernel>(planes, numel_of(Dims(x.begin() + 2, x.end())),
                                       spec.node.op == "GlobalMaxPool", t == DType::kFloat16);
}

}  // namespace

void register_pool_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"MaxPool", make_max_pool});
  registry.push_back({"AveragePool", make_avg_pool});
  registry.push_back({"GlobalAveragePool", make_global_pool});
  registry.push_back({"GlobalMaxPool", make_global_pool});
}

}  // namespace lw::cuda
