#include <cstring>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/weight_copy.h"

namespace lw::rt {
// runtime/variable_store.h: a copy split over the intra-op threads.
void parallel_copy(void* dst, const void* src, size_t n);
}  // namespace lw::rt

namespace lw::cuda {

namespace {
// One block per chunk (at most kChunkBytes of one job). 16-byte vectors when both ends are
// 16-byte aligned (cudaMalloc blocks and the chunk boundaries always are), bytes otherwise.
__global__ void batched_copy_kernel(const CopyJob* chunks) {
  const CopyJob c = chunks[blockIdx.x];
  const auto* src = static_cast<const uint8_t*>(c.src);
  auto* dst = static_cast<uint8_t*>(c.dst);
  uint64_t head = 0;
  if (((reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst)) & 15) == 0) {
    const uint64_t vectors = c.bytes / 16;
    const auto* s4 = reinterpret_cast<const uint4*>(src);
    auto* d4 = reinterpret_cast<uint4*>(dst);
    for (uint64_t i = threadIdx.x; i < vectors; i += blockDim.x) d4[i] = s4[i];
    head = vectors * 16;
  }
  for (uint64_t i = head + threadIdx.x; i < c.bytes; i += blockDim.x) dst[i] = src[i];
}
}  // namespace

size_t batch_chunks(const std::vector<CopyJob>& jobs) {
  size_t n = 0;
  for (const CopyJob& j : jobs) n += static_cast<size_t>((j.bytes + kChunkBytes - 1) / kChunkBytes);
  return n;
}

Status copy_device_batch(const std::vector<CopyJob>& jobs, CopyJob* host_table, CopyJob* device_table,
                         cudaStream_t stream) {
  // Jobs cut into equal chunks so every block has the same work whatever the tensor sizes: a
  // bundle's weights range from a few bytes (biases) to megabytes.
  size_t n = 0;
  for (const CopyJob& j : jobs)
    for (uint64_t off = 0; off < j.bytes; off += kChunkBytes)
      host_table[n++] = {static_cast<const uint8_t*>(j.src) + off, static_cast<uint8_t*>(j.dst) + off,
                         j.bytes - off < kChunkBytes ? j.bytes - off : kChunkBytes};
  if (n == 0) return Status::ok();
  LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(device_table, host_table, n * sizeof(CopyJob), cudaMemcpyHostToDevice, stream));
  constexpr unsigned kThreads = 512;
  for (size_t first = 0; first < n; first += 0x7fffffff) {
    unsigned count = static_cast<unsigned>(n - first < 0x7fffffff ? n - first : 0x7fffffff);
    batched_copy_kernel<<<count, kThreads, 0, stream>>>(device_table + first);
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
    // One core copies pageable memory at ~8 GB/s, well below the link; the intra-op threads
    // share the chunk.
    rt::parallel_copy(slots_[slot], s + off, n);
    LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(d + off, slots_[slot], n, cudaMemcpyHostToDevice, stream));
    LW_CUDA_RETURN_IF_ERROR(cudaEventRecord(done_[slot], stream));
    used_[slot] = true;
  }
  return Status::ok();
}

}  // namespace lw::cuda
