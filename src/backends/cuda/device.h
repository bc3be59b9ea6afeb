// The CUDA backend as the runtime and the C API see it: devices, memory, copies, streams and
// plans, with no CUDA header in sight (DESIGN.md section 1: runtime and api never include
// them). Built from cuda_device.cc / cuda_plan.cc with LW_CUDA, else from cuda_absent.cc, whose
// functions all report that the build has no CUDA backend.
//
// Errors: a missing GPU or driver is kInvalidDevice with a text that says so; every failing
// CUDA call becomes a Status naming the call, the CUDA error and the source line.
// Thread-safety: every function may be called from any thread. Device functions act on the
// calling thread's current CUDA device (set_device).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "liveweight/status.h"

namespace lw::ir {
class Graph;
}
namespace lw::rt {
class ExecutionPlan;
class VariableStore;
struct DeviceOptions;
}  // namespace lw::rt

namespace lw::cuda {

// True when this library was built with the CUDA backend.
bool built_with_cuda();

// ok when at least one CUDA device can be used; kInvalidDevice naming the reason otherwise
// (built without CUDA, no driver, no device). Cheap after the first call.
Status check_available();
Result<int> device_count();
// Makes `ordinal` the calling thread's current device; kInvalidDevice when out of range.
Status set_device(int ordinal);
// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)" for logs and benchmarks.
Result<std::string> device_name(int ordinal);

// Device memory (cudaMalloc, never managed memory) and pinned host memory (cudaMallocHost).
// kOutOfMemory when the device cannot give `bytes`. free_* accept null.
Result<void*> malloc_device(size_t bytes);
void free_device(void* p);
Result<void*> malloc_host(size_t bytes);
void free_host(void* p);

enum class PointerKind : uint8_t { kPageableHost, kPinnedHost, kDevice, kManaged };
// Where `p` lives as CUDA sees it (unregistered memory is pageable host memory).
PointerKind pointer_kind(const void* p);

// The address a kernel uses for pinned host memory `p` (equal to `p` with unified addressing),
// or null when `p` is not pinned memory the device can map.
const void* pinned_device_view(const void* p);

// Synchronous copy between any two of host/device memory (the direction is inferred).
Status copy(void* dst, const void* src, size_t bytes);
Status memset_device(void* p, int value, size_t bytes);
Status synchronize_device();

// A CUDA stream as an opaque handle (cudaStream_t), for the C API's streams.
Result<void*> create_stream();
Status destroy_stream(void* stream);
Status synchronize_stream(void* stream);
// Enqueues a copy on `stream` (the direction is inferred). Pageable host memory makes it
// synchronous with respect to the host, as cudaMemcpyAsync does.
Status copy_async(void* dst, const void* src, size_t bytes, void* stream);

// Prepares `graph` (static shapes, types inferred, constants folded) for device
// `options.cuda_device`; `store` holds the bundle's weights in device memory and outlives the
// plan. Nodes without a CUDA kernel run on their CPU kernel over host copies of their data.
Result<std::unique_ptr<rt::ExecutionPlan>> create_plan(ir::Graph graph, const rt::VariableStore& store,
                                                       const rt::DeviceOptions& options);
// Ops with a CUDA kernel, sorted (for docs and `lw inspect`).
std::vector<std::string> kernel_ops();

}  // namespace lw::cuda
