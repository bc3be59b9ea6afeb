// Shared checks of the memory functions (aclrtMemcpy and aclrtMemcpyAsync use the same rules).
#pragma once

#include <cstddef>

#include "acl/acl_rt.h"

namespace lw::acl {

// Validates a copy: non-NULL pointers, count <= destMax, a valid kind, and each side's memory
// matching the kind (device sides inside an aclrtMalloc block, host sides outside all).
// Returns ACL_SUCCESS or the failure (text set, naming `fn`).
aclError check_memcpy(const char* fn, void* dst, size_t destMax, const void* src, size_t count, aclrtMemcpyKind kind);

// True when either side of a copy lies in a block CUDA allocated (the copy must go through
// CUDA: device memory is not addressable from the host).
bool involves_cuda(const void* dst, const void* src, size_t count);

}  // namespace lw::acl
