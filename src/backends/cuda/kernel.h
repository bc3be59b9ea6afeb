// CUDA kernels: one object per node of a prepared graph, created once with every input and
// output shape known (static), then run any number of times, possibly from several host
// threads at once on different CUDA streams (run() is const and must not mutate the kernel).
//
// Memory: every pointer in KernelRun is device memory of the current device. Shape-like inputs
// (Reshape's shape, Slice's starts, Clip's bounds, ...) that are Consts of the graph are also
// given as host data in KernelSpec::const_inputs, so a kernel never reads device memory on the
// host to learn its parameters. A kernel only enqueues work on run.stream; it must not
// synchronize the device or the stream and must not allocate device memory (use scratch).
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

#include "graph/op_registry.h"

namespace lw::cuda {

struct Libraries;  // cuBLAS / cuDNN entry points opened at run time (libraries.h)

struct KernelSpec {
  const ir::Node& node;
  std::vector<ir::TensorType> inputs;   // static shapes; dtype kUndefined for an omitted input
  std::vector<ir::TensorType> outputs;  // static shapes
  // Host data of inputs that are Consts of the graph; null otherwise. Outlives the kernel.
  std::vector<const ir::TensorData*> const_inputs;
  // float32 GEMMs and convolutions may use TF32 tensor cores (10-bit mantissa products).
  bool allow_tf32 = false;
  const Libraries* libs = nullptr;  // never null when a factory is called
};

// Per-execution handles, all bound to `stream` (never shared between concurrent runs).
struct ExecHandles {
  cudaStream_t stream = nullptr;
  void* cublas = nullptr;  // cublasHandle_t, null when cuBLAS could not be opened
  void* cudnn = nullptr;   // cudnnHandle_t, null when cuDNN could not be opened
};

struct KernelRun {
  const void* const* inputs;  // one per input slot; null for an omitted optional input
  void* const* outputs;       // one per output; never aliases an input
  void* scratch;              // scratch_bytes() of 256-byte-aligned device memory, private to this run
  const ExecHandles& handles;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status run(const KernelRun& run) const = 0;
  virtual size_t scratch_bytes() const { return 0; }
  // Which implementation the kernel chose (e.g. "cudnn algo 1", "own"), for profiles and logs.
  virtual std::string variant() const { return ""; }
};

using KernelFactory = Result<std::unique_ptr<Kernel>> (*)(const KernelSpec& spec);

// Null when the CUDA backend has no kernel for `op` (the plan then runs the CPU kernel on
// host copies of the data, see cuda_plan.cc). A factory may also refuse a node (e.g. an
// unsupported dtype) with kUnsupportedDtype / kOpNotFound: that node falls back too.
KernelFactory find_cuda_kernel(const std::string& op);
std::vector<std::string> cuda_kernel_ops();

struct KernelEntry {
  const char* op;
  KernelFactory factory;
};

}  // namespace lw::cuda
