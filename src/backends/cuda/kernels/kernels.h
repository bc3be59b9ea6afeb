// Per-group registration of CUDA kernels; kernel_registry.cc calls each once.
#pragma once

#include <vector>

#include "backends/cuda/kernel.h"

namespace lw::cuda {

void register_elementwise_kernels(std::vector<KernelEntry>& registry);  // elementwise.cu
void register_reduce_kernels(std::vector<KernelEntry>& registry);       // reduce.cu
void register_norm_kernels(std::vector<KernelEntry>& registry);         // norm.cu
void register_data_kernels(std::vector<KernelEntry>& registry);         // data_movement.cu
void register_pool_kernels(std::vector<KernelEntry>& registry);         // pool.cu
void register_conv_kernels(std::vector<KernelEntry>& registry);         // conv.cu
void register_matmul_kernels(std::vector<KernelEntry>& registry);       // matmul.cu

}  // namespace lw::cuda
