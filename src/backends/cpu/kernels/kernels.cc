// Registration of every CPU kernel; each group lives in its own file.
#include "backends/cpu/kernel.h"

namespace lw::cpu {

void register_all_cpu_kernels(std::vector<KernelEntry>& registry) { (void)registry; }

}  // namespace lw::cpu
