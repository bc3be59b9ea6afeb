// aclTensorDesc: dtype, format, dims and name of a tensor.
#include <cstdint>
#include <string>

#include "acl/acl_base.h"
#include "acl/acl_mdl.h"
#include "api/acl/error_map.h"
#include "api/acl/handles.h"
#include "core/shape.h"
#include "liveweight/dtype.h"
#include "liveweight/str_cat.h"

using lw::acl::fail;
using lw::acl::guard_value;

namespace {

constexpr aclFormat kKnownFormats[] = {
    ACL_FORMAT_UNDEFINED, ACL_FORMAT_NCHW,       ACL_FORMAT_NHWC,  ACL_FORMAT_ND,
    ACL_FORMAT_NC1HWC0,   ACL_FORMAT_FRACTAL_Z,  ACL_FORMAT_HWCN,  ACL_FORMAT_NDHWC,
    ACL_FORMAT_FRACTAL_NZ, ACL_FORMAT_NCDHW,     ACL_FORMAT_NC,    ACL_FORMAT_NCL,
};

bool format_is_known(aclFormat f) {
  for (aclFormat k : kKnownFormats)
    if (k == f) return true;
  return false;
}

// The live description behind `desc`, or null after setting the text.
std::shared_ptr<aclTensorDesc> lookup(const char* fn, const aclTensorDesc* desc) {
  if (desc == nullptr) {
    fail(ACL_ERROR_INVALID_PARAM, fn, "desc is NULL");
    return nullptr;
  }
  auto live = lw::acl::tensor_descs().find(desc);
  if (!live) fail(ACL_ERROR_INVALID_PARAM, fn, "desc is not a live tensor description (destroyed already, or never created)");
  return live;
}

}  // namespace

extern "C" {

ACL_FUNC_VISIBILITY aclTensorDesc* aclCreateTensorDesc(aclDataType dataType, int numDims, const int64_t* dims,
                                                       aclFormat format) {
  static constexpr const char* kFn = "aclCreateTensorDesc";
  return guard_value<aclTensorDesc*>(kFn, nullptr, [&]() -> aclTensorDesc* {
    int32_t raw_type = static_cast<int32_t>(dataType);
    if (dataType != ACL_DT_UNDEFINED && !lw::dtype_is_valid(raw_type)) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("dataType ", raw_type, " is not an aclDataType value"));
      return nullptr;
    }
    if (!format_is_known(format)) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("format ", static_cast<int>(format), " is not an aclFormat value"));
      return nullptr;
    }
    if (numDims < 0 || numDims > ACL_MAX_DIM_CNT) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("numDims ", numDims, " is outside [0, ", ACL_MAX_DIM_CNT, "]"));
      return nullptr;
    }
    if (numDims > 0 && dims == nullptr) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("dims is NULL but numDims is ", numDims));
      return nullptr;
    }
    auto desc = std::make_shared<aclTensorDesc>();
    desc->dtype = dataType;
    desc->format = format;
    desc->dims.assign(dims, dims + numDims);
    for (int i = 0; i < numDims; ++i) {
      bool unknown_rank_marker = dims[i] == -2 && numDims == 1;
      if (dims[i] < -1 && !unknown_rank_marker) {
        fail(ACL_ERROR_INVALID_PARAM, kFn,
             lw::str_cat("dims[", i, "] is ", dims[i], " (a dim is >= 0, -1 when dynamic, or a single -2 for an unknown rank)"));
        return nullptr;
      }
    }
    return lw::acl::tensor_descs().add(std::move(desc));
  });
}

ACL_FUNC_VISIBILITY void aclDestroyTensorDesc(const aclTensorDesc* desc) {
  static constexpr const char* kFn = "aclDestroyTensorDesc";
  guard_value<int>(kFn, 0, [&]() -> int {
    auto live = lookup(kFn, desc);
    if (!live) return 0;
    if (live->owned_by_dataset) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, "desc belongs to a dataset (from aclmdlGetDatasetTensorDesc); the dataset frees it");
      return 0;
    }
    lw::acl::tensor_descs().remove(desc);
    return 0;
  });
}

ACL_FUNC_VISIBILITY aclDataType aclGetTensorDescType(const aclTensorDesc* desc) {
  static constexpr const char* kFn = "aclGetTensorDescType";
  return guard_value<aclDataType>(kFn, ACL_DT_UNDEFINED, [&]() -> aclDataType {
    auto live = lookup(kFn, desc);
    return live ? live->dtype : ACL_DT_UNDEFINED;
  });
}

ACL_FUNC_VISIBILITY aclFormat aclGetTensorDescFormat(const aclTensorDesc* desc) {
  static constexpr const char* kFn = "aclGetTensorDescFormat";
  return guard_value<aclFormat>(kFn, ACL_FORMAT_UNDEFINED, [&]() -> aclFormat {
    auto live = lookup(kFn, desc);
    return live ? live->format : ACL_FORMAT_UNDEFINED;
  });
}

ACL_FUNC_VISIBILITY size_t aclGetTensorDescSize(const aclTensorDesc* desc) {
  static constexpr const char* kFn = "aclGetTensorDescSize";
  return guard_value<size_t>(kFn, 0, [&]() -> size_t {
    auto live = lookup(kFn, desc);
    if (!live) return 0;
    auto count = lw::element_count(live->dims);
    if (!count) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, count.status().message());
      return 0;
    }
    if (*count == 0) return 0;
    auto bytes = lw::byte_size(static_cast<lw::DType>(live->dtype), live->dims);
    if (!bytes) {
      fail(lw::acl::to_acl_error(bytes.status().code()), kFn, bytes.status().message());
      return 0;
    }
    return static_cast<size_t>(*bytes);
  });
}

ACL_FUNC_VISIBILITY size_t aclGetTensorDescElementCount(const aclTensorDesc* desc) {
  static constexpr const char* kFn = "aclGetTensorDescElementCount";
  return guard_value<size_t>(kFn, 0, [&]() -> size_t {
    auto live = lookup(kFn, desc);
    if (!live) return 0;
    auto count = lw::element_count(live->dims);
    if (!count) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, count.status().message());
      return 0;
    }
    return static_cast<size_t>(*count);
  });
}

ACL_FUNC_VISIBILITY size_t aclGetTensorDescNumDims(const aclTensorDesc* desc) {
  static constexpr const char* kFn = "aclGetTensorDescNumDims";
  return guard_value<size_t>(kFn, 0, [&]() -> size_t {
    auto live = lookup(kFn, desc);
    return live ? live->dims.size() : 0;
  });
}

ACL_FUNC_VISIBILITY aclError aclGetTensorDescDimV2(const aclTensorDesc* desc, size_t index, int64_t* dimSize) {
  static constexpr const char* kFn = "aclGetTensorDescDimV2";
  return lw::acl::guard(kFn, [&]() -> aclError {
    auto live = lookup(kFn, desc);
    if (!live) return ACL_ERROR_INVALID_PARAM;
    if (dimSize == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "dimSize is NULL");
    if (index >= live->dims.size())
      return fail(ACL_ERROR_INVALID_PARAM, kFn,
                  lw::str_cat("index ", index, " out of range (desc has ", live->dims.size(), " dims)"));
    *dimSize = live->dims[index];
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY int64_t aclGetTensorDescDim(const aclTensorDesc* desc, size_t index) {
  static constexpr const char* kFn = "aclGetTensorDescDim";
  return guard_value<int64_t>(kFn, -1, [&]() -> int64_t {
    auto live = lookup(kFn, desc);
    if (!live) return -1;
    if (index >= live->dims.size()) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, lw::str_cat("index ", index, " out of range (desc has ", live->dims.size(), " dims)"));
      return -1;
    }
    return live->dims[index];
  });
}

ACL_FUNC_VISIBILITY void aclSetTensorDescName(aclTensorDesc* desc, const char* name) {
  static constexpr const char* kFn = "aclSetTensorDescName";
  guard_value<int>(kFn, 0, [&]() -> int {
    auto live = lookup(kFn, desc);
    if (!live) return 0;
    if (name == nullptr) {
      fail(ACL_ERROR_INVALID_PARAM, kFn, "name is NULL");
      return 0;
    }
    live->name = name;
    return 0;
  });
}

ACL_FUNC_VISIBILITY const char* aclGetTensorDescName(aclTensorDesc* desc) {
  static constexpr const char* kFn = "aclGetTensorDescName";
  return guard_value<const char*>(kFn, nullptr, [&]() -> const char* {
    auto live = lookup(kFn, desc);
    return live ? live->name.c_str() : nullptr;
  });
}

}  // extern "C"
