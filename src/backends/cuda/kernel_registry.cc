#include <algorithm>
#include <mutex>

#include "backends/cuda/kernels/kernels.h"

namespace lw::cuda {

namespace {
const std::vector<KernelEntry>& registry() {
  static const std::vector<KernelEntry> entries = [] {
    std::vector<KernelEntry> r;
    register_elementwise_kernels(r);
    register_reduce_kernels(r);
    register_norm_kernels(r);
    register_data_kernels(r);
    register_pool_kernels(r);
    register_conv_kernels(r);
    register_matmul_kernels(r);
    return r;
  }();
  return entries;
}
}  // namespace

KernelFactory find_cuda_kernel(const std::string& op) {
  for (const KernelEntry& e : registry())
    if (op == e.op) return e.factory;
  return nullptr;
}

std::vector<std::string> cuda_kernel_ops() {
  std::vector<std::string> ops;
  for (const KernelEntry& e : registry()) ops.emplace_back(e.op);
  std::sort(ops.begin(), ops.end());
  return ops;
}

}  // namespace lw::cuda
