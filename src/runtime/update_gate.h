// UpdateGate: the in-place update mode's reader/writer lock. Executions enter shared; an update
// enters exclusive, waiting for running executions to end. Writers have priority: once an update
// waits, new executions wait behind it (a steady stream of inferences cannot starve an update,
// which std::shared_mutex on glibc allows).
//
// Thread-safety: all methods may be called from any thread. Not copyable or movable.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace lw::rt {

class UpdateGate {
 public:
  UpdateGate() = default;
  UpdateGate(const UpdateGate&) = delete;
  UpdateGate& operator=(const UpdateGate&) = delete;

  void lock_shared() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !writer_ && writers_waiting_ == 0; });
    ++readers_;
  }
  void unlock_shared() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--readers_ == 0) cv_.notify_all();
  }
  void lock() {
    std::unique_lock<std::mutex> lock(mu_);
    ++writers_waiting_;
    cv_.wait(lock, [&] { return !writer_ && readers_ == 0; });
    --writers_waiting_;
    writer_ = true;
  }
  void unlock() {
    std::lock_guard<std::mutex> lock(mu_);
    writer_ = false;
    cv_.notify_all();
  }

  // For tests and diagnostics: executions inside the gate now, and whether an update holds it.
  uint32_t active_executions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return readers_;
  }
  bool update_active() const {
    std::lock_guard<std::mutex> lock(mu_);
    return writer_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint32_t readers_ = 0;
  uint32_t writers_waiting_ = 0;
  bool writer_ = false;
};

}  // namespace lw::rt
