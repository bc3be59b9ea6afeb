// Helpers shared by elementwise.cu, reduce.cu and norm.cu: the storage/compute type mapping
// (float16 and bfloat16 are computed in float), numpy broadcast plans built and collapsed on the
// host and indexed on the device, strided index math, warp/block reductions and the std::min /
// std::max forms whose NaN behaviour the CPU kernels rely on.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernel.h"
#include "backends/cuda/kernels/kernels.h"

namespace lw::cuda::ew {

inline constexpr int kMaxRank = 8;  // collapsed rank the device index math handles
inline constexpr int kThreads = 256;

// ---- storage type <-> compute type ----

template <typename T>
struct Num {
  using C = T;
  __device__ __forceinline__ static C load(T v) { return v; }
  __device__ __forceinline__ static T store(C v) { return v; }
};
template <>
struct Num<__half> {
  using C = float;
  __device__ __forceinline__ static float load(__half v) { return __half2float(v); }
  __device__ __forceinline__ static __half store(float v) { return __float2half_rn(v); }
};
template <>
struct Num<__nv_bfloat16> {
  using C = float;
  __device__ __forceinline__ static float load(__nv_bfloat16 v) { return __bfloat162float(v); }
  __device__ __forceinline__ static __nv_bfloat16 store(float v) { return __float2bfloat16_rn(v); }
};

template <typename T>
__device__ __forceinline__ bool is_nan_value(T v) {
  if constexpr (std::is_floating_point_v<T>) return isnan(v);
  else return false;
}

// std::max / std::min exactly: (a < b) ? b : a and (b < a) ? b : a, so a NaN second operand is
// dropped and a NaN first operand kept, as in the CPU kernels (fmaxf/fminf differ).
template <typename T>
__device__ __forceinline__ T std_max(T a, T b) { return (a < b) ? b : a; }
template <typename T>
__device__ __forceinline__ T std_min(T a, T b) { return (b < a) ? b : a; }

// ---- host-side shape helpers ----

inline bool broadcasts_to(const Dims& in, const Dims& out) {
  if (in.size() > out.size()) return false;
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] != 1 && in[i] != out[off + i]) return false;
  return true;
}

// Element strides of `in` seen from each dim of `out` (right-aligned); 0 where broadcast.
inline Dims broadcast_strides(const Dims& in, const Dims& out) {
  Dims s(out.size(), 0);
  const size_t off = out.size() - in.size();
  int64_t st = 1;
  for (size_t i = in.size(); i-- > 0;) {
    s[off + i] = in[i] == 1 ? 0 : st;
    st *= in[i];
  }
  return s;
}

// Output dims with per-input strides, size-1 dims dropped and adjacent dims merged where every
// input walks them as one (outer stride == inner stride * inner size, which includes 0 == 0).
struct BcastPlan {
  Dims dims;                  // at least one
  std::vector<Dims> strides;  // per input, one per dim
};

inline BcastPlan make_bcast_plan(const Dims& out, const std::vector<Dims>& strides) {
  BcastPlan p;
  p.strides.resize(strides.size());
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    bool merge = !p.dims.empty();
    for (size_t i = 0; merge && i < strides.size(); ++i)
      if (p.strides[i].back() != strides[i][d] * out[d]) merge = false;
    if (merge) {
      p.dims.back() *= out[d];
      for (size_t i = 0; i < strides.size(); ++i) p.strides[i].back() = strides[i][d];
    } else {
      p.dims.push_back(out[d]);
      for (size_t i = 0; i < strides.size(); ++i) p.strides[i].push_back(strides[i][d]);
    }
  }
  if (p.dims.empty()) {
    p.dims.push_back(1);
    for (auto& s : p.strides) s.push_back(0);
  }
  return p;
}

// The device form of a plan, passed by value as a kernel parameter.
template <int N>
struct Bcast {
  int rank = 1;
  int64_t dims[kMaxRank] = {};
  int64_t strides[N][kMaxRank] = {};
};

template <int N>
bool to_bcast(const BcastPlan& p, Bcast<N>* out) {
  if (p.dims.size() > static_cast<size_t>(kMaxRank) || p.strides.size() != static_cast<size_t>(N)) return false;
  out->rank = static_cast<int>(p.dims.size());
  for (size_t d = 0; d < p.dims.size(); ++d) {
    out->dims[d] = p.dims[d];
    for (int i = 0; i < N; ++i) out->strides[i][d] = p.strides[static_cast<size_t>(i)][d];
  }
  return true;
}

// Offsets of output element `idx` in each input; the outermost dim needs no division.
template <int N, typename I>
__device__ __forceinline__ void bcast_offsets(const Bcast<N>& p, I idx, I (&off)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) off[i] = 0;
#pragma unroll
  for (int d = kMaxRank - 1; d >= 1; --d) {
    if (d < p.rank) {
      const I dim = static_cast<I>(p.dims[d]);
      const I q = idx / dim;
      const I r = idx - q * dim;
      idx = q;
#pragma unroll
      for (int i = 0; i < N; ++i) off[i] += r * static_cast<I>(p.strides[i][d]);
    }
  }
#pragma unroll
  for (int i = 0; i < N; ++i) off[i] += idx * static_cast<I>(p.strides[i][0]);
}

// A row-major walk over `rank` dims with arbitrary element strides (rank 0: offset 0).
struct Strided {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};
};

// `narrow`: every index and offset fits in 32 bits, so the divisions can be 32-bit.
__device__ __forceinline__ int64_t strided_offset(const Strided& s, int64_t idx, bool narrow) {
  if (s.rank == 0) return 0;
  if (narrow) {
    uint32_t i = static_cast<uint32_t>(idx), off = 0;
#pragma unroll
    for (int d = kMaxRank - 1; d >= 1; --d) {
      if (d < s.rank) {
        const uint32_t dim = static_cast<uint32_t>(s.dims[d]);
        const uint32_t q = i / dim;
        off += (i - q * dim) * static_cast<uint32_t>(s.strides[d]);
        i = q;
      }
    }
    return static_cast<int64_t>(off + i * static_cast<uint32_t>(s.strides[0]));
  }
  int64_t off = 0;
#pragma unroll
  for (int d = kMaxRank - 1; d >= 1; --d) {
    if (d < s.rank) {
      const int64_t q = idx / s.dims[d];
      off += (idx - q * s.dims[d]) * s.strides[d];
      idx = q;
    }
  }
  return off + idx * s.strides[0];
}

// ---- warp / block reductions (blockDim.x a multiple of 32) ----

template <typename T>
__device__ __forceinline__ T shfl_xor(T v, int mask) {
  return __shfl_xor_sync(0xffffffffu, v, mask);
}

template <typename T, typename Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v = op(v, shfl_xor(v, m));
  return v;
}

// Every thread of the block calls it (uniformly); every thread gets the result. The warps'
// partials are combined in warp order, so the result does not depend on timing. `smem` holds
// 32 T; the leading barrier lets the same buffer serve consecutive calls.
template <typename T, typename Op>
__device__ __forceinline__ T block_reduce(T v, Op op, T* smem) {
  v = warp_reduce(v, op);
  const int lane = static_cast<int>(threadIdx.x & 31u), warp = static_cast<int>(threadIdx.x >> 5);
  const int warps = static_cast<int>((blockDim.x + 31u) >> 5);
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  T r = smem[0];
  for (int w = 1; w < warps; ++w) r = op(r, smem[w]);
  return r;
}

// Reduction over a group of TPR threads: one warp (TPR == 32) or the whole block.
template <int TPR, typename T, typename Op>
__device__ __forceinline__ T group_reduce(T v, Op op, T* smem) {
  if constexpr (TPR == 32) return warp_reduce(v, op);
  else return block_reduce(v, op, smem);
}

struct SumOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
// std::max semantics (a NaN never enters when the first operand starts at -inf).
struct StdMaxOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return std_max(a, b); }
};

// ---- host-side helpers ----

inline Status refuse(const ir::Node& node, const char* what, DType t) {
  return kernel_error(node, StatusCode::kUnsupportedDtype, "the CUDA kernel does not support ", dtype_name(t),
                      " for ", what);
}

inline bool present(const KernelSpec& spec, size_t i) {
  return i < spec.inputs.size() && spec.inputs[i].dtype != DType::kUndefined;
}

// Blocks for `items` work items of `per_block` each, capped; kernels loop over the rest.
inline unsigned blocks_for(int64_t items, int64_t per_block, int64_t cap = 65535 * 8) {
  int64_t b = (items + per_block - 1) / per_block;
  if (b < 1) b = 1;
  if (b > cap) b = cap;
  return static_cast<unsigned>(b);
}

}  // namespace lw::cuda::ew
