// Per-group registration of CUDA kernels (kernel_registry.cc calls each once), and the small
// factory helpers every kernel file uses.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernel.h"

namespace lw::cuda {

template <typename K, typename... Args>
Result<std::unique_ptr<Kernel>> make_kernel(Args&&... args) {
  return std::unique_ptr<Kernel>(new K(std::forward<Args>(args)...));
}

// A factory's refusal: the plan then runs the node on its CPU kernel, which either supports the
// case or reports the precise error.
template <typename... Parts>
Status refuse(const KernelSpec& spec, const Parts&... parts) {
  return kernel_error(spec.node, StatusCode::kOpNotFound, "the CUDA kernel does not support ", parts...);
}

inline Status refuse_dtype(const KernelSpec& spec, DType t) {
  return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "the CUDA kernel does not support type ",
                      dtype_name(t));
}

void register_elementwise_kernels(std::vector<KernelEntry>& registry);  // elementwise.cu
void register_reduce_kernels(std::vector<KernelEntry>& registry);       // reduce.cu
void register_norm_kernels(std::vector<KernelEntry>& registry);         // norm.cu
void register_data_kernels(std::vector<KernelEntry>& registry);         // data_movement.cu
void register_pool_kernels(std::vector<KernelEntry>& registry);         // pool.cu
void register_conv_kernels(std::vector<KernelEntry>& registry);         // conv.cu
void register_matmul_kernels(std::vector<KernelEntry>& registry);       // matmul.cu

}  // namespace lw::cuda
