// Registration of every CPU kernel; each group lives in its own file.
#include "backends/cpu/kernels/kernels.h"

namespace lw::cpu {

void register_all_cpu_kernels(std::vector<KernelEntry>& registry) {
  register_elementwise_kernels(registry);
  register_data_kernels(registry);
  register_matmul_kernels(registry);
  register_conv_kernels(registry);
  register_pool_kernels(registry);
  register_norm_kernels(registry);
  register_reduce_kernels(registry);
  register_tensor_kernels(registry);
  register_resize_kernels(registry);
  register_attention_kernels(registry);
}

}  // namespace lw::cpu
