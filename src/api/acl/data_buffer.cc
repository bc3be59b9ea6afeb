// aclDataBuffer: a {pointer, size} pair over caller memory, and aclDataTypeSize.
#include <cstdint>
#include <limits>
#include <memory>

#include "acl/acl_base.h"
#include "api/acl/error_map.h"
#include "api/acl/handles.h"
#include "liveweight/dtype.h"
#include "liveweight/str_cat.h"

using lw::acl::fail;
using lw::acl::guard;
using lw::acl::guard_value;

namespace {
// The live buffer behind a handle, or null with the error text set (NULL or not live).
std::shared_ptr<aclDataBuffer> live_buffer(const char* fn, const aclDataBuffer* handle) {
  if (handle == nullptr) {
    fail(ACL_ERROR_INVALID_PARAM, fn, "dataBuffer is NULL");
    return nullptr;
  }
  auto buffer = lw::acl::data_buffers().find(handle);
  if (!buffer) fail(ACL_ERROR_INVALID_PARAM, fn, "dataBuffer is not a live data buffer");
  return buffer;
}
}  // namespace

extern "C" {

ACL_FUNC_VISIBILITY aclDataBuffer* aclCreateDataBuffer(void* data, size_t size) {
  static constexpr const char* kFn = "aclCreateDataBuffer";
  return guard_value<aclDataBuffer*>(kFn, nullptr, [&]() -> aclDataBuffer* {
    if (data == nullptr && size != 0) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("data is NULL but size is ", size, " (use NULL with size 0)"));
      return nullptr;
    }
    auto buffer = std::make_shared<aclDataBuffer>();
    buffer->data = data;
    buffer->size = size;
    return lw::acl::data_buffers().add(std::move(buffer));
  });
}

ACL_FUNC_VISIBILITY aclError aclDestroyDataBuffer(const aclDataBuffer* dataBuffer) {
  static constexpr const char* kFn = "aclDestroyDataBuffer";
  return guard(kFn, [&]() -> aclError {
    if (dataBuffer == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "dataBuffer is NULL");
    if (!lw::acl::data_buffers().remove(dataBuffer))
      return fail(ACL_ERROR_INVALID_PARAM, kFn, "dataBuffer is not a live data buffer (destroyed already, or never created)");
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclUpdateDataBuffer(aclDataBuffer* dataBuffer, void* data, size_t size) {
  static constexpr const char* kFn = "aclUpdateDataBuffer";
  return guard(kFn, [&]() -> aclError {
    auto buffer = live_buffer(kFn, dataBuffer);
    if (!buffer) return ACL_ERROR_INVALID_PARAM;
    if (data == nullptr && size != 0)
      return fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("data is NULL but size is ", size));
    buffer->data = data;
    buffer->size = size;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY void* aclGetDataBufferAddr(const aclDataBuffer* dataBuffer) {
  static constexpr const char* kFn = "aclGetDataBufferAddr";
  return guard_value<void*>(kFn, nullptr, [&]() -> void* {
    auto buffer = live_buffer(kFn, dataBuffer);
    if (!buffer) return nullptr;
    return buffer->data;
  });
}

ACL_FUNC_VISIBILITY size_t aclGetDataBufferSizeV2(const aclDataBuffer* dataBuffer) {
  static constexpr const char* kFn = "aclGetDataBufferSizeV2";
  return guard_value<size_t>(kFn, 0, [&]() -> size_t {
    auto buffer = live_buffer(kFn, dataBuffer);
    if (!buffer) return 0;
    return buffer->size;
  });
}

ACL_FUNC_VISIBILITY uint32_t aclGetDataBufferSize(const aclDataBuffer* dataBuffer) {
  static constexpr const char* kFn = "aclGetDataBufferSize";
  return guard_value<uint32_t>(kFn, 0, [&]() -> uint32_t {
    auto buffer = live_buffer(kFn, dataBuffer);
    if (!buffer) return 0;
    if (buffer->size > std::numeric_limits<uint32_t>::max()) {
      fail(ACL_ERROR_INVALID_PARAM, kFn,
           lw::str_cat("size ", buffer->size, " does not fit in 32 bits; use aclGetDataBufferSizeV2"));
      return 0;
    }
    return static_cast<uint32_t>(buffer->size);
  });
}

ACL_FUNC_VISIBILITY size_t aclDataTypeSize(aclDataType dataType) {
  static constexpr const char* kFn = "aclDataTypeSize";
  return guard_value<size_t>(kFn, 0, [&]() -> size_t {
    int32_t raw = static_cast<int32_t>(dataType);
    if (dataType == ACL_DT_UNDEFINED || !lw::dtype_is_valid(raw)) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("data type ", raw, " has no size (not a sized aclDataType value)"));
      return 0;
    }
    return lw::dtype_size(static_cast<lw::DType>(raw));
  });
}

}  // extern "C"
