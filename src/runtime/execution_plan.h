// ExecutionPlan: one graph prepared for one set of static input shapes on one backend (the CPU
// Plan in plan.h, the CUDA plan in backends/cuda). Created once, run many times, from several
// threads at once: run() is const and each run brings its own activation memory.
#pragma once

#include <cstdint>
#include <vector>

#include "core/shape.h"
#include "runtime/variable_store.h"

namespace lw::rt {

// Where and how a bundle's graphs run; fixed when it is loaded.
struct DeviceOptions {
  int num_threads = 1;      // intra-op threads of CPU kernels (the CUDA plan's host fallbacks too)
  bool cuda = false;        // the CUDA backend; weights then live in device memory
  int cuda_device = 0;      // CUDA ordinal of the bundle
  bool allow_tf32 = false;  // CUDA: float32 GEMMs/convolutions may use TF32 tensor cores
};

class ExecutionPlan {
 public:
  virtual ~ExecutionPlan() = default;
  virtual const std::vector<Dims>& output_dims() const = 0;
  virtual const std::vector<uint64_t>& output_bytes() const = 0;
  // Variable slots this graph reads (they must have been written before it runs).
  virtual const std::vector<int32_t>& variables_read() const = 0;
  virtual bool writes_variables() const = 0;
  // Runs the graph. inputs/outputs: one pointer per graph input/output, already checked for
  // size (host memory on the CPU; host or device memory on CUDA). `weights` is the pinned
  // snapshot; `update` receives Assign writes (required when writes_variables()). Returns when
  // the outputs are written.
  virtual Status run(const WeightSnapshot& weights, const std::vector<const void*>& inputs,
                     const std::vector<void*>& outputs, VariableStore::Update* update) const = 0;
};

}  // namespace lw::rt
