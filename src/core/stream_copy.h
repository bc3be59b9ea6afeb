// Copies that write around the cache. A store to a line not in cache first reads the line
// (read-for-ownership), so an ordinary copy moves three bytes of memory traffic per byte; a
// non-temporal ("streaming") store writes whole lines straight to memory and moves two. For a
// weight refresh larger than the last-level cache the written weights would be evicted before
// the next inference reads them anyway, so streaming costs nothing and saves a third of the
// traffic (glibc's memcpy makes the same switch for large copies). For a refresh that fits in
// the cache, ordinary stores keep the new weights there for the next inference.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lw {

enum class StoreMode {
  kCached,     // ordinary stores: the destination ends up in cache
  kStreaming,  // non-temporal stores; the caller's thread issues a store fence before it returns
};

// The mode for writing `bytes` of weights in one go into a model whose weights total
// `model_bytes`: kStreaming when the write is at least the size of the L3 cache this process runs
// next to (sysfs; 32 MiB when unknown), or when the model's weights are and the write is 1 MiB
// or more (those weights do not stay cached between inferences, so neither does the buffer
// written). LW_STREAMING_MIN_BYTES, when set, stands for the cache size (0 or a value that does
// not parse: never stream). Thread-safe.
StoreMode store_mode_for(uint64_t bytes, uint64_t model_bytes = 0);

// The mode for one weight of such a write, which one inference reads `reads_per_run` times per
// element, when the write's buffers, its source and the model's current weights take
// `footprint` bytes together (2 x bytes + model_bytes for copy-on-write): store_mode_for(bytes,
// model_bytes), and also kStreaming when the weight is read 32 times or more, the write is 1 MiB
// or more and `footprint` exceeds the cache. The written lines would then not all stay cached,
// and the inference that reuses the weight hides fetching it again behind its arithmetic (a
// convolution: once per output position), so ordinary stores would only add a read of every
// line. Weights read a few times per run (a matrix product at batch 8) keep the first rule:
// there the inference after a streamed refresh waited for memory.
StoreMode store_mode_for(uint64_t bytes, uint64_t model_bytes, uint64_t footprint, uint64_t reads_per_run);

// memcpy of `n` bytes with non-temporal stores for the whole 64-byte lines of `dst` (the ends
// use ordinary stores), followed by a store fence, so other threads see the bytes once they
// synchronize with this one. Thread-safe for disjoint destinations.
void copy_streaming(void* dst, const void* src, size_t n);

// Orders this thread's earlier non-temporal stores before its later stores (sfence on x86-64).
void streaming_fence();

}  // namespace lw
