// HandleRegistry<T>: the set of live objects of one handle kind. The C API hands out raw
// pointers; every call looks the pointer up here first, so a destroyed or foreign pointer is
// reported instead of dereferenced. The registry holds each object by shared_ptr and lookups
// return one, so an object stays alive for the rest of a call even if another thread destroys
// its handle meanwhile. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>

namespace lw::acl {

template <typename T>
class HandleRegistry {
 public:
  // Registers `object` and returns the raw handle for it.
  T* add(std::shared_ptr<T> object) {
    T* raw = object.get();
    std::lock_guard<std::mutex> lock(mu_);
    live_[raw] = std::move(object);
    return raw;
  }

  // The live object behind `handle`, or null.
  std::shared_ptr<T> find(const void* handle) const {
    if (handle == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(handle);
    return it == live_.end() ? nullptr : it->second;
  }

  // Unregisters `handle` and returns its object (null when it was not live).
  std::shared_ptr<T> remove(const void* handle) {
    if (handle == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(handle);
    if (it == live_.end()) return nullptr;
    std::shared_ptr<T> object = std::move(it->second);
    live_.erase(it);
    return object;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<const void*, std::shared_ptr<T>> live_;
};

}  // namespace lw::acl
