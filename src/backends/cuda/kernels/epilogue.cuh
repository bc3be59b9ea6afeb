// The fused epilogue of Conv, Gemm and MatMul (compiler/passes/epilogue_fusion.h), shared by
// conv.cu and matmul.cu: y = act(y + bias_scale * bias[...] + residual), in that order, as
// the CPU kernels apply it. One elementwise pass after a library call; the own kernels apply
// the same Activation in their stores. Also the inner tile step both own GEMM kernels share.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernel.h"
#include "compiler/passes/epilogue_fusion.h"

namespace lw::cuda::epi {

template <typename T>
__device__ __forceinline__ float to_float(T v) {
  return static_cast<float>(v);
}
template <>
__device__ __forceinline__ float to_float<__half>(__half v) {
  return __half2float(v);
}
template <typename T>
__device__ __forceinline__ T from_float(float v) {
  return static_cast<T>(v);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}

struct Activation {
  int kind = 0;  // 0 none, 1 Relu, 2 Clip
  float lo = 0.0f, hi = 0.0f;

  // NaN passes through both (numpy's maximum/clip do the same); Clip is min(max(v, lo), hi),
  // so lo > hi gives hi as ONNX says.
  __device__ __forceinline__ float apply(float v) const {
    if (kind == 1) return v < 0.0f ? 0.0f : v;
    if (kind == 2) {
      v = v < lo ? lo : v;
      return v > hi ? hi : v;
    }
    return v;
  }
};

// The fused activation of the node, with the CPU kernels' clamping of infinite Clip bounds
// to +-FLT_MAX (oneDNN's eltwise_clip takes finite bounds; +-inf inputs then become
// +-FLT_MAX there too).
inline Status read_activation(const KernelSpec& spec, Activation* act) {
  std::string name = spec.node.attr_string(passes::kAttrActivation, "");
  if (name.empty()) return Status::ok();
  if (name == "Relu") {
    act->kind = 1;
  } else if (name == "Clip") {
    act->kind = 2;
    act->lo = std::max(spec.node.attr_float(passes::kAttrClipMin, -FLT_MAX), -FLT_MAX);
    act->hi = std::min(spec.node.attr_float(passes::kAttrClipMax, FLT_MAX), FLT_MAX);
  } else {
    return kernel_error(spec.node, StatusCode::kOpNotFound, "unknown fused activation '", name, "'");
  }
  return Status::ok();
}

// Where the bias term of element i comes from: q = i / inner, c = q % channels,
// r = i - q * inner, bias[c * stride_c + r * stride_r]. Conv: inner = spatial size,
// channels = output channels, strides (1, 0). Gemm's C: inner = N, channels = M, strides
// of C broadcast to [M, N].
struct EpilogueParams {
  int64_t n = 0;
  const void* bias = nullptr;
  float bias_scale = 1.0f;
  int64_t inner = 1, channels = 1, stride_c = 0, stride_r = 0;
  const void* residual = nullptr;
  Activation act;

  bool needed() const { return bias != nullptr || residual != nullptr || act.kind != 0; }
};

template <typename T>
__global__ void epilogue_kernel(T* __restrict__ y, EpilogueParams p) {
  const T* bias = static_cast<const T*>(p.bias);
  const T* res = static_cast<const T*>(p.residual);
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.n; i += step) {
    float v = to_float(y[i]);
    if (bias != nullptr) {
      int64_t q = i / p.inner;
      int64_t r = i - q * p.inner;
      int64_t c = q % p.channels;
      v += p.bias_scale * to_float(bias[c * p.stride_c + r * p.stride_r]);
    }
    if (res != nullptr) v += to_float(res[i]);
    y[i] = from_float<T>(p.act.apply(v));
  }
}

// Enqueues the epilogue over y (n elements); nothing when there is nothing to apply.
template <typename T>
Status launch_epilogue(T* y, const EpilogueParams& p, cudaStream_t stream) {
  if (!p.needed() || p.n == 0) return Status::ok();
  epilogue_kernel<T><<<grid_for(p.n), 256, 0, stream>>>(y, p);
  LW_CUDA_CHECK_LAUNCH("epilogue_kernel");
  return Status::ok();
}

// The inner step of the own tiled GEMM and implicit-GEMM convolution: a 256-thread block holds
// 64x64 outputs, 4x4 per thread (rows ty + 16 i, columns tx + 16 j), and multiplies one K-slice
// of the shared-memory tiles A (K x 64) and B (K x 64) into them.
template <int kK, int kRowsA, int kRowsB>
__device__ __forceinline__ void accumulate_tile(const float (&As)[kK][kRowsA], const float (&Bs)[kK][kRowsB], int ty,
                                                int tx, float (&acc)[4][4]) {
#pragma unroll
  for (int kk = 0; kk < kK; ++kk) {
    float a[4], b[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
    for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
  }
}

}  // namespace lw::cuda::epi
