// Collapsed strided geometry for the GPU copies that read their input through per-dim strides
// (Transpose, Slice, Expand, Tile), and the launch helpers they share. The output is always
// contiguous and walked in row-major order; each output dim has an input element stride (0 for
// a broadcast dim, negative for a reversed Slice). Geometry is built once at kernel creation;
// the kernel receives it by value. Only data_movement.cu includes this header.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "backends/cuda/cuda_check.h"

namespace lw::cuda::strided_copy {

// Tile repeats double the rank before collapsing, so leave room beyond ONNX's usual 6 dims.
inline constexpr int kMaxDims = 12;

struct Geometry {
  int rank = 0;                     // collapsed dims; 0 means a single element
  int64_t dims[kMaxDims] = {};      // output dims, row-major
  int64_t strides[kMaxDims] = {};   // input element stride per output dim
  int64_t base = 0;                 // input element offset of output element 0
  int64_t total = 0;                // output elements
};

// Drops size-1 dims and merges neighbours the input walks contiguously (the output always is),
// so the innermost dim is as long as possible. False when more than kMaxDims dims remain.
inline bool collapse(const Dims& out, const Dims& strides, int64_t base, Geometry* g) {
  Geometry r;
  r.base = base;
  r.total = numel_of(out);
  for (size_t k = 0; k < out.size(); ++k) {
    if (out[k] == 1) continue;
    if (r.rank > 0 && r.strides[r.rank - 1] == strides[k] * out[k]) {
      r.dims[r.rank - 1] *= out[k];
      r.strides[r.rank - 1] = strides[k];
      continue;
    }
    if (r.rank == kMaxDims) return false;
    r.dims[r.rank] = out[k];
    r.strides[r.rank] = strides[k];
    ++r.rank;
  }
  *g = r;
  return true;
}

// The same copy in units of `factor` elements, possible when the innermost dim is read
// contiguously and every offset is a multiple of the factor. False otherwise.
inline bool widen(const Geometry& g, int64_t factor, Geometry* w) {
  if (g.rank == 0 || factor <= 1) return false;
  const int last = g.rank - 1;
  if (g.strides[last] != 1 || g.dims[last] % factor != 0 || g.base % factor != 0) return false;
  for (int d = 0; d < last; ++d)
    if (g.strides[d] % factor != 0) return false;
  Geometry r = g;
  r.dims[last] /= factor;
  for (int d = 0; d < last; ++d) r.strides[d] /= factor;
  r.base /= factor;
  r.total /= factor;
  *w = r;
  return true;
}

// True when the copy is one contiguous run of the input (a plain memcpy).
inline bool is_contiguous(const Geometry& g) {
  return g.rank == 0 || (g.rank == 1 && g.strides[0] == 1);
}

// Input element offset read by output element i. I is the unsigned type of the output index
// (32-bit whenever the output has fewer than 2^31 elements: the divisions are the cost here);
// input offsets are always int64 because strides may be negative. Host-callable for tests.
template <typename I>
__host__ __device__ __forceinline__ int64_t source_offset(const Geometry& g, I i) {
  I rem = i;
  int64_t off = g.base;
  // Unrolled with constant indices so the geometry stays in the parameter bank.
#ifdef __CUDA_ARCH__  // host compilers reject the pragma
#pragma unroll
#endif
  for (int d = kMaxDims - 1; d >= 1; --d) {
    if (d < g.rank) {
      const I n = static_cast<I>(g.dims[d]);
      const I q = rem / n;
      off += static_cast<int64_t>(rem - q * n) * g.strides[d];
      rem = q;
    }
  }
  return off + static_cast<int64_t>(rem) * g.strides[0];
}

template <typename T, typename I>
__global__ void gather_strided_kernel(const T* __restrict__ x, T* __restrict__ y, const Geometry g) {
  const I total = static_cast<I>(g.total);
  const I step = static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + threadIdx.x; i < total; i += step)
    y[i] = x[source_offset(g, i)];
}

// Largest power-of-two width in bytes, at most 16, dividing every bit pattern OR-ed in `bits`.
inline int64_t common_width(uint64_t bits) {
  for (int64_t w = 16; w > 1; w /= 2)
    if (bits % static_cast<uint64_t>(w) == 0) return w;
  return 1;
}

inline uint64_t address_bits(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

// Unsigned integer (or vector) type of `Bytes` bytes, to move elements without interpreting them.
template <int Bytes> struct Unit;
template <> struct Unit<1> { using type = uint8_t; };
template <> struct Unit<2> { using type = uint16_t; };
template <> struct Unit<4> { using type = uint32_t; };
template <> struct Unit<8> { using type = uint2; };
template <> struct Unit<16> { using type = uint4; };

constexpr int kThreads = 256;

template <typename T>
Status launch_gather_strided(const Geometry& g, const void* x, void* y, cudaStream_t stream) {
  if (g.total <= 0) return Status::ok();
  const unsigned blocks = grid_for(g.total, kThreads);
  const T* src = static_cast<const T*>(x);
  T* dst = static_cast<T*>(y);
  if (g.total < (int64_t{1} << 31)) gather_strided_kernel<T, uint32_t><<<blocks, kThreads, 0, stream>>>(src, dst, g);
  else gather_strided_kernel<T, uint64_t><<<blocks, kThreads, 0, stream>>>(src, dst, g);
  LW_CUDA_CHECK_LAUNCH("strided copy kernel");
  return Status::ok();
}

// Dispatches on the unit width in bytes (1, 2, 4, 8 or 16).
inline Status launch_gather_strided_bytes(int64_t width, const Geometry& g, const void* x, void* y,
                                          cudaStream_t stream) {
  switch (width) {
    case 1: return launch_gather_strided<Unit<1>::type>(g, x, y, stream);
    case 2: return launch_gather_strided<Unit<2>::type>(g, x, y, stream);
    case 4: return launch_gather_strided<Unit<4>::type>(g, x, y, stream);
    case 8: return launch_gather_strided<Unit<8>::type>(g, x, y, stream);
    case 16: return launch_gather_strided<Unit<16>::type>(g, x, y, stream);
    default:
      return make_error(StatusCode::kInternal, "strided copy: unsupported unit width ", width);
  }
}

}  // namespace lw::cuda::strided_copy
