// Per-group registration of CPU kernels; register_all_cpu_kernels (kernels.cc) calls each.
#pragma once

#include <vector>

#include "backends/cpu/kernel.h"

namespace lw::cpu {

void register_elementwise_kernels(std::vector<KernelEntry>& registry);  // elementwise.cc
void register_data_kernels(std::vector<KernelEntry>& registry);         // data_movement.cc
void register_matmul_kernels(std::vector<KernelEntry>& registry);       // matmul.cc
void register_conv_kernels(std::vector<KernelEntry>& registry);         // conv.cc
void register_pool_kernels(std::vector<KernelEntry>& registry);         // pool.cc
void register_norm_kernels(std::vector<KernelEntry>& registry);         // norm.cc
void register_reduce_kernels(std::vector<KernelEntry>& registry);       // reduce.cc
void register_tensor_kernels(std::vector<KernelEntry>& registry);       // tensor.cc
void register_resize_kernels(std::vector<KernelEntry>& registry);       // resize.cc
void register_attention_kernels(std::vector<KernelEntry>& registry);    // attention.cc

}  // namespace lw::cpu
