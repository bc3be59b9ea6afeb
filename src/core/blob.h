// Blob: a read-only run of bytes whose lifetime is held by a shared owner (a heap block, a
// mapped file, a bundle's data area). Copying a Blob shares the bytes; it never copies them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace lw {

struct Blob {
  std::shared_ptr<const void> owner;  // keeps `data` alive; may be null when size == 0
  const uint8_t* data = nullptr;
  size_t size = 0;

  // Copies `size` bytes from `src` into a new heap block.
  static Blob copy_of(const void* src, size_t size);
  // A view of part of `parent` that shares its owner. The range must lie inside parent.
  Blob slice(size_t offset, size_t length) const { return Blob{owner, data + offset, length}; }
};

// `n` rounded up to a whole number of 64-byte cache lines.
constexpr size_t align64(size_t n) { return (n + 63) / 64 * 64; }
// The transparent huge page size alloc_weight_block works with.
inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Memory aligned to 64 bytes (cache line and AVX-512), or to `alignment` (a power of two, 64
// or more), freed with free_aligned. Returns nullptr when the allocation fails; size 0 yields a
// valid unique pointer.
void* alloc_aligned(size_t size, size_t alignment = 64);
void free_aligned(void* p);

// Frees what alloc_weight_block returned: a block it mapped goes to a process-wide cache of
// freed blocks when that has room (see alloc_weight_block) and is unmapped otherwise; a block
// from alloc_aligned goes to free_aligned. Thread-safe.
struct WeightBlockDeleter {
  size_t mapped_bytes = 0;  // the mapping's length for a mapped block; 0 for one from alloc_aligned
  void operator()(void* p) const;
};
using WeightBlockPtr = std::unique_ptr<uint8_t, WeightBlockDeleter>;

// Memory for weights (null when it cannot be had): alloc_aligned, or with `huge_pages` a block
// of 2 MiB or more gets a mapping of its own that starts on a 2 MiB boundary, whose whole 2 MiB
// stretches are advised as transparent huge pages (madvise MADV_HUGEPAGE: the kernel falls back
// to 4 KiB pages when it has none, and the advice does nothing with THP off). Weights are read
// in full on every inference, so 512x fewer TLB entries matter once they are larger than the
// cache (an MLP with 234 MB of weights: 4.5 -> 4.0 ms at two threads), and the first write
// faults in one page per 2 MiB instead of 512 (ResNet-50's init 26-31 -> 10-11 ms). The stretch
// past the last whole 2 MiB keeps small pages, so no memory goes to rounding. Mapped rather
// than taken from malloc: once a process has freed large blocks, glibc serves blocks up to
// 32 MiB from its heap, where they were faulted in 4 KiB at a time (the transformer's init at
// two threads 8.8 -> 4.6 ms, 1,000-1,500 fewer page faults per load). A freed block of the
// same length is reused when the process keeps one: blocks under 32 MiB, up to
// LW_WEIGHT_BLOCK_CACHE_BYTES (default 64 MiB; 0 keeps none) held after their session is gone.
// The memory is not zeroed. Thread-safe.
WeightBlockPtr alloc_weight_block(size_t size, bool huge_pages);
// False in an AddressSanitizer build, where huge-page blocks come from alloc_aligned (still
// 2 MiB-aligned and advised) so that it can check their use; nothing is kept for reuse then.
bool weight_blocks_are_mapped();
// Bytes of freed huge-page weight blocks the process keeps for reuse now.
size_t cached_weight_block_bytes();
// Unmaps the kept blocks (aclFinalize does, once the bundles are gone).
void release_cached_weight_blocks();

struct AlignedDeleter {
  void operator()(void* p) const { free_aligned(p); }
};
using AlignedPtr = std::unique_ptr<uint8_t, AlignedDeleter>;

}  // namespace lw
