#include "core/blob.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

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

namespace {

// Huge-page weight blocks freed by one session and kept for the next allocation of the same
// length: a process that loads a model again (a new version, a reload after an error) finds
// its blocks already faulted in, where a fresh mapping is zeroed by the kernel on first touch
// (about 10 GB/s on this project's machines: MobileNet v2's 12 MB of slabs made its init 0.45
// -> 1.5 ms). glibc did the same for blocks its heap served, but faulted them in 4 KiB at a time.
// Blocks under 32 MiB (what glibc's heap serves at most), at most LW_WEIGHT_BLOCK_CACHE_BYTES in
// all (default 64 MiB, 0: none), newest first; a block that would not fit is unmapped at once.
class BlockCache {
 public:
  static constexpr size_t kMaxBlock = size_t{32} << 20;

  // A kept block of exactly `length` bytes, or null.
  void* take(size_t length) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = blocks_.size(); i-- > 0;)
      if (blocks_[i].second == length) {
        void* p = blocks_[i].first;
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(i));
        total_ -= length;
        return p;
      }
    return nullptr;
  }
  // Keeps the block when it fits; false when the caller must unmap it.
  bool keep(void* p, size_t length) {
    if (length >= kMaxBlock) return false;
    std::lock_guard<std::mutex> lock(mu_);
    if (total_ + length > limit_) return false;
    try {
      blocks_.emplace_back(p, length);
    } catch (const std::bad_alloc&) {
      return false;
    }
    total_ += length;
    return true;
  }
  size_t bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }
  // Unmaps every kept block.
  void release() {
    std::vector<std::pair<void*, size_t>> doomed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      doomed.swap(blocks_);
      total_ = 0;
    }
    for (const auto& [p, length] : doomed) ::munmap(p, length);
  }

 private:
  static size_t limit_from_env() {
    size_t limit = size_t{64} << 20;
    if (const char* env = std::getenv("LW_WEIGHT_BLOCK_CACHE_BYTES")) {
      char* end = nullptr;
      unsigned long long v = std::strtoull(env, &end, 10);
      if (end != env && *end == '\0') limit = static_cast<size_t>(v);
    }
    return limit;
  }
  mutable std::mutex mu_;
  std::vector<std::pair<void*, size_t>> blocks_;
  size_t total_ = 0;
  const size_t limit_ = limit_from_env();
};

// Never destroyed: blocks may be freed while the process exits.
BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache();
  return *cache;
}

}  // namespace

void WeightBlockDeleter::operator()(void* p) const {
  if (!p) return;
  if (mapped_bytes == 0) {
    free_aligned(p);
  } else if (!block_cache().keep(p, mapped_bytes)) {
    ::munmap(p, mapped_bytes);
  }
}

size_t cached_weight_block_bytes() { return block_cache().bytes(); }

void release_cached_weight_blocks() { block_cache().release(); }

bool weight_blocks_are_mapped() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return false;
#else
  return true;
#endif
#else
  return true;
#endif
}

WeightBlockPtr alloc_weight_block(size_t size, bool huge_pages) {
  if (!huge_pages || size < kHugePageBytes) return WeightBlockPtr(static_cast<uint8_t*>(alloc_aligned(size)));
  if (!weight_blocks_are_mapped()) {  // AddressSanitizer checks malloc's blocks, not mappings
    WeightBlockPtr p(static_cast<uint8_t*>(alloc_aligned(size, kHugePageBytes)));
    if (p) (void)::madvise(p.get(), size / kHugePageBytes * kHugePageBytes, MADV_HUGEPAGE);
    return p;
  }
  if (fault::should_fail_allocation(size)) return nullptr;
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t length = (size + page - 1) / page * page;
  const size_t reserve = length + kHugePageBytes;  // room to start on a 2 MiB boundary
  if (length < size || reserve < length) return nullptr;
  if (void* kept = block_cache().take(length)) return WeightBlockPtr(static_cast<uint8_t*>(kept), WeightBlockDeleter{length});
  void* base = ::mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  const auto begin = reinterpret_cast<uintptr_t>(base);
  const uintptr_t aligned = (begin + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  // The slack before and after the block goes back at once.
  if (aligned > begin) ::munmap(base, aligned - begin);
  if (begin + reserve > aligned + length) ::munmap(reinterpret_cast<void*>(aligned + length), begin + reserve - aligned - length);
  // Advice only: when the kernel refuses it, the pages stay small.
  (void)::madvise(reinterpret_cast<void*>(aligned), size / kHugePageBytes * kHugePageBytes, MADV_HUGEPAGE);
  return WeightBlockPtr(reinterpret_cast<uint8_t*>(aligned), WeightBlockDeleter{length});
}

Blob Blob::copy_of(const void* src, size_t size) {
  std::shared_ptr<uint8_t> block(static_cast<uint8_t*>(alloc_aligned(size)), AlignedDeleter{});
  if (!block) return Blob{};
  if (size) std::memcpy(block.get(), src, size);
  const uint8_t* data = block.get();
  return Blob{std::shared_ptr<const void>(block, data), data, size};
}

}  // namespace lw
