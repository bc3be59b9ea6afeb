#include <algorithm>
#include <memory>
#include <unordered_map>

#include "backends/cpu/kernel.h"

namespace lw::cpu {

namespace {
const std::unordered_map<std::string, KernelFactory>& kernels() {
  static const auto* table = [] {
    std::vector<KernelEntry> entries;
    register_all_cpu_kernels(entries);
    // Owned until complete: an allocation failure while filling it frees it (and the next call
    // tries again) instead of leaking it. Once built it is never destroyed.
    auto map = std::make_unique<std::unordered_map<std::string, KernelFactory>>();
    for (const auto& e : entries) (*map)[e.op] = e.factory;
    return map.release();
  }();
  return *table;
}
}  // namespace

KernelFactory find_cpu_kernel(const std::string& op) {
  auto it = kernels().find(op);
  return it == kernels().end() ? nullptr : it->second;
}

std::vector<std::string> cpu_kernel_ops() {
  std::vector<std::string> out;
  for (const auto& [op, factory] : kernels()) out.push_back(op);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace lw::cpu
