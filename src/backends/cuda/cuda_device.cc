// Devices, memory, copies and streams of the CUDA backend (device.h) over the CUDA runtime.
#include <cuda_runtime.h>

#include <mutex>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/libraries.h"

namespace lw::cuda {

bool built_with_cuda() { return true; }

Status check_available() {
  // cudaGetDeviceCount's answer does not change while the process runs; ask once.
  static const Status status = [] {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();  // clear the sticky error the query may leave
      return make_error(StatusCode::kInvalidDevice, "no usable CUDA GPU: cudaGetDeviceCount failed with ",
                        cudaGetErrorName(err), " (", cudaGetErrorString(err), ")");
    }
    if (count == 0) return make_error(StatusCode::kInvalidDevice, "no CUDA GPU is present");
    return Status::ok();
  }();
  return status;
}

Result<int> device_count() {
  LW_RETURN_IF_ERROR(check_available());
  int count = 0;
  LW_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&count));
  return count;
}

Status set_device(int ordinal) {
  LW_ASSIGN_OR_RETURN(int count, device_count());
  if (ordinal < 0 || ordinal >= count)
    return make_error(StatusCode::kInvalidDevice, "CUDA device ", ordinal, " does not exist (", count, " present)");
  LW_CUDA_RETURN_IF_ERROR(cudaSetDevice(ordinal));
  return Status::ok();
}

Result<std::string> device_name(int ordinal) {
  LW_RETURN_IF_ERROR(check_available());
  cudaDeviceProp prop{};
  LW_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, ordinal));
  return str_cat(prop.name, " (sm_", prop.major, prop.minor, ", ",
                 static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0), " GiB)");
}

Result<void*> malloc_device(size_t bytes) {
  LW_RETURN_IF_ERROR(check_available());
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes == 0 ? 1 : bytes);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    return make_error(StatusCode::kOutOfMemory, "cannot allocate ", bytes, " bytes of CUDA device memory");
  }
  if (err != cudaSuccess) return cuda_error(err, "cudaMalloc", __FILE__, __LINE__);
  return p;
}

void free_device(void* p) {
  if (p) (void)cudaFree(p);
}

Result<void*> malloc_host(size_t bytes) {
  LW_RETURN_IF_ERROR(check_available());
  void* p = nullptr;
  cudaError_t err = cudaMallocHost(&p, bytes == 0 ? 1 : bytes);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    return make_error(StatusCode::kOutOfMemory, "cannot allocate ", bytes, " bytes of pinned host memory");
  }
  if (err != cudaSuccess) return cuda_error(err, "cudaMallocHost", __FILE__, __LINE__);
  return p;
}

void free_host(void* p) {
  if (p) (void)cudaFreeHost(p);
}

PointerKind pointer_kind(const void* p) {
  if (!p || !check_available().is_ok()) return PointerKind::kPageableHost;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    (void)cudaGetLastError();
    return PointerKind::kPageableHost;
  }
  switch (attr.type) {
    case cudaMemoryTypeDevice: return PointerKind::kDevice;
    case cudaMemoryTypeManaged: return PointerKind::kManaged;
    case cudaMemoryTypeHost: return PointerKind::kPinnedHost;
    default: return PointerKind::kPageableHost;
  }
}

const void* pinned_device_view(const void* p) {
  if (!p || !check_available().is_ok()) return nullptr;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    (void)cudaGetLastError();
    return nullptr;
  }
  return attr.type == cudaMemoryTypeHost ? attr.devicePointer : nullptr;
}

// Copies and memsets complete before they return: cudaMemcpy from pageable memory may return
// before its DMA has landed, and the plans' streams do not wait for the legacy default stream,
// so an inference could otherwise read an input the caller has "already" copied (seen on an
// H200). They run on the per-thread stream, leaving other threads' work alone.
Status copy(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return Status::ok();
  LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, cudaStreamPerThread));
  LW_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(cudaStreamPerThread));
  return Status::ok();
}

Status memset_device(void* p, int value, size_t bytes) {
  if (bytes == 0) return Status::ok();
  LW_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(p, value, bytes, cudaStreamPerThread));
  LW_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(cudaStreamPerThread));
  return Status::ok();
}

Status synchronize_device() {
  LW_CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
  return Status::ok();
}

Result<void*> create_stream() {
  LW_RETURN_IF_ERROR(check_available());
  cudaStream_t s = nullptr;
  LW_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return static_cast<void*>(s);
}

Status destroy_stream(void* stream) {
  LW_CUDA_RETURN_IF_ERROR(cudaStreamDestroy(static_cast<cudaStream_t>(stream)));
  return Status::ok();
}

Status synchronize_stream(void* stream) {
  LW_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
  return Status::ok();
}

Status copy_async(void* dst, const void* src, size_t bytes, void* stream) {
  if (bytes == 0) return Status::ok();
  LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, static_cast<cudaStream_t>(stream)));
  return Status::ok();
}

}  // namespace lw::cuda
