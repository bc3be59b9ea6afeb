#include "backends/cpu/conv_pd_cache.h"

#include <omp.h>

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/cpu/dnnl_util.h"

namespace lw::cpu {

namespace {

template <typename T>
void put(std::string& key, const T& value) {
  key.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

// The bytes that identify (desc, attr, thread count), or nullopt when attr holds something the
// key cannot spell out (then the caller asks oneDNN directly). Two keys are equal only if every
// field they were built from is: the structs copied whole are oneDNN's plain C descriptors,
// zero-filled before oneDNN sets their fields, so equal descriptors give equal bytes, and
// unequal ones can never compare equal.
std::optional<std::string> make_key(const dnnl::convolution_forward::desc& desc, const dnnl::primitive_attr& attr) {
  std::string key;
  key.reserve(sizeof(desc.data) + 256);
  put(key, desc.data);
  put(key, omp_get_max_threads());
  put(key, attr.get_scratchpad_mode());
  int mask = 0;
  std::vector<float> scales;
  attr.get_output_scales(mask, scales);
  put(key, mask);
  put(key, scales.size());
  for (float s : scales) put(key, s);
  const dnnl::post_ops po = attr.get_post_ops();
  const int n = po.len();
  put(key, n);
  for (int i = 0; i < n; ++i) {
    const dnnl::primitive::kind kind = po.kind(i);
    put(key, kind);
    switch (kind) {
      case dnnl::primitive::kind::sum: {
        float scale = 0;
        int32_t zero_point = 0;
        dnnl::memory::data_type dt{};
        po.get_params_sum(i, scale, zero_point, dt);
        put(key, scale);
        put(key, zero_point);
        put(key, dt);
        break;
      }
      case dnnl::primitive::kind::eltwise: {
        float scale = 0, alpha = 0, beta = 0;
        dnnl::algorithm alg{};
        po.get_params_eltwise(i, scale, alg, alpha, beta);
        put(key, scale);
        put(key, alg);
        put(key, alpha);
        put(key, beta);
        break;
      }
      case dnnl::primitive::kind::binary: {
        dnnl::algorithm alg{};
        dnnl::memory::desc operand;
        po.get_params_binary(i, alg, operand);
        put(key, alg);
        put(key, operand.data);
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return key;
}

// A cached answer: a descriptor, or the status oneDNN refused the question with.
struct Entry {
  std::optional<dnnl::convolution_forward::primitive_desc> pd;
  dnnl_status_t refused = dnnl_success;
};

class Cache {
 public:
  // The entry for key, or nullptr.
  std::shared_ptr<const Entry> find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) {
      ++misses_;
      return nullptr;
    }
    ++hits_;
    return it->second;
  }

  void insert(const std::string& key, std::shared_ptr<const Entry> entry) {
    std::lock_guard<std::mutex> lock(mu_);
    // Two threads may have created the same descriptor at once: the first one stays.
    if (!map_.emplace(key, std::move(entry)).second) return;
    order_.push_back(key);
    while (order_.size() > kConvPdCacheCapacity) {
      map_.erase(order_.front());
      order_.pop_front();
    }
  }

  ConvPdCacheStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return {hits_, misses_, map_.size()};
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Entry>> map_;  // guarded by mu_
  std::deque<std::string> order_;                                      // insertion order, guarded by mu_
  uint64_t hits_ = 0, misses_ = 0;                                     // guarded by mu_
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: kernels may be created while the process exits
  return *c;
}

dnnl::convolution_forward::primitive_desc clone(const dnnl::convolution_forward::primitive_desc& pd) {
  dnnl_primitive_desc_t copy = nullptr;
  dnnl::error::wrap_c_api(dnnl_primitive_desc_clone(&copy, pd.get()), "could not clone a primitive descriptor");
  return dnnl::convolution_forward::primitive_desc(copy);
}

[[noreturn]] void throw_refused(dnnl_status_t status) {
  throw dnnl::error(status, "could not create a primitive descriptor for a convolution forward propagation primitive");
}

}  // namespace

dnnl::convolution_forward::primitive_desc cached_conv_primitive_desc(const dnnl::convolution_forward::desc& desc,
                                                                     const dnnl::primitive_attr& attr) {
  std::optional<std::string> key = make_key(desc, attr);
  if (!key) return dnnl::convolution_forward::primitive_desc(desc, attr, dnnl_cpu_engine());
  if (std::shared_ptr<const Entry> hit = cache().find(*key)) {
    if (!hit->pd) throw_refused(hit->refused);
    return clone(*hit->pd);
  }
  auto entry = std::make_shared<Entry>();
  try {
    entry->pd = dnnl::convolution_forward::primitive_desc(desc, attr, dnnl_cpu_engine());
  } catch (const dnnl::error& e) {
    // "No implementation" and "invalid descriptor" are answers worth keeping; anything else
    // (out of memory) may not be the same next time.
    if (e.status != dnnl_unimplemented && e.status != dnnl_invalid_arguments) throw;
    entry->refused = e.status;
    cache().insert(*key, entry);
    throw;
  }
  cache().insert(*key, entry);
  return clone(*entry->pd);
}

ConvPdCacheStats conv_pd_cache_stats() { return cache().stats(); }

}  // namespace lw::cpu
