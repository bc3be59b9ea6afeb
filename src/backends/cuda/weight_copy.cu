#include <cstring>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/weight_copy.h"

namespace lw::cuda {

namespace {
// blockIdx.y picks the job; the blocks along x stride over its bytes. 16-byte vectors when both
// ends are 16-byte aligned (cudaMalloc blocks always are), single bytes for the rest.
__global__ void batched_copy_kernel(const CopyJob* jobs) {
  const CopyJob job = jobs[blockIdx.y];
  const auto* src = static_cast<const uint8_t*>(job.src);
  auto* dst = static_cast<uint8_t*>(job.dst);
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  const uint64_t tid = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  uint64_t head = 0;
  if (((reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst)) & 15) == 0) {
    const uint64_t vectors = job.bytes / 16;
    const auto* s4 = reinterpret_cast<const uint4*>(src);
    auto* d4 = reinterpret_cast<uint4*>(dst);
    for (uint64_t i = tid; i < vectors; i += stride) d4[i] = s4[i];
    head = vectors * 16;
  }
  for (uint64_t i = head + tid; i < job.bytes; i += stride) dst[i] = src[i];
}
}  // namespace

Status copy_device_batch(const std::vector<CopyJob>& jobs, CopyJob* host_table, CopyJob* device_table,
                         cudaStream_t stream) {
  if (jobs.empty()) return Status::ok();
  uint64_t largest = 0;
  for (const CopyJob& j : jobs) largest = j.bytes > largest ? j.bytes : largest;
  std::memcpy(host_table, jobs.data(), jobs.size() * sizeof(CopyJob));
  LW_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(device_table, host_table, jobs.size() * sizeof(CopyJob), cudaMemcpyHostToDevice, stream));
  // Enough blocks along x to cover the largest job with 16-byte vectors, capped: 256 threads x
  // 1024 blocks per job keeps every SM busy on a large job, and jobs run side by side.
  constexpr unsigned kThreads = 256;
  uint64_t want = (largest / 16 + kThreads - 1) / kThreads;
  unsigned bx = static_cast<unsigned>(want < 1 ? 1 : (want > 1024 ? 1024 : want));
  // gridDim.y is limited to 65535 jobs per launch.
  for (size_t first = 0; first < jobs.size(); first += 65535) {
    unsigned count = static_cast<unsigned>(jobs.size() - first < 65535 ? jobs.size() - first : 65535);
    batched_copy_kernel<<<dim3(bx, count), kThreads, 0, stream>>>(device_table + first);
    LW_CUDA_CHECK_LAUNCH("batched weight copy");
  }
  return Status::ok();
}

PinnedRing::~PinnedRing() {
  for (int i = 0; i < kSlots; ++i) {
    if (done_[i]) {
      (void)cudaEventSynchronize(done_[i]);
      (void)cudaEventDestroy(done_[i]);
    }
    if (slots_[i]) (void)cudaFreeHost(slots_[i]);
  }
}

Status PinnedRing::ensure() {
  if (ready_) return Status::ok();
  for (int i = 0; i < kSlots; ++i) {
    if (!slots_[i]) {
      cudaError_t err = cudaMallocHost(&slots_[i], kSlotBytes);
      if (err != cudaSuccess) {
        slots_[i] = nullptr;
        (void)cudaGetLastError();
        return make_error(StatusCode::kOutOfMemory, "cannot allocate ", kSlotBytes, " bytes of pinned staging memory");
      }
    }
    if (!done_[i]) LW_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&done_[i], cudaEventDisableTiming));
  }
  ready_ = true;
  return Status::ok();
}

Status PinnedRing::copy_to_device(void* dst, const void* src, uint64_t bytes, cudaStream_t stream) {
  if (bytes == 0) return Status::ok();
  LW_RETURN_IF_ERROR(ensure());
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  for (uint64_t off = 0; off < bytes; off += kSlotBytes) {
    const uint64_t n = bytes - off < kSlotBytes ? bytes - off : kSlotBytes;
    const int slot = next_;
    next_ = (next_ + 1) % kSlots;
    // The slot's previous DMA must have finished before its bytes are overwritten.
    if (used_[slot]) LW_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(done_[slot]));
    std::memcpy(slots_[slot], s + off, n);
    LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(d + off, slots_[slot], n, cudaMemcpyHostToDevice, stream));
    LW_CUDA_RETURN_IF_ERROR(cudaEventRecord(done_[slot], stream));
    used_[slot] = true;
  }
  return Status::ok();
}

}  // namespace lw::cuda
