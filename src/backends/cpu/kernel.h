// CPU kernels: one object per node of a prepared graph, created once with every input and
// output shape known (static), then run any number of times, possibly from several threads
// at once (run() is const and must not mutate the kernel).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "graph/op_registry.h"

namespace lw::cpu {

struct KernelSpec {
  const ir::Node& node;
  std::vector<ir::TensorType> inputs;   // static shapes; dtype kUndefined for an omitted input
  std::vector<ir::TensorType> outputs;  // static shapes
  // Data of inputs that are Consts of the graph (shape inputs always are); null otherwise.
  // The data outlives the kernel.
  std::vector<const ir::TensorData*> const_inputs;
  int num_threads = 1;  // intra-op threads the kernel may use
};

struct KernelRun {
  const void* const* inputs;  // one per input slot; null for an omitted optional input
  void* const* outputs;       // one per output; never aliases an input
  void* scratch;              // scratch_bytes() of 64-byte-aligned memory, private to this run
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status run(const KernelRun& run) const = 0;
  virtual size_t scratch_bytes() const { return 0; }
};

using KernelFactory = Result<std::unique_ptr<Kernel>> (*)(const KernelSpec& spec);

// Null when the CPU backend has no kernel for `op`. Thread-safe.
KernelFactory find_cpu_kernel(const std::string& op);
std::vector<std::string> cpu_kernel_ops();

struct KernelEntry {
  const char* op;
  KernelFactory factory;
};
// Filled in by src/backends/cpu/kernels/*.cc (see kernels/kernels.h); called once.
void register_all_cpu_kernels(std::vector<KernelEntry>& registry);

}  // namespace lw::cpu
