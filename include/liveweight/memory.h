// Where a pointer lives, for code that must not read device memory from the host (the Python
// bindings' acl.util.ptr_to_bytes / ptr_to_numpy, which take raw addresses as pyACL's do).
#pragma once

#include "liveweight/export.h"

namespace lw {

// True when `p` points into CUDA device memory while liveweight runs on the CUDA backend (memory
// from aclrtMalloc there, or any cudaMalloc'd block). False for host memory (pinned included),
// null, on the CPU backend, and where there is no GPU: on those nothing is asked of CUDA, so a
// CPU-only process never starts the CUDA runtime through this call. Thread-safe.
LW_API bool is_device_pointer(const void* p);

}  // namespace lw
