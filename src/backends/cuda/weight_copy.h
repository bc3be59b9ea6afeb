// Weight refresh on CUDA: the copies that move new weight bytes into Variables' device buffers.
//   - device sources: one batched kernel for all of them (copy_device_batch);
//   - pinned host sources: cudaMemcpyAsync straight from them (DMA at the link's speed);
//   - pageable host sources: staged through a ring of pinned buffers (PinnedRing), the host copy
//     into one slot overlapping the DMA out of the others.
// Weights on CUDA are held plain (row-major), so no layout transform sits between the source and
// the Variable: every path is a pure copy.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "liveweight/status.h"

namespace lw::cuda {

struct CopyJob {
  const void* src;
  void* dst;
  uint64_t bytes;
};

// Copies every job with one kernel launch on `stream`: device-to-device, or from pinned host
// memory the device can address (its device view, see device_view). Jobs are cut into chunks of
// kChunkBytes; `device_table` is device memory and `host_table` pinned host memory for
// batch_chunks(jobs) CopyJobs each, untouched until the stream has passed the copy.
constexpr uint64_t kChunkBytes = uint64_t{128} << 10;
size_t batch_chunks(const std::vector<CopyJob>& jobs);
Status copy_device_batch(const std::vector<CopyJob>& jobs, CopyJob* host_table, CopyJob* device_table,
                         cudaStream_t stream);

// A ring of pinned host buffers for copies from pageable memory. Not thread-safe: one user at
// a time (the plan's execution context owns it).
class PinnedRing {
 public:
  PinnedRing() = default;
  PinnedRing(const PinnedRing&) = delete;
  PinnedRing& operator=(const PinnedRing&) = delete;
  ~PinnedRing();
  // Copies `bytes` from pageable host memory at `src` to device memory at `dst` on `stream`.
  // Returns once every byte has left `src` (the last DMA may still be in flight).
  Status copy_to_device(void* dst, const void* src, uint64_t bytes, cudaStream_t stream);

 private:
  static constexpr int kSlots = 4;
  static constexpr uint64_t kSlotBytes = uint64_t{8} << 20;
  Status ensure();
  void* slots_[kSlots] = {};
  cudaEvent_t done_[kSlots] = {};
  bool used_[kSlots] = {};
  int next_ = 0;
  bool ready_ = false;
};

}  // namespace lw::cuda
