// aclmdlDesc: a model's inputs and outputs as the runtime describes them.
#include <algorithm>
#include <cstring>
#include <string>

#include "acl/acl_mdl.h"
#include "api/acl/error_map.h"
#include "api/acl/handles.h"
#include "api/acl/output_dims_store.h"
#include "liveweight/str_cat.h"
#include "runtime/runtime.h"

using lw::acl::fail;
using lw::acl::guard;
using lw::acl::guard_value;

namespace {

enum class Side { kInput, kOutput };

const char* side_word(Side side) { return side == Side::kInput ? "input" : "output"; }

// The live description behind `desc` with its model info, or null after setting the text.
std::shared_ptr<aclmdlDesc> lookup(const char* fn, const aclmdlDesc* desc) {
  if (desc == nullptr) {
    fail(ACL_ERROR_INVALID_PARAM, fn, "modelDesc is NULL");
    return nullptr;
  }
  auto live = lw::acl::model_descs().find(desc);
  if (!live) {
    fail(ACL_ERROR_INVALID_PARAM, fn, "modelDesc is not a live model description (destroyed already, or never created)");
    return nullptr;
  }
  if (!live->info) {
    fail(ACL_ERROR_INVALID_PARAM, fn, "modelDesc describes no model yet (call aclmdlGetDesc first)");
    return nullptr;
  }
  return live;
}

const std::vector<lw::rt::TensorInfo>& tensors(const aclmdlDesc& desc, Side side) {
  return side == Side::kInput ? desc.info->inputs : desc.info->outputs;
}

// Tensor `index` of `side`, or null after setting the text.
const lw::rt::TensorInfo* tensor_at(const char* fn, const aclmdlDesc& desc, Side side, size_t index) {
  const auto& list = tensors(desc, side);
  if (index < list.size()) return &list[index];
  fail(ACL_ERROR_INVALID_PARAM, fn,
       lw::str_cat("index ", index, " out of range (model has ", list.size(), " ", side_word(side), list.size() == 1 ? ")" : "s)"));
  return nullptr;
}

aclError fill_io_dims(const char* fn, const std::string& name, const lw::Dims& dims, aclmdlIODims* out) {
  if (dims.size() > ACL_MAX_DIM_CNT)
    return fail(ACL_ERROR_STORAGE_OVER_LIMIT, fn,
                lw::str_cat("'", name, "' has rank ", dims.size(), ", more than aclmdlIODims holds (", ACL_MAX_DIM_CNT, ")"));
  size_t n = std::min(name.size(), static_cast<size_t>(ACL_MAX_TENSOR_NAME_LEN - 1));
  std::memcpy(out->name, name.data(), n);
  out->name[n] = '\0';
  out->dimCount = dims.size();
  for (size_t i = 0; i < dims.size(); ++i) out->dims[i] = dims[i];
  return ACL_SUCCESS;
}

aclError get_dims(const char* fn, const aclmdlDesc* modelDesc, Side side, size_t index, aclmdlIODims* dims,
                  bool current) {
  auto live = lookup(fn, modelDesc);
  if (!live) return ACL_ERROR_INVALID_PARAM;
  if (dims == nullptr) return fail(ACL_ERROR_INVALID_PARAM, fn, "dims is NULL");
  const lw::rt::TensorInfo* t = tensor_at(fn, *live, side, index);
  if (!t) return ACL_ERROR_INVALID_PARAM;
  if (current) {
    auto last = lw::acl::last_output_dims(live->model_id);
    if (last && index < last->size()) return fill_io_dims(fn, t->name, (*last)[index], dims);
  }
  return fill_io_dims(fn, t->name, t->dims, dims);
}

size_t get_size(const char* fn, aclmdlDesc* modelDesc, Side side, size_t index) {
  auto live = lookup(fn, modelDesc);
  if (!live) return 0;
  const lw::rt::TensorInfo* t = tensor_at(fn, *live, side, index);
  return t ? static_cast<size_t>(t->bytes) : 0;
}

const char* get_name(const char* fn, const aclmdlDesc* modelDesc, Side side, size_t index) {
  auto live = lookup(fn, modelDesc);
  if (!live) return nullptr;
  const lw::rt::TensorInfo* t = tensor_at(fn, *live, side, index);
  return t ? t->name.c_str() : nullptr;
}

aclFormat get_format(const char* fn, const aclmdlDesc* modelDesc, Side side, size_t index) {
  auto live = lookup(fn, modelDesc);
  if (!live) return ACL_FORMAT_UNDEFINED;
  const lw::rt::TensorInfo* t = tensor_at(fn, *live, side, index);
  return t ? static_cast<aclFormat>(t->format) : ACL_FORMAT_UNDEFINED;
}

aclDataType get_dtype(const char* fn, const aclmdlDesc* modelDesc, Side side, size_t index) {
  auto live = lookup(fn, modelDesc);
  if (!live) return ACL_DT_UNDEFINED;
  const lw::rt::TensorInfo* t = tensor_at(fn, *live, side, index);
  return t ? static_cast<aclDataType>(t->dtype) : ACL_DT_UNDEFINED;
}

aclError get_index(const char* fn, const aclmdlDesc* modelDesc, Side side, const char* name, size_t* index) {
  auto live = lookup(fn, modelDesc);
  if (!live) return ACL_ERROR_INVALID_PARAM;
  if (name == nullptr) return fail(ACL_ERROR_INVALID_PARAM, fn, "name is NULL");
  if (index == nullptr) return fail(ACL_ERROR_INVALID_PARAM, fn, "index is NULL");
  const auto& list = tensors(*live, side);
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].name == name) {
      *index = i;
      return ACL_SUCCESS;
    }
  }
  return fail(ACL_ERROR_INVALID_PARAM, fn, lw::str_cat("the model has no ", side_word(side), " named '", name, "'"));
}

}  // namespace

extern "C" {

ACL_FUNC_VISIBILITY aclmdlDesc* aclmdlCreateDesc(void) {
  return guard_value<aclmdlDesc*>("aclmdlCreateDesc", nullptr,
                                  [&]() -> aclmdlDesc* { return lw::acl::model_descs().add(std::make_shared<aclmdlDesc>()); });
}

ACL_FUNC_VISIBILITY aclError aclmdlDestroyDesc(aclmdlDesc* modelDesc) {
  static constexpr const char* kFn = "aclmdlDestroyDesc";
  return guard(kFn, [&]() -> aclError {
    if (modelDesc == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelDesc is NULL");
    if (!lw::acl::model_descs().remove(modelDesc))
      return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelDesc is not a live model description (destroyed already, or never created)");
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlGetDesc(aclmdlDesc* modelDesc, uint32_t modelId) {
  static constexpr const char* kFn = "aclmdlGetDesc";
  return guard(kFn, [&]() -> aclError {
    if (modelDesc == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelDesc is NULL");
    auto live = lw::acl::model_descs().find(modelDesc);
    if (!live) return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelDesc is not a live model description");
    auto info = lw::rt::Runtime::instance().model_info(modelId);
    if (!info) return lw::acl::fail_status(kFn, info.status());
    if (!*info) return fail(ACL_ERROR_INTERNAL_ERROR, kFn, lw::str_cat("the runtime returned no info for model ", modelId));
    live->history.push_back(*info);
    live->info = *info;
    live->model_id = modelId;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY size_t aclmdlGetNumInputs(aclmdlDesc* modelDesc) {
  static constexpr const char* kFn = "aclmdlGetNumInputs";
  return guard_value<size_t>(kFn, 0, [&]() -> size_t {
    auto live = lookup(kFn, modelDesc);
    return live ? live->info->inputs.size() : 0;
  });
}

ACL_FUNC_VISIBILITY size_t aclmdlGetNumOutputs(aclmdlDesc* modelDesc) {
  static constexpr const char* kFn = "aclmdlGetNumOutputs";
  return guard_value<size_t>(kFn, 0, [&]() -> size_t {
    auto live = lookup(kFn, modelDesc);
    return live ? live->info->outputs.size() : 0;
  });
}

ACL_FUNC_VISIBILITY size_t aclmdlGetInputSizeByIndex(aclmdlDesc* modelDesc, size_t index) {
  static constexpr const char* kFn = "aclmdlGetInputSizeByIndex";
  return guard_value<size_t>(kFn, 0, [&] { return get_size(kFn, modelDesc, Side::kInput, index); });
}

ACL_FUNC_VISIBILITY size_t aclmdlGetOutputSizeByIndex(aclmdlDesc* modelDesc, size_t index) {
  static constexpr const char* kFn = "aclmdlGetOutputSizeByIndex";
  return guard_value<size_t>(kFn, 0, [&] { return get_size(kFn, modelDesc, Side::kOutput, index); });
}

ACL_FUNC_VISIBILITY aclError aclmdlGetInputDims(const aclmdlDesc* modelDesc, size_t index, aclmdlIODims* dims) {
  static constexpr const char* kFn = "aclmdlGetInputDims";
  return guard(kFn, [&] { return get_dims(kFn, modelDesc, Side::kInput, index, dims, false); });
}

ACL_FUNC_VISIBILITY aclError aclmdlGetOutputDims(const aclmdlDesc* modelDesc, size_t index, aclmdlIODims* dims) {
  static constexpr const char* kFn = "aclmdlGetOutputDims";
  return guard(kFn, [&] { return get_dims(kFn, modelDesc, Side::kOutput, index, dims, false); });
}

ACL_FUNC_VISIBILITY aclError aclmdlGetCurOutputDims(const aclmdlDesc* modelDesc, size_t index, aclmdlIODims* dims) {
  static constexpr const char* kFn = "aclmdlGetCurOutputDims";
  return guard(kFn, [&] { return get_dims(kFn, modelDesc, Side::kOutput, index, dims, true); });
}

ACL_FUNC_VISIBILITY const char* aclmdlGetInputNameByIndex(const aclmdlDesc* modelDesc, size_t index) {
  static constexpr const char* kFn = "aclmdlGetInputNameByIndex";
  return guard_value<const char*>(kFn, nullptr, [&] { return get_name(kFn, modelDesc, Side::kInput, index); });
}

ACL_FUNC_VISIBILITY const char* aclmdlGetOutputNameByIndex(const aclmdlDesc* modelDesc, size_t index) {
  static constexpr const char* kFn = "aclmdlGetOutputNameByIndex";
  return guard_value<const char*>(kFn, nullptr, [&] { return get_name(kFn, modelDesc, Side::kOutput, index); });
}

ACL_FUNC_VISIBILITY aclFormat aclmdlGetInputFormat(const aclmdlDesc* modelDesc, size_t index) {
  static constexpr const char* kFn = "aclmdlGetInputFormat";
  return guard_value<aclFormat>(kFn, ACL_FORMAT_UNDEFINED, [&] { return get_format(kFn, modelDesc, Side::kInput, index); });
}

ACL_FUNC_VISIBILITY aclFormat aclmdlGetOutputFormat(const aclmdlDesc* modelDesc, size_t index) {
  static constexpr const char* kFn = "aclmdlGetOutputFormat";
  return guard_value<aclFormat>(kFn, ACL_FORMAT_UNDEFINED, [&] { return get_format(kFn, modelDesc, Side::kOutput, index); });
}

ACL_FUNC_VISIBILITY aclDataType aclmdlGetInputDataType(const aclmdlDesc* modelDesc, size_t index) {
  static constexpr const char* kFn = "aclmdlGetInputDataType";
  return guard_value<aclDataType>(kFn, ACL_DT_UNDEFINED, [&] { return get_dtype(kFn, modelDesc, Side::kInput, index); });
}

ACL_FUNC_VISIBILITY aclDataType aclmdlGetOutputDataType(const aclmdlDesc* modelDesc, size_t index) {
  static constexpr const char* kFn = "aclmdlGetOutputDataType";
  return guard_value<aclDataType>(kFn, ACL_DT_UNDEFINED, [&] { return get_dtype(kFn, modelDesc, Side::kOutput, index); });
}

ACL_FUNC_VISIBILITY aclError aclmdlGetInputIndexByName(const aclmdlDesc* modelDesc, const char* name, size_t* index) {
  static constexpr const char* kFn = "aclmdlGetInputIndexByName";
  return guard(kFn, [&] { return get_index(kFn, modelDesc, Side::kInput, name, index); });
}

ACL_FUNC_VISIBILITY aclError aclmdlGetOutputIndexByName(const aclmdlDesc* modelDesc, const char* name,
                                                        size_t* index) {
  static constexpr const char* kFn = "aclmdlGetOutputIndexByName";
  return guard(kFn, [&] { return get_index(kFn, modelDesc, Side::kOutput, name, index); });
}

}  // extern "C"
