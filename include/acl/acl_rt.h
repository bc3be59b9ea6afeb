/*
 * liveweight's AscendCL-compatible C API: devices, contexts and memory. Plain C and C++.
 * The conventions of acl_base.h (error text, handle checks, thread-safety) apply.
 */
#ifndef LIVEWEIGHT_ACL_ACL_RT_H_
#define LIVEWEIGHT_ACL_ACL_RT_H_

#include <stddef.h>
#include <stdint.h>

#include "acl_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ACL_ENUM_BASE { ACL_DEVICE = 0, ACL_HOST = 1 } aclrtRunMode;

typedef enum ACL_ENUM_BASE {
  ACL_MEMCPY_HOST_TO_HOST = 0,
  ACL_MEMCPY_HOST_TO_DEVICE = 1,
  ACL_MEMCPY_DEVICE_TO_HOST = 2,
  ACL_MEMCPY_DEVICE_TO_DEVICE = 3,
  ACL_MEMCPY_DEFAULT = 4
} aclrtMemcpyKind;

typedef enum ACL_ENUM_BASE {
  ACL_MEM_MALLOC_HUGE_FIRST = 0,
  ACL_MEM_MALLOC_HUGE_ONLY = 1,
  ACL_MEM_MALLOC_NORMAL_ONLY = 2
} aclrtMemMallocPolicy;

/* ---- devices ---- */

/* Opens device `deviceId` (needs aclInit; without GPUs only device 0, the CPU, exists), makes it
 * the current device, creates its default context on first use and makes that context current
 * on the calling thread. Calling it again for the same device is harmless. */
ACL_FUNC_VISIBILITY aclError aclrtSetDevice(int32_t deviceId);

/* Releases device `deviceId` and destroys its default context. Any thread whose current context
 * was that context has no current context afterwards. */
ACL_FUNC_VISIBILITY aclError aclrtResetDevice(int32_t deviceId);

/* Writes the current device to *deviceId. Fails when no device was set (or before aclInit). */
ACL_FUNC_VISIBILITY aclError aclrtGetDevice(int32_t* deviceId);

/* Writes ACL_HOST to *runMode. Does not need aclInit. */
ACL_FUNC_VISIBILITY aclError aclrtGetRunMode(aclrtRunMode* runMode);

/* ---- contexts: a handle bound to one device; each thread has a current context ---- */

/* Opens `deviceId` as aclrtSetDevice does, creates a new context bound to it, makes it the calling
 * thread's current context and writes it to *context. The caller owns it: destroy it with
 * aclrtDestroyContext. */
ACL_FUNC_VISIBILITY aclError aclrtCreateContext(aclrtContext* context, int32_t deviceId);

/* Destroys a context made by aclrtCreateContext. A device's default context is refused (it
 * belongs to aclrtSetDevice / aclrtResetDevice). Threads whose current context it was have none
 * afterwards. */
ACL_FUNC_VISIBILITY aclError aclrtDestroyContext(aclrtContext context);

/* Makes `context` the calling thread's current context and its device the current device. */
ACL_FUNC_VISIBILITY aclError aclrtSetCurrentContext(aclrtContext context);

/* Writes the calling thread's current context to *context.
 * ACL_ERROR_INVALID_RESOURCE_HANDLE when the thread has none (or it was destroyed). */
ACL_FUNC_VISIBILITY aclError aclrtGetCurrentContext(aclrtContext* context);

/* ---- streams ----
 * A stream is an in-order queue of work: on the CPU backend each stream has its own worker
 * thread, so work on different streams runs concurrently. A NULL stream is the default stream,
 * on which work runs synchronously in the calling thread. Failures of queued work are reported
 * by aclrtSynchronizeStream (the first one since the last synchronize). Buffers, datasets and
 * descs given to asynchronous calls must stay valid and untouched until the stream is
 * synchronized. Stream handles may be used from any thread. */

/* Creates a stream. Needs aclInit. */
ACL_FUNC_VISIBILITY aclError aclrtCreateStream(aclrtStream* stream);

/* Waits for the stream's queued work, then destroys it. A destroyed or unknown stream is
 * ACL_ERROR_INVALID_PARAM. */
ACL_FUNC_VISIBILITY aclError aclrtDestroyStream(aclrtStream stream);

/* Waits until all work submitted to the stream so far has finished; returns the first failure of
 * that work (with its text) or ACL_SUCCESS. NULL (the default stream) returns at once. */
ACL_FUNC_VISIBILITY aclError aclrtSynchronizeStream(aclrtStream stream);

/* ---- memory ----
 * On the CPU backend "device" memory is 64-byte-aligned host memory that the library tracks, so
 * aclrtMemcpy can check its kind against where the pointers live. None of these need aclInit.
 * Memory stays allocated until freed (aclFinalize does not free it). All are thread-safe; freeing
 * memory while another thread copies into or out of it is the caller's to avoid. */

/* Allocates `size` (> 0) bytes of device memory and writes its address to *devPtr. `policy` must
 * be one of aclrtMemMallocPolicy's values. ACL_ERROR_BAD_ALLOC when the memory is not available.
 * Free with aclrtFree. */
ACL_FUNC_VISIBILITY aclError aclrtMalloc(void** devPtr, size_t size, aclrtMemMallocPolicy policy);

/* Frees memory from aclrtMalloc; any other pointer (including one already freed, an interior
 * pointer or one from aclrtMallocHost) is ACL_ERROR_INVALID_PARAM. */
ACL_FUNC_VISIBILITY aclError aclrtFree(void* devPtr);

/* Allocates `size` (> 0) bytes of host memory (64-byte-aligned); free with aclrtFreeHost. */
ACL_FUNC_VISIBILITY aclError aclrtMallocHost(void** hostPtr, size_t size);

/* Frees memory from aclrtMallocHost; any other pointer is ACL_ERROR_INVALID_PARAM. */
ACL_FUNC_VISIBILITY aclError aclrtFreeHost(void* hostPtr);

/* Copies `count` bytes from `src` to `dst` (overlapping ranges are allowed). `destMax` is the room
 * at `dst`; count > destMax is ACL_ERROR_INVALID_PARAM. The kind is checked against the pointers:
 * a device side must lie, with its whole [ptr, ptr + count) range, inside one aclrtMalloc block; a
 * host side must not touch any aclrtMalloc block. ACL_MEMCPY_DEFAULT infers each side. */
ACL_FUNC_VISIBILITY aclError aclrtMemcpy(void* dst, size_t destMax, const void* src, size_t count,
                                         aclrtMemcpyKind kind);

/* Sets `count` bytes at devPtr to (value & 0xff). devPtr with its whole range must lie inside one
 * aclrtMalloc block; count > maxCount is ACL_ERROR_INVALID_PARAM. */
/* aclrtMemcpy queued on `stream`: the arguments are checked now (same rules and codes as
 * aclrtMemcpy), the copy happens when the stream reaches it. */
ACL_FUNC_VISIBILITY aclError aclrtMemcpyAsync(void* dst, size_t destMax, const void* src, size_t count,
                                              aclrtMemcpyKind kind, aclrtStream stream);

ACL_FUNC_VISIBILITY aclError aclrtMemset(void* devPtr, size_t maxCount, int32_t value, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* LIVEWEIGHT_ACL_ACL_RT_H_ */
