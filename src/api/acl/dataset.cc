// aclmdlDataset: the ordered {buffer, optional description} slots a model reads and writes.
#include "acl/acl_mdl.h"
#include "api/acl/error_map.h"
#include "api/acl/handles.h"
#include "liveweight/str_cat.h"

using lw::acl::fail;
using lw::acl::guard;
using lw::acl::guard_value;

namespace {

std::shared_ptr<aclmdlDataset> lookup(const char* fn, const aclmdlDataset* dataset) {
  if (dataset == nullptr) {
    fail(ACL_ERROR_INVALID_PARAM, fn, "dataset is NULL");
    return nullptr;
  }
  auto live = lw::acl::datasets().find(dataset);
  if (!live) fail(ACL_ERROR_INVALID_PARAM, fn, "dataset is not a live dataset (destroyed already, or never created)");
  return live;
}

std::string out_of_range(size_t index, size_t count) {
  return lw::str_cat("index ", index, " out of range (dataset has ", count, count == 1 ? " buffer)" : " buffers)");
}

}  // namespace

extern "C" {

ACL_FUNC_VISIBILITY aclmdlDataset* aclmdlCreateDataset(void) {
  return guard_value<aclmdlDataset*>("aclmdlCreateDataset", nullptr, [&]() -> aclmdlDataset* {
    return lw::acl::datasets().add(std::make_shared<aclmdlDataset>());
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlDestroyDataset(const aclmdlDataset* dataset) {
  static constexpr const char* kFn = "aclmdlDestroyDataset";
  return guard(kFn, [&]() -> aclError {
    if (dataset == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "dataset is NULL");
    auto live = lw::acl::datasets().remove(dataset);
    if (!live) return fail(ACL_ERROR_INVALID_PARAM, kFn, "dataset is not a live dataset (destroyed already, or never created)");
    for (auto& slot : live->slots) lw::acl::release_owned_desc(slot.desc);
    live->slots.clear();
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlAddDatasetBuffer(aclmdlDataset* dataset, aclDataBuffer* dataBuffer) {
  static constexpr const char* kFn = "aclmdlAddDatasetBuffer";
  return guard(kFn, [&]() -> aclError {
    auto live = lookup(kFn, dataset);
    if (!live) return ACL_ERROR_INVALID_PARAM;
    if (dataBuffer == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "dataBuffer is NULL");
    if (!lw::acl::data_buffers().find(dataBuffer))
      return fail(ACL_ERROR_INVALID_PARAM, kFn, "dataBuffer is not a live data buffer");
    aclmdlDataset::Slot slot;
    slot.buffer = dataBuffer;
    live->slots.push_back(slot);
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY size_t aclmdlGetDatasetNumBuffers(const aclmdlDataset* dataset) {
  static constexpr const char* kFn = "aclmdlGetDatasetNumBuffers";
  return guard_value<size_t>(kFn, 0, [&]() -> size_t {
    auto live = lookup(kFn, dataset);
    return live ? live->slots.size() : 0;
  });
}

ACL_FUNC_VISIBILITY aclDataBuffer* aclmdlGetDatasetBuffer(const aclmdlDataset* dataset, size_t index) {
  static constexpr const char* kFn = "aclmdlGetDatasetBuffer";
  return guard_value<aclDataBuffer*>(kFn, nullptr, [&]() -> aclDataBuffer* {
    auto live = lookup(kFn, dataset);
    if (!live) return nullptr;
    if (index >= live->slots.size()) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, out_of_range(index, live->slots.size()));
      return nullptr;
    }
    aclDataBuffer* buffer = live->slots[index].buffer;
    if (!lw::acl::data_buffers().find(buffer)) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("the buffer at index ", index, " was destroyed after it was added"));
      return nullptr;
    }
    return buffer;
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlSetDatasetTensorDesc(aclmdlDataset* dataset, aclTensorDesc* tensorDesc,
                                                        size_t index) {
  static constexpr const char* kFn = "aclmdlSetDatasetTensorDesc";
  return guard(kFn, [&]() -> aclError {
    auto live = lookup(kFn, dataset);
    if (!live) return ACL_ERROR_INVALID_PARAM;
    if (index >= live->slots.size())
      return fail(ACL_ERROR_INVALID_PARAM, kFn,
                  out_of_range(index, live->slots.size()) + ": add a buffer at that index before its description");
    aclTensorDesc* copy = nullptr;
    if (tensorDesc != nullptr) {
      auto src = lw::acl::tensor_descs().find(tensorDesc);
      if (!src) return fail(ACL_ERROR_INVALID_PARAM, kFn, "tensorDesc is not a live tensor description");
      // Copy before releasing the old one: the caller may pass back the slot's own description.
      copy = lw::acl::new_owned_desc_copy(*src);
    }
    auto& slot = live->slots[index];
    lw::acl::release_owned_desc(slot.desc);
    slot.desc = copy;
    slot.desc_from_execute = false;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclTensorDesc* aclmdlGetDatasetTensorDesc(const aclmdlDataset* dataset, size_t index) {
  static constexpr const char* kFn = "aclmdlGetDatasetTensorDesc";
  return guard_value<aclTensorDesc*>(kFn, nullptr, [&]() -> aclTensorDesc* {
    auto live = lookup(kFn, dataset);
    if (!live) return nullptr;
    if (index >= live->slots.size()) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, out_of_range(index, live->slots.size()));
      return nullptr;
    }
    return live->slots[index].desc;
  });
}

}  // extern "C"
