// Bundles: several graphs sharing weight variables, loaded and unloaded together.
#include <vector>

#include "acl/acl_mdl.h"
#include "api/acl/error_map.h"
#include "api/acl/output_dims_store.h"
#include "runtime/runtime.h"

using lw::acl::fail;
using lw::acl::fail_status;
using lw::acl::guard;

extern "C" {

ACL_FUNC_VISIBILITY aclError aclmdlBundleLoadFromFile(const char* modelPath, uint32_t* bundleId) {
  static constexpr const char* kFn = "aclmdlBundleLoadFromFile";
  return guard(kFn, [&]() -> aclError {
    if (modelPath == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelPath is NULL");
    if (bundleId == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "bundleId is NULL");
    auto id = lw::rt::Runtime::instance().load_bundle_from_file(modelPath);
    if (!id) return fail_status(kFn, id.status());
    *bundleId = *id;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlBundleLoadFromMem(const void* model, size_t modelSize, uint32_t* bundleId) {
  static constexpr const char* kFn = "aclmdlBundleLoadFromMem";
  return guard(kFn, [&]() -> aclError {
    if (model == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "model is NULL");
    if (modelSize == 0) return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelSize is 0");
    if (bundleId == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "bundleId is NULL");
    auto id = lw::rt::Runtime::instance().load_bundle_from_memory(model, modelSize);
    if (!id) return fail_status(kFn, id.status());
    *bundleId = *id;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlBundleGetModelNum(uint32_t bundleId, size_t* modelNum) {
  static constexpr const char* kFn = "aclmdlBundleGetModelNum";
  return guard(kFn, [&]() -> aclError {
    if (modelNum == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelNum is NULL");
    auto count = lw::rt::Runtime::instance().bundle_model_count(bundleId);
    if (!count) return fail_status(kFn, count.status());
    *modelNum = *count;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlBundleGetModelId(uint32_t bundleId, size_t index, uint32_t* modelId) {
  static constexpr const char* kFn = "aclmdlBundleGetModelId";
  return guard(kFn, [&]() -> aclError {
    if (modelId == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelId is NULL");
    auto id = lw::rt::Runtime::instance().bundle_model_id(bundleId, index);
    if (!id) return fail_status(kFn, id.status());
    *modelId = *id;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlBundleUnload(uint32_t bundleId) {
  static constexpr const char* kFn = "aclmdlBundleUnload";
  return guard(kFn, [&]() -> aclError {
    lw::rt::Runtime& runtime = lw::rt::Runtime::instance();
    std::vector<uint32_t> ids;
    if (auto count = runtime.bundle_model_count(bundleId)) {
      for (size_t i = 0; i < *count; ++i)
        if (auto id = runtime.bundle_model_id(bundleId, i)) ids.push_back(*id);
    }
    lw::Status st = runtime.unload_bundle(bundleId);
    if (!st.is_ok()) return fail_status(kFn, st);
    for (uint32_t id : ids) lw::acl::forget_output_dims(id);
    return ACL_SUCCESS;
  });
}

}  // extern "C"
