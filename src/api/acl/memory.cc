// Device and host memory: tracked blocks, copies checked against the kind, and memset. On the
// CPU backend both kinds are 64-byte-aligned host memory; on CUDA, aclrtMalloc is cudaMalloc
// (never managed memory) and aclrtMallocHost is pinned memory (cudaMallocHost). Each block
// remembers which allocator made it, so a block outlives a change of backend safely.
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>

#include "acl/acl_rt.h"
#include "api/acl/error_map.h"
#include "api/acl/memory.h"
#include "backends/cuda/device.h"
#include "core/blob.h"
#include "runtime/runtime.h"
#include "liveweight/str_cat.h"

using lw::acl::fail;
using lw::acl::fail_status;
using lw::acl::guard;

namespace {

// Live blocks of one allocator, ordered by address so an interior pointer finds its block.
class BlockTable {
 public:
  struct Location {
    bool in_block = false;     // the start lies inside a block
    uintptr_t block_end = 0;   // one past the block, when in_block
    bool touches_block = false;  // [p, p + n) overlaps some block
    bool fits = false;         // in_block and [p, p + n) lies inside that block
    bool cuda = false;         // in_block and the block is CUDA memory
  };

  void add(void* p, size_t n, bool cuda) {
    std::lock_guard<std::mutex> lock(mu_);
    blocks_[reinterpret_cast<uintptr_t>(p)] = {n, cuda};
  }

  // False when `p` starts no block; else *cuda says which allocator made it.
  bool remove(void* p, bool* cuda) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blocks_.find(reinterpret_cast<uintptr_t>(p));
    if (it == blocks_.end()) return false;
    *cuda = it->second.cuda;
    blocks_.erase(it);
    return true;
  }

  bool is_block_start(const void* p) const {
    std::lock_guard<std::mutex> lock(mu_);
    return blocks_.count(reinterpret_cast<uintptr_t>(p)) != 0;
  }

  Location locate(const void* ptr, size_t n) const {
    uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
    // An empty range still names its first byte.
    uintptr_t last = n == 0 ? p : (n - 1 > UINTPTR_MAX - p ? UINTPTR_MAX : p + (n - 1));
    Location loc;
    std::lock_guard<std::mutex> lock(mu_);
    auto next = blocks_.upper_bound(p);  // first block starting after p
    if (next != blocks_.begin()) {
      auto prev = std::prev(next);
      if (p - prev->first < prev->second.size) {
        loc.in_block = true;
        loc.touches_block = true;
        loc.cuda = prev->second.cuda;
        loc.block_end = prev->first + prev->second.size;
        loc.fits = last < loc.block_end && (n == 0 || n - 1 <= UINTPTR_MAX - p);
        return loc;
      }
    }
    if (next != blocks_.end() && next->first <= last) loc.touches_block = true;
    return loc;
  }

 private:
  struct Block {
    size_t size;
    bool cuda;
  };
  mutable std::mutex mu_;
  std::map<uintptr_t, Block> blocks_;
};

// New blocks come from CUDA when the runtime is initialized with the CUDA backend.
bool cuda_backend() {
  auto& rt = lw::rt::Runtime::instance();
  return rt.initialized() && rt.config().backend == "cuda";
}

// Frees a block the way it was allocated.
void free_block(void* p, bool cuda, bool device) {
  if (!cuda)
    lw::free_aligned(p);
  else if (device)
    lw::cuda::free_device(p);
  else
    lw::cuda::free_host(p);
}

BlockTable& device_blocks() {
  static BlockTable table;
  return table;
}

BlockTable& host_blocks() {
  static BlockTable table;
  return table;
}

const char* kind_name(aclrtMemcpyKind kind) {
  switch (kind) {
    case ACL_MEMCPY_HOST_TO_HOST: return "ACL_MEMCPY_HOST_TO_HOST";
    case ACL_MEMCPY_HOST_TO_DEVICE: return "ACL_MEMCPY_HOST_TO_DEVICE";
    case ACL_MEMCPY_DEVICE_TO_HOST: return "ACL_MEMCPY_DEVICE_TO_HOST";
    case ACL_MEMCPY_DEVICE_TO_DEVICE: return "ACL_MEMCPY_DEVICE_TO_DEVICE";
    case ACL_MEMCPY_DEFAULT: return "ACL_MEMCPY_DEFAULT";
  }
  return "an unknown kind";
}

// Checks one side of a copy. `want_device`: the kind says this side is device memory; with
// `infer`, the side is whatever the pointer is. Returns ACL_SUCCESS or the failure (text set).
aclError check_side(const char* fn, const char* side, const void* p, size_t count, bool want_device, bool infer,
                    aclrtMemcpyKind kind) {
  BlockTable::Location loc = device_blocks().locate(p, count);
  bool is_device = infer ? loc.in_block : want_device;
  if (is_device) {
    if (!loc.in_block)
      return fail(ACL_ERROR_INVALID_PARAM, fn,
                  lw::str_cat(side, " ", p, " is not device memory (inside no aclrtMalloc block) but kind is ",
                              kind_name(kind)));
    if (!loc.fits)
      return fail(ACL_ERROR_INVALID_PARAM, fn,
                  lw::str_cat(side, " range of ", count, " bytes at ", p, " runs past the end of its aclrtMalloc block (",
                              loc.block_end - reinterpret_cast<uintptr_t>(p), " bytes left)"));
    return ACL_SUCCESS;
  }
  if (loc.in_block)
    return fail(ACL_ERROR_INVALID_PARAM, fn,
                lw::str_cat(side, " ", p, " is device memory (inside an aclrtMalloc block) but kind is ", kind_name(kind)));
  if (loc.touches_block)
    return fail(ACL_ERROR_INVALID_PARAM, fn,
                lw::str_cat(side, " host range of ", count, " bytes at ", p, " runs into an aclrtMalloc block"));
  return ACL_SUCCESS;
}

}  // namespace

namespace lw::acl {

bool involves_cuda(const void* dst, const void* src, size_t count) {
  return device_blocks().locate(dst, count).cuda || device_blocks().locate(src, count).cuda ||
         host_blocks().locate(dst, count).cuda || host_blocks().locate(src, count).cuda;
}

aclError check_memcpy(const char* kFn, void* dst, size_t destMax, const void* src, size_t count, aclrtMemcpyKind kind) {
  if (dst == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "dst is NULL");
  if (src == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "src is NULL");
  if (count > destMax)
    return fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("count ", count, " is larger than destMax ", destMax));
  bool src_device = false;
  bool dst_device = false;
  bool infer = false;
  switch (kind) {
    case ACL_MEMCPY_HOST_TO_HOST: break;
    case ACL_MEMCPY_HOST_TO_DEVICE: dst_device = true; break;
    case ACL_MEMCPY_DEVICE_TO_HOST: src_device = true; break;
    case ACL_MEMCPY_DEVICE_TO_DEVICE: src_device = dst_device = true; break;
    case ACL_MEMCPY_DEFAULT: infer = true; break;
    default:
      return fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("kind ", static_cast<int>(kind), " is not an aclrtMemcpyKind value"));
  }
  aclError err = check_side(kFn, "src", src, count, src_device, infer, kind);
  if (err != ACL_SUCCESS) return err;
  return check_side(kFn, "dst", dst, count, dst_device, infer, kind);
}

}  // namespace lw::acl

extern "C" {

ACL_FUNC_VISIBILITY aclError aclrtMalloc(void** devPtr, size_t size, aclrtMemMallocPolicy policy) {
  static constexpr const char* kFn = "aclrtMalloc";
  return guard(kFn, [&]() -> aclError {
    if (devPtr == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "devPtr is NULL");
    if (size == 0) return fail(ACL_ERROR_INVALID_PARAM, kFn, "size is 0");
    if (policy != ACL_MEM_MALLOC_HUGE_FIRST && policy != ACL_MEM_MALLOC_HUGE_ONLY &&
        policy != ACL_MEM_MALLOC_NORMAL_ONLY)
      return fail(ACL_ERROR_INVALID_PARAM, kFn,
                  lw::str_cat("policy ", static_cast<int>(policy), " is not an aclrtMemMallocPolicy value"));
    // Huge pages are a placement hint for Ascend devices; every policy gets the same memory.
    const bool cuda = cuda_backend();
    void* p = nullptr;
    if (cuda) {
      auto block = lw::cuda::malloc_device(size);
      if (!block.is_ok()) return fail_status(kFn, block.status());
      p = *block;
    } else {
      p = lw::alloc_aligned(size);
      if (p == nullptr) return fail(ACL_ERROR_BAD_ALLOC, kFn, lw::str_cat("cannot allocate ", size, " bytes"));
    }
    try {
      device_blocks().add(p, size, cuda);
    } catch (...) {
      free_block(p, cuda, true);
      throw;
    }
    *devPtr = p;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtFree(void* devPtr) {
  static constexpr const char* kFn = "aclrtFree";
  return guard(kFn, [&]() -> aclError {
    if (devPtr == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "devPtr is NULL");
    bool cuda = false;
    if (!device_blocks().remove(devPtr, &cuda)) {
      if (host_blocks().is_block_start(devPtr))
        return fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat(devPtr, " came from aclrtMallocHost; free it with aclrtFreeHost"));
      return fail(ACL_ERROR_INVALID_PARAM, kFn,
                  lw::str_cat(devPtr, " is not the start of a live aclrtMalloc block (freed already, or never allocated)"));
    }
    free_block(devPtr, cuda, true);
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtMallocHost(void** hostPtr, size_t size) {
  static constexpr const char* kFn = "aclrtMallocHost";
  return guard(kFn, [&]() -> aclError {
    if (hostPtr == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "hostPtr is NULL");
    if (size == 0) return fail(ACL_ERROR_INVALID_PARAM, kFn, "size is 0");
    const bool cuda = cuda_backend();
    void* p = nullptr;
    if (cuda) {
      auto block = lw::cuda::malloc_host(size);
      if (!block.is_ok()) return fail_status(kFn, block.status());
      p = *block;
    } else {
      p = lw::alloc_aligned(size);
      if (p == nullptr) return fail(ACL_ERROR_BAD_ALLOC, kFn, lw::str_cat("cannot allocate ", size, " bytes"));
    }
    try {
      host_blocks().add(p, size, cuda);
    } catch (...) {
      free_block(p, cuda, false);
      throw;
    }
    *hostPtr = p;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtFreeHost(void* hostPtr) {
  static constexpr const char* kFn = "aclrtFreeHost";
  return guard(kFn, [&]() -> aclError {
    if (hostPtr == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "hostPtr is NULL");
    bool cuda = false;
    if (!host_blocks().remove(hostPtr, &cuda)) {
      if (device_blocks().is_block_start(hostPtr))
        return fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat(hostPtr, " came from aclrtMalloc; free it with aclrtFree"));
      return fail(ACL_ERROR_INVALID_PARAM, kFn,
                  lw::str_cat(hostPtr, " is not the start of a live aclrtMallocHost block (freed already, or never allocated)"));
    }
    free_block(hostPtr, cuda, false);
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtMemcpy(void* dst, size_t destMax, const void* src, size_t count,
                                         aclrtMemcpyKind kind) {
  static constexpr const char* kFn = "aclrtMemcpy";
  return guard(kFn, [&]() -> aclError {
    aclError err = lw::acl::check_memcpy(kFn, dst, destMax, src, count, kind);
    if (err != ACL_SUCCESS) return err;
    if (count == 0 || dst == src) return ACL_SUCCESS;
    if (lw::acl::involves_cuda(dst, src, count)) {
      lw::Status st = lw::cuda::copy(dst, src, count);
      return st.is_ok() ? ACL_SUCCESS : fail_status(kFn, st);
    }
    std::memmove(dst, src, count);
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtMemset(void* devPtr, size_t maxCount, int32_t value, size_t count) {
  static constexpr const char* kFn = "aclrtMemset";
  return guard(kFn, [&]() -> aclError {
    if (devPtr == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "devPtr is NULL");
    if (count > maxCount)
      return fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("count ", count, " is larger than maxCount ", maxCount));
    BlockTable::Location loc = device_blocks().locate(devPtr, count);
    if (!loc.in_block)
      return fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("devPtr ", devPtr, " is not inside any aclrtMalloc block"));
    if (!loc.fits)
      return fail(ACL_ERROR_INVALID_PARAM, kFn,
                  lw::str_cat("range of ", count, " bytes at ", devPtr, " runs past the end of its aclrtMalloc block (",
                              loc.block_end - reinterpret_cast<uintptr_t>(devPtr), " bytes left)"));
    if (count == 0) return ACL_SUCCESS;
    if (loc.cuda) {
      lw::Status st = lw::cuda::memset_device(devPtr, value & 0xff, count);
      return st.is_ok() ? ACL_SUCCESS : fail_status(kFn, st);
    }
    std::memset(devPtr, value & 0xff, count);
    return ACL_SUCCESS;
  });
}

}  // extern "C"
