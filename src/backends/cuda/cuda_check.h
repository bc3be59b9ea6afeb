// CUDA error -> Status, with the file and line of the call (DESIGN.md section 6), and the
// element-count / launch-size helpers every CUDA kernel file uses. Header-only.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "graph/op_registry.h"
#include "liveweight/status.h"

namespace lw::cuda {

inline Status cuda_error(cudaError_t err, const char* what, const char* file, int line) {
  return make_error(StatusCode::kInternal, "CUDA error ", cudaGetErrorName(err), " (", cudaGetErrorString(err),
                    ") in ", what, " at ", file, ":", line);
}

// Errors that name the node, as the CPU kernels' do.
template <typename... Parts>
Status kernel_error(const ir::Node& node, StatusCode code, const Parts&... parts) {
  return make_error(code, "node '", node.name, "' (", node.op, "): ", parts...);
}

inline int64_t numel_of(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// Blocks of `threads` covering n items, capped so grid-stride loops take the rest.
inline unsigned grid_for(int64_t n, int threads = 256, int64_t max_blocks = 65535 * 8) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > max_blocks) b = max_blocks;
  return static_cast<unsigned>(b);
}

}  // namespace lw::cuda

// Returns a Status from the enclosing function when a CUDA runtime call fails.
#define LW_CUDA_RETURN_IF_ERROR(expr)                                              \
  do {                                                                             \
    cudaError_t lw_cuda_err_ = (expr);                                             \
    if (lw_cuda_err_ != cudaSuccess)                                               \
      return ::lw::cuda::cuda_error(lw_cuda_err_, #expr, __FILE__, __LINE__);      \
  } while (0)

// After a kernel launch: reports a bad launch configuration (the launch itself is asynchronous,
// so faults inside the kernel surface at the next synchronization).
#define LW_CUDA_CHECK_LAUNCH(what)                                                 \
  do {                                                                             \
    cudaError_t lw_cuda_err_ = cudaGetLastError();                                 \
    if (lw_cuda_err_ != cudaSuccess)                                               \
      return ::lw::cuda::cuda_error(lw_cuda_err_, what, __FILE__, __LINE__);       \
  } while (0)
