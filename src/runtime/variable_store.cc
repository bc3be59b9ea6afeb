#include "runtime/variable_store.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "backends/cuda/device.h"

namespace lw::rt {

void WeightDeleter::operator()(uint8_t* p) const {
  if (slab) return;  // a piece of a shared block: the block frees itself with its last piece
  if (memory == WeightMemory::kCudaDevice)
    cuda::free_device(p);
  else
    WeightBlockDeleter{mapped_bytes}(p);
}

WeightPtr allocate_weight_memory(WeightMemory memory, uint64_t bytes, Status* error) {
  if (memory == WeightMemory::kCudaDevice) {
    auto p = cuda::malloc_device(bytes);
    if (!p.is_ok()) {
      *error = p.status();
      return WeightPtr(nullptr, WeightDeleter{memory, nullptr});
    }
    return WeightPtr(static_cast<uint8_t*>(*p), WeightDeleter{memory, nullptr});
  }
  WeightBlockPtr block = alloc_weight_block(bytes, memory == WeightMemory::kHostHugePages);
  const size_t mapped = block.get_deleter().mapped_bytes;
  WeightPtr data(block.release(), WeightDeleter{memory, nullptr, mapped});
  if (!data) *error = make_error(StatusCode::kOutOfMemory, "cannot allocate ", bytes, " bytes for a weight");
  return data;
}

void WeightBuffer::renew_generation() {
  // From 2: kernels read 0 as "not a weight" and 1 as "a constant" (kernel.h).
  static std::atomic<uint64_t> next{2};
  generation_ = next.fetch_add(1, std::memory_order_relaxed);
}

WeightBuffer::~WeightBuffer() {
  if (auto pool = home_.lock()) pool->give_back(std::move(data_), size_);
}

WeightPtr WeightBufferPool::take_locked(uint64_t bytes) {
  auto it = free_.find(bytes);
  if (it == free_.end() || it->second.empty()) return WeightPtr(nullptr, WeightDeleter{memory_, nullptr});
  // The oldest first, as given back: slot by slot, a refresh gets the memory of the version
  // before last again (the lists are short: the buffers of one size).
  WeightPtr data = std::move(it->second.front());
  it->second.erase(it->second.begin());
  free_bytes_ -= bytes;
  return data;
}

std::shared_ptr<WeightBuffer> WeightBufferPool::wrap(WeightPtr data, uint64_t bytes) {
  auto buffer = std::make_shared<WeightBuffer>();
  buffer->data_ = std::move(data);
  buffer->size_ = bytes;
  buffer->home_ = weak_from_this();
  return buffer;
}

Result<std::vector<std::shared_ptr<WeightBuffer>>> WeightBufferPool::acquire_many(const std::vector<uint64_t>& sizes) {
  std::vector<WeightPtr> data;
  data.reserve(sizes.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t bytes : sizes) data.push_back(take_locked(bytes));
  }
  // The small buffers the pool did not have, laid end to end on 64-byte boundaries.
  uint64_t slab_bytes = 0;
  if (memory_ == WeightMemory::kHostHugePages)
    for (size_t i = 0; i < sizes.size(); ++i)
      if (!data[i] && sizes[i] < kHugePageBytes) slab_bytes += align64(sizes[i]);
  if (slab_bytes >= kHugePageBytes) {
    WeightBlockPtr block = alloc_weight_block(slab_bytes, true);
    const WeightBlockDeleter unmap = block.get_deleter();
    std::shared_ptr<uint8_t> slab(block.release(), unmap);
    if (!slab) return make_error(StatusCode::kOutOfMemory, "cannot allocate ", slab_bytes, " bytes for weights");
    uint64_t offset = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (data[i] || sizes[i] >= kHugePageBytes) continue;
      data[i] = WeightPtr(slab.get() + offset, WeightDeleter{memory_, slab});
      offset += align64(sizes[i]);
    }
  }
  std::vector<std::shared_ptr<WeightBuffer>> buffers;
  buffers.reserve(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (!data[i]) {
      Status error;
      data[i] = allocate_weight_memory(memory_, sizes[i], &error);
      if (!data[i]) return error;  // what was taken or carved goes back or is freed with `data`
    }
    buffers.push_back(wrap(std::move(data[i]), sizes[i]));
  }
  return buffers;
}

void WeightBufferPool::give_back(WeightPtr data, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!data || free_bytes_ + bytes > limit_) return;  // `data` frees itself
  // This runs in a destructor, which must not throw: when the pool cannot grow, the buffer is
  // freed instead of pooled (`data` is untouched when the insertion fails).
  try {
    free_[bytes].push_back(std::move(data));
  } catch (const std::bad_alloc&) {
    return;
  }
  free_bytes_ += bytes;
}

uint64_t WeightBufferPool::pooled_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_bytes_;
}

VariableStore::VariableStore(std::vector<VariableSlot> slots, StoreOptions options)
    : slots_(std::move(slots)), index_(slots_.size()), options_(options), layouts_(slots_.size()),
      layout_fixed_(slots_.size(), false),
      reads_per_run_(slots_.size(), 1) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    total_bytes_ += slots_[i].bytes;
    index_.insert(slots_[i].name, static_cast<int32_t>(i));  // keeps the first of a repeated name
  }
  // One spare copy of every weight at most: what a full copy-on-write refresh needs anyway.
  // Packed layouts may be a little larger than the plain bytes; allow for their padding.
  pool_ = std::make_shared<WeightBufferPool>(total_bytes_ + total_bytes_ / 8, options_.memory);
  auto snapshot = make_snapshot();
  snapshot->buffers.resize(slots_.size());
  current_ = std::move(snapshot);
}

std::shared_ptr<WeightSnapshot> VariableStore::make_snapshot() {
  // Counted only once it exists; if the shared_ptr's own allocation fails, it runs the deleter,
  // which uncounts it again.
  auto* raw = new WeightSnapshot();
  {
    std::lock_guard<std::mutex> lock(live_->mu);
    ++live_->live;
  }
  return std::shared_ptr<WeightSnapshot>(raw, [live = live_](WeightSnapshot* s) {
    delete s;  // its buffers go back to the pool before a waiting update wakes
    {
      std::lock_guard<std::mutex> lock(live->mu);
      --live->live;
    }
    live->released.notify_all();
  });
}

int32_t VariableStore::find(const std::string& name) const { return index_.find(name); }

std::shared_ptr<const WeightSnapshot> VariableStore::current() const {
  std::lock_guard<std::mutex> lock(current_mu_);
  return current_;
}

std::shared_ptr<const cpu::PackedLayout> VariableStore::layout(int32_t slot) const {
  std::lock_guard<std::mutex> lock(layout_mu_);
  return slot >= 0 && static_cast<size_t>(slot) < layouts_.size() ? layouts_[static_cast<size_t>(slot)] : nullptr;
}

bool VariableStore::layout_fixed(int32_t slot) const {
  std::lock_guard<std::mutex> lock(layout_mu_);
  return slot >= 0 && static_cast<size_t>(slot) < layout_fixed_.size() && layout_fixed_[static_cast<size_t>(slot)];
}

void VariableStore::note_reads_per_run(int32_t slot, uint64_t reads) {
  std::lock_guard<std::mutex> lock(layout_mu_);
  if (slot >= 0 && static_cast<size_t>(slot) < reads_per_run_.size())
    reads_per_run_[static_cast<size_t>(slot)] = std::max(reads_per_run_[static_cast<size_t>(slot)], reads);
}

uint64_t VariableStore::reads_per_run(int32_t slot) const { return reads_per_run(std::vector<int32_t>{slot})[0]; }

std::vector<uint64_t> VariableStore::reads_per_run(const std::vector<int32_t>& slots) const {
  std::vector<uint64_t> reads(slots.size(), 1);
  std::lock_guard<std::mutex> lock(layout_mu_);
  for (size_t k = 0; k < slots.size(); ++k)
    if (slots[k] >= 0 && static_cast<size_t>(slots[k]) < reads_per_run_.size())
      reads[k] = reads_per_run_[static_cast<size_t>(slots[k])];
  return reads;
}

bool VariableStore::fix_layout(int32_t slot, std::shared_ptr<const cpu::PackedLayout> layout) {
  if (slot < 0 || static_cast<size_t>(slot) >= slots_.size()) return false;
  auto i = static_cast<size_t>(slot);
  // The writer lock keeps updates out: no buffer of this slot can appear while we decide.
  std::lock_guard<std::mutex> writer(writer_mu_);
  std::lock_guard<std::mutex> lock(layout_mu_);
  if (layout_fixed_[i]) {
    const auto& have = layouts_[i];
    return (!have && !layout) || (have && layout && have->key == layout->key);
  }
  bool written = current()->buffers[i] != nullptr;
  {
    // A kept version may hold a plain buffer of the slot even when the current one does not.
    std::lock_guard<std::mutex> current_lock(current_mu_);
    for (const auto& old : history_) written = written || old->buffers[i] != nullptr;
  }
  if (written) {  // written plain already: only plain fits
    if (layout) return false;
    layout_fixed_[i] = true;
    return true;
  }
  layouts_[i] = std::move(layout);
  layout_fixed_[i] = true;
  return true;
}

VariableStore::Update::Update(VariableStore* store, std::unique_lock<std::mutex> lock)
    : store_(store), lock_(std::move(lock)), base_(store->current()), staged_(store->slots_.size()) {}

Result<WeightBuffer*> VariableStore::Update::stage(int32_t slot) {
  std::vector<WeightBuffer*> out;
  LW_RETURN_IF_ERROR(stage_many({slot}, &out));
  return out[0];
}

Status VariableStore::Update::stage_many(const std::vector<int32_t>& slots, std::vector<WeightBuffer*>* out) {
  std::vector<int32_t> wanted;  // slots that still need a fresh buffer, each once
  std::vector<uint64_t> sizes;
  std::vector<bool> requested(staged_.size(), false);
  {
    std::lock_guard<std::mutex> layouts(store_->layout_mu_);  // once, not once per slot
    for (int32_t slot : slots) {
      if (slot < 0 || static_cast<size_t>(slot) >= staged_.size())
        return make_error(StatusCode::kInternal, "weight slot ", slot, " out of range");
      auto i = static_cast<size_t>(slot);
      // In-place: write the live buffer. The caller holds the gate exclusive, so nobody reads it.
      if (!staged_[i] && store_->options_.in_place && base_->buffers[i])
        staged_[i] = std::const_pointer_cast<WeightBuffer>(base_->buffers[i]);
      if (staged_[i] || requested[i]) continue;
      requested[i] = true;
      const auto& layout = store_->layouts_[i];
      wanted.push_back(slot);
      sizes.push_back(layout ? layout->bytes : store_->slots_[i].bytes);
    }
  }
  if (!wanted.empty()) {
    LW_ASSIGN_OR_RETURN(auto buffers, store_->pool_->acquire_many(sizes));
    for (size_t k = 0; k < wanted.size(); ++k) staged_[static_cast<size_t>(wanted[k])] = std::move(buffers[k]);
  }
  out->clear();
  for (int32_t slot : slots) {
    WeightBuffer* b = staged_[static_cast<size_t>(slot)].get();
    b->renew_generation();  // about to be written
    out->push_back(b);
  }
  return Status::ok();
}

bool VariableStore::Update::empty() const {
  for (const auto& s : staged_)
    if (s) return false;
  return true;
}

std::unique_ptr<VariableStore::Update> VariableStore::begin_update() {
  std::unique_lock<std::mutex> lock(writer_mu_);
  if (options_.bound_update_memory && !options_.in_place) {
    size_t kept;
    {
      std::lock_guard<std::mutex> current_lock(current_mu_);
      kept = history_.size();  // stable: only changed under writer_mu_
    }
    std::unique_lock<std::mutex> live_lock(live_->mu);
    live_->released.wait(live_lock, [&] { return live_->live <= 1 + kept; });
  }
  return std::unique_ptr<Update>(new Update(this, std::move(lock)));
}

void VariableStore::commit(std::unique_ptr<Update> update) {
  if (!update || update->empty()) return;
  // The writer lock is still held by `update`, so base_ is the current snapshot.
  auto next = make_snapshot();
  next->version = update->base_->version + 1;
  next->buffers = update->base_->buffers;
  for (size_t i = 0; i < update->staged_.size(); ++i)
    if (update->staged_[i]) next->buffers[i] = std::move(update->staged_[i]);
  std::lock_guard<std::mutex> lock(current_mu_);
  publish_locked(std::move(next));
}

void VariableStore::publish_locked(std::shared_ptr<const WeightSnapshot> next) {
  // Version 0 (nothing written yet) is not worth restoring.
  if (options_.keep_versions > 0 && current_ && current_->version > 0) {
    history_.insert(history_.begin(), current_);
    if (history_.size() > options_.keep_versions) history_.resize(options_.keep_versions);
  }
  current_ = std::move(next);
}

std::vector<uint64_t> VariableStore::kept_versions() const {
  std::lock_guard<std::mutex> lock(current_mu_);
  std::vector<uint64_t> versions;
  for (const auto& s : history_) versions.push_back(s->version);
  return versions;
}

Result<uint64_t> VariableStore::rollback(uint64_t version) {
  std::lock_guard<std::mutex> writer(writer_mu_);
  std::lock_guard<std::mutex> lock(current_mu_);
  if (options_.keep_versions == 0)
    return make_error(StatusCode::kInvalidArgument, "cannot roll back to version ", version,
                      ": the bundle keeps no earlier versions (set the keep_versions option)");
  std::shared_ptr<const WeightSnapshot> target;
  std::string kept;
  for (const auto& s : history_) {
    if (s->version == version) target = s;
    kept += str_cat(kept.empty() ? "" : ", ", s->version);
  }
  if (!target)
    return make_error(StatusCode::kInvalidArgument, "cannot roll back to version ", version, ": the current version is ",
                      current_->version, " and the kept versions are [", kept, "]");
  auto next = make_snapshot();
  next->version = current_->version + 1;
  next->restored_from = version;
  next->buffers = target->buffers;  // shared, read-only: nothing is copied
  publish_locked(next);
  return next->version;
}

void parallel_copy(void* dst, const void* src, size_t n) { parallel_copy(dst, src, n, StoreMode::kCached); }

void parallel_copy(void* dst, const void* src, size_t n, StoreMode mode) {
  if (n == 0) return;  // an empty copy may come with null pointers, which memcpy must not see
  // Each chunk is one memcpy of 1 MiB, below the size where glibc itself streams, so the
  // streaming choice is made here for the whole refresh.
  using CopyFn = void (*)(void*, const void*, size_t);
  const CopyFn copy = mode == StoreMode::kStreaming
                          ? &copy_streaming
                          : static_cast<CopyFn>([](void* d, const void* s, size_t len) { std::memcpy(d, s, len); });
  constexpr size_t kChunk = size_t{1} << 20;
  if (n < 2 * kChunk || omp_get_max_threads() == 1) {
    copy(dst, src, n);
    return;
  }
  const long chunks = static_cast<long>((n + kChunk - 1) / kChunk);
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
#pragma omp parallel for schedule(static)
  for (long c = 0; c < chunks; ++c) {
    size_t begin = static_cast<size_t>(c) * kChunk;
    size_t len = begin + kChunk > n ? n - begin : kChunk;
    copy(d + begin, s + begin, len);
  }
}

}  // namespace lw::rt
