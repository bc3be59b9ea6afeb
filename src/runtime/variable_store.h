// VariableStore: the weights of one bundle, shared by all its models, with snapshot isolation.
//
// The store publishes immutable WeightSnapshots. An execution pins the snapshot current when it
// starts (a shared_ptr copy) and reads only that one, so it never sees a half-applied update.
// An update stages fresh buffers for the Variables it writes (copy-on-write per Variable) and
// commits them as a new snapshot with version + 1; buffers of older snapshots are freed when the
// last execution holding them ends. Updates are serialized by begin_update()'s lock.
//
// Versions: every commit publishes version + 1. With keep_versions N the store also keeps the
// N snapshots that were current before the present one; rollback(v) publishes a new snapshot
// (version + 1 again, restored_from = v) that shares v's buffers, so nothing is copied or
// re-sent. In-place mode (StoreOptions::in_place) stages the live buffers themselves instead of
// fresh ones: no extra memory, but callers must hold gate() exclusive while an update writes and
// shared while an execution reads (Model does); it keeps no earlier versions.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/cpu/kernel.h"
#include "core/blob.h"
#include "core/name_index.h"
#include "core/shape.h"
#include "runtime/update_gate.h"
#include "liveweight/status.h"

namespace lw::rt {

struct VariableSlot {
  std::string name;
  DType dtype = DType::kFloat32;
  Dims dims;
  uint64_t bytes = 0;
};

// Where a store's weight buffers live: 64-byte-aligned host memory (CPU backend), host memory
// backed by transparent huge pages where the buffer spans them (kHostHugePages, see
// allocate_weight_memory), or device memory of the current CUDA device (cudaMalloc).
enum class WeightMemory : uint8_t { kHost, kCudaDevice, kHostHugePages };

// Owns one block of weight memory of either kind, or (with `slab` set) one piece of a larger
// host block shared by several buffers: the piece frees nothing itself, and the block goes
// when the last piece's deleter does.
struct WeightDeleter {
  WeightMemory memory = WeightMemory::kHost;
  std::shared_ptr<void> slab;
  size_t mapped_bytes = 0;  // host memory: as WeightBlockDeleter (core/blob.h)
  void operator()(uint8_t* p) const;
};
using WeightPtr = std::unique_ptr<uint8_t, WeightDeleter>;
// Null (with *error set) when the memory cannot be had. kHostHugePages: alloc_weight_block with
// huge pages (core/blob.h).
WeightPtr allocate_weight_memory(WeightMemory memory, uint64_t bytes, Status* error);

// One Variable's storage: plain row-major, or the slot's packed layout (VariableStore::layout).
// data() is a device pointer when the store's memory is kCudaDevice.
class WeightBufferPool;

class WeightBuffer {
 public:
  WeightBuffer() = default;
  WeightBuffer(const WeightBuffer&) = delete;
  WeightBuffer& operator=(const WeightBuffer&) = delete;
  // Gives the memory back to the pool it came from, when that still exists.
  ~WeightBuffer();
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  uint64_t size() const { return size_; }
  // A number no other write of any buffer had: kernels key what they derive from a weight on it
  // (kernel.h, KernelRun::input_generations). The store renews it whenever it hands the buffer
  // out to be written, which only happens while no execution can read the buffer (a staged
  // copy, or the live one under in-place mode's exclusive gate).
  uint64_t generation() const { return generation_; }
  void renew_generation();

 private:
  friend class WeightBufferPool;
  WeightPtr data_;
  uint64_t size_ = 0;
  uint64_t generation_ = 0;
  std::weak_ptr<WeightBufferPool> home_;
};

// Memory of weight buffers no snapshot uses any more, kept for the next update so a refresh
// writes into memory that is already mapped (no page faults, no zeroing by the kernel). Holds
// at most `limit` bytes. Thread-safe; buffers may outlive it (they then free their memory).
class WeightBufferPool : public std::enable_shared_from_this<WeightBufferPool> {
 public:
  WeightBufferPool(uint64_t limit, WeightMemory memory) : limit_(limit), memory_(memory) {}
  // One buffer per entry of `sizes`, each reused when one of that size is free; the memory of
  // each comes back here when its last reference goes. In huge-page memory, the buffers under
  // 2 MiB that the pool cannot give are carved from one new block when they add up to 2 MiB or
  // more. An init or the first full refresh of a model made of many small tensors (MobileNet
  // v2: 8.8 of its 14 MB in 105 of them) then faults in a few huge pages instead of one 4 KiB
  // page per 4 KiB, which costs about 1.3 us each on these machines (14 MB: 4.5 ms against
  // 0.2). The pieces return to the pool one by one like any buffer; the block itself is freed
  // when none of them is used or pooled any more.
  Result<std::vector<std::shared_ptr<WeightBuffer>>> acquire_many(const std::vector<uint64_t>& sizes);
  uint64_t pooled_bytes() const;

 private:
  friend class WeightBuffer;
  void give_back(WeightPtr data, uint64_t bytes);
  // The buffer around `data`, whose memory comes back to this pool (one allocation: the
  // buffer and its shared count together).
  std::shared_ptr<WeightBuffer> wrap(WeightPtr data, uint64_t bytes);
  // Takes a free buffer of exactly `bytes` from the pool (null when there is none). mu_ held.
  WeightPtr take_locked(uint64_t bytes);
  mutable std::mutex mu_;
  // Free memory by size. Lists rather than a multimap: a refresh takes and gives back every
  // buffer, and a multimap allocated and freed a node for each (a full refresh of MobileNet v2
  // moves 106 buffers each way).
  std::unordered_map<uint64_t, std::vector<WeightPtr>> free_;
  uint64_t free_bytes_ = 0;
  uint64_t limit_;
  WeightMemory memory_;
};

struct WeightSnapshot {
  uint64_t version = 0;
  uint64_t restored_from = 0;  // the version a rollback made current again; 0 otherwise
  // One entry per slot; null for a Variable that has never been written.
  std::vector<std::shared_ptr<const WeightBuffer>> buffers;
};

struct StoreOptions {
  bool in_place = false;
  uint32_t keep_versions = 0;  // earlier snapshots kept for rollback (0 with in_place)
  // Copy-on-write: begin_update() first waits until no execution still pins a replaced (not
  // kept) snapshot, so an update's extra memory is at most the bytes it refreshes (their old
  // buffers come back through the pool). Inferences never wait; an update may wait for the
  // inferences still running on the version before the current one. A thread must not call
  // begin_update() while it holds such a snapshot itself.
  bool bound_update_memory = false;
  WeightMemory memory = WeightMemory::kHost;
};

class VariableStore {
 public:
  explicit VariableStore(std::vector<VariableSlot> slots, StoreOptions options = {});
  const StoreOptions& options() const { return options_; }
  // In-place mode's execution/update lock (unused in copy-on-write mode).
  UpdateGate& gate() { return gate_; }

  const std::vector<VariableSlot>& slots() const { return slots_; }
  // The plain bytes of every weight together.
  uint64_t total_bytes() const { return total_bytes_; }
  // Slot index of `name`, or -1. A hash lookup: plans look up every Variable node they hold.
  int32_t find(const std::string& name) const;

  std::shared_ptr<const WeightSnapshot> current() const;
  // Bytes of released weight memory kept for reuse by later updates.
  uint64_t pooled_bytes() const { return pool_->pooled_bytes(); }

  // Physical layout of `slot`: null for plain row-major. Fixed by the first Plan that reads the
  // slot (fix_layout) and never changed afterwards, so a Plan may rely on it.
  std::shared_ptr<const cpu::PackedLayout> layout(int32_t slot) const;
  bool layout_fixed(int32_t slot) const;
  // Fixes `slot`'s layout (null: plain). Succeeds when the slot is already fixed to an equal
  // layout, or is not fixed and has never been written; false otherwise (the caller must then
  // read the slot in its fixed layout, see layout()). Takes the writer lock: do not call while
  // holding an Update.
  bool fix_layout(int32_t slot, std::shared_ptr<const cpu::PackedLayout> layout);
  uint64_t version() const { return current()->version; }

  // How many times one inference reads each element of `slot` (the most over the graphs that
  // read it): 1 until a Plan notes more. A convolution reads its weights once per output
  // position, a matrix product once per row of its left operand. A refresh writes weights that
  // are read many times around the cache more readily (store_mode_for): fetching them again
  // hides behind the arithmetic that reuses them.
  void note_reads_per_run(int32_t slot, uint64_t reads);
  uint64_t reads_per_run(int32_t slot) const;
  // The same for each of `slots`, under one lock (an update asks for all it writes).
  std::vector<uint64_t> reads_per_run(const std::vector<int32_t>& slots) const;

  // Versions rollback() accepts, newest first (at most keep_versions of them).
  std::vector<uint64_t> kept_versions() const;
  // Makes kept version `version` current again as a new version (returned). Waits for a running
  // update. kInvalidArgument naming the kept versions when `version` is not one of them.
  Result<uint64_t> rollback(uint64_t version);

  // An update in progress. Holds the writer lock until committed or destroyed; destroying it
  // without commit() discards every staged write.
  class Update {
   public:
    const WeightSnapshot& base() const { return *base_; }
    // A fresh buffer for `slot`, to be filled by the caller and published by commit().
    Result<WeightBuffer*> stage(int32_t slot);
    // stage() for every slot in `slots` at once (a slot may appear more than once), so the
    // buffers the pool lacks can come from one block (WeightBufferPool::acquire_many).
    // out[i] is the buffer of slots[i].
    Status stage_many(const std::vector<int32_t>& slots, std::vector<WeightBuffer*>* out);
    bool empty() const;

   private:
    friend class VariableStore;
    Update(VariableStore* store, std::unique_lock<std::mutex> lock);
    VariableStore* store_;
    std::unique_lock<std::mutex> lock_;
    std::shared_ptr<const WeightSnapshot> base_;
    std::vector<std::shared_ptr<WeightBuffer>> staged_;
  };

  std::unique_ptr<Update> begin_update();
  // Publishes the staged buffers as the next version (no-op when nothing was staged).
  void commit(std::unique_ptr<Update> update);

 private:
  // Makes `next` current, keeping the one it replaces when versions are kept. current_mu_ held.
  void publish_locked(std::shared_ptr<const WeightSnapshot> next);
  // A new snapshot counted in live_ until its last holder releases it.
  std::shared_ptr<WeightSnapshot> make_snapshot();
  struct Liveness {
    std::mutex mu;
    std::condition_variable released;
    uint64_t live = 0;  // snapshots not yet destroyed
  };
  std::shared_ptr<Liveness> live_ = std::make_shared<Liveness>();
  std::vector<VariableSlot> slots_;
  NameIndex index_;  // slot of each name (the first, if repeated); views of slots_' names
  uint64_t total_bytes_ = 0;
  StoreOptions options_;
  UpdateGate gate_;
  std::vector<std::shared_ptr<const WeightSnapshot>> history_;  // newest first; guarded by current_mu_
  mutable std::mutex current_mu_;  // guards current_ (a pointer swap, never held long)
  std::shared_ptr<const WeightSnapshot> current_;
  std::mutex writer_mu_;           // one update at a time
  mutable std::mutex layout_mu_;   // guards layouts_/layout_fixed_ (changed under writer_mu_ too), reads_per_run_
  std::vector<std::shared_ptr<const cpu::PackedLayout>> layouts_;
  std::vector<bool> layout_fixed_;
  std::vector<uint64_t> reads_per_run_;  // guarded by layout_mu_
  std::shared_ptr<WeightBufferPool> pool_;
};

// Copies n bytes using the intra-op threads for large copies (weight refresh runs at memory
// bandwidth rather than one core's copy speed); kStreaming writes around the cache
// (core/stream_copy.h). The three-argument form copies kCached.
void parallel_copy(void* dst, const void* src, size_t n, StoreMode mode);
void parallel_copy(void* dst, const void* src, size_t n);

}  // namespace lw::rt
