#include "api/acl/output_dims_store.h"

#include <map>
#include <mutex>

namespace lw::acl {

namespace {

struct Store {
  std::mutex mu;
  std::map<uint32_t, std::vector<Dims>> by_model;
};

Store& store() {
  static Store s;
  return s;
}

}  // namespace

void record_output_dims(uint32_t model_id, const std::vector<Dims>& dims) {
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mu);
  // Copy-assigned over the previous record, reusing its storage when the shapes repeat.
  s.by_model[model_id] = dims;
}

std::optional<std::vector<Dims>> last_output_dims(uint32_t model_id) {
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.by_model.find(model_id);
  if (it == s.by_model.end()) return std::nullopt;
  return it->second;
}

void forget_output_dims(uint32_t model_id) {
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mu);
  s.by_model.erase(model_id);
}

void forget_all_output_dims() {
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mu);
  s.by_model.clear();
}

}  // namespace lw::acl
