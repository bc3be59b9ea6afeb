#include "core/blob.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "core/fault_injection.h"

namespace lw {

void* alloc_aligned(size_t size, size_t alignment) {
  if (alignment < 64 || (alignment & (alignment - 1)) != 0) return nullptr;
  // aligned_alloc wants a multiple of the alignment and would return NULL for 0. Rounded to 64
  // bytes only, through posix_memalign for larger alignments: rounding a 2.3 MB buffer up to
  // a multiple of 2 MiB would cost 1.7 MB.
  size_t rounded = size == 0 ? 64 : align64(size);
  if (rounded < size) return nullptr;
  if (fault::should_fail_allocation(size)) return nullptr;
  if (alignment == 64) return std::aligned_alloc(64, rounded);
  void* p = nullptr;
  return posix_memalign(&p, alignment, rounded) == 0 ? p : nullptr;
}

void free_aligned(void* p) { std::free(p); }

void* alloc_weight_block(size_t size, bool huge_pages) {
  if (!huge_pages || size < kHugePageBytes) return alloc_aligned(size);
  void* p = alloc_aligned(size, kHugePageBytes);
  // Advice only: when the kernel refuses it, the pages stay small.
  if (p) (void)madvise(p, size / kHugePageBytes * kHugePageBytes, MADV_HUGEPAGE);
  return p;
}

Blob Blob::copy_of(const void* src, size_t size) {
  std::shared_ptr<uint8_t> block(static_cast<uint8_t*>(alloc_aligned(size)), AlignedDeleter{});
  if (!block) return Blob{};
  if (size) std::memcpy(block.get(), src, size);
  const uint8_t* data = block.get();
  return Blob{std::shared_ptr<const void>(block, data), data, size};
}

}  // namespace lw
