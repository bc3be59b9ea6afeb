#include "core/blob.h"

#include <cstdlib>
#include <cstring>

#include "core/fault_injection.h"

namespace lw {

void* alloc_aligned(size_t size) {
  constexpr size_t kAlign = 64;
  // aligned_alloc wants a multiple of the alignment and would return NULL for 0.
  size_t rounded = size == 0 ? kAlign : (size + kAlign - 1) / kAlign * kAlign;
  if (rounded < size) return nullptr;
  if (fault::should_fail_allocation(size)) return nullptr;
  return std::aligned_alloc(kAlign, rounded);
}

void free_aligned(void* p) { std::free(p); }

Blob Blob::copy_of(const void* src, size_t size) {
  std::shared_ptr<uint8_t> block(static_cast<uint8_t*>(alloc_aligned(size)), AlignedDeleter{});
  if (!block) return Blob{};
  if (size) std::memcpy(block.get(), src, size);
  const uint8_t* data = block.get();
  return Blob{std::shared_ptr<const void>(block, data), data, size};
}

}  // namespace lw
