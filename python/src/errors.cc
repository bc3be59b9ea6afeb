#include "errors.h"

#include <acl/acl_base.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace lw::python {

int acl_error_of(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return ACL_SUCCESS;
    case StatusCode::kInvalidArgument: return ACL_ERROR_INVALID_PARAM;
    case StatusCode::kNotInitialized: return ACL_ERROR_UNINITIALIZE;
    case StatusCode::kAlreadyInitialized: return ACL_ERROR_REPEAT_INITIALIZE;
    case StatusCode::kAlreadyFinalized: return ACL_ERROR_REPEAT_FINALIZE;
    case StatusCode::kInvalidFile: return ACL_ERROR_INVALID_FILE;
    case StatusCode::kParseFile: return ACL_ERROR_PARSE_FILE;
    case StatusCode::kParseModel: return ACL_ERROR_PARSE_MODEL;
    case StatusCode::kInvalidModelId: return ACL_ERROR_INVALID_MODEL_ID;
    case StatusCode::kInvalidBundleId: return ACL_ERROR_INVALID_BUNDLE_MODEL_ID;
    case StatusCode::kInputMismatch: return ACL_ERROR_MODEL_INPUT_NOT_MATCH;
    case StatusCode::kOutputMismatch: return ACL_ERROR_MODEL_OUTPUT_NOT_MATCH;
    case StatusCode::kOpNotFound: return ACL_ERROR_OP_NOT_FOUND;
    case StatusCode::kUnsupportedDtype: return ACL_ERROR_UNSUPPORTED_DATA_TYPE;
    case StatusCode::kOutOfMemory: return ACL_ERROR_BAD_ALLOC;
    case StatusCode::kInvalidDevice: return ACL_ERROR_INVALID_DEVICE;
    case StatusCode::kFeatureUnsupported: return ACL_ERROR_FEATURE_UNSUPPORTED;
    case StatusCode::kWriteFile: return ACL_ERROR_WRITE_FILE;
    case StatusCode::kInvalidHandle: return ACL_ERROR_INVALID_RESOURCE_HANDLE;
    case StatusCode::kInternal: return ACL_ERROR_INTERNAL_ERROR;
  }
  return ACL_ERROR_INTERNAL_ERROR;
}

void throw_if_error(const Status& status) {
  if (status.is_ok()) return;
  int code = acl_error_of(status.code());
  throw NativeError(code == ACL_SUCCESS ? ACL_ERROR_INTERNAL_ERROR : code, status.message());
}

void register_error_translator() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const NativeError& e) {
      py::object cls = py::module_::import("liveweight._errors").attr("Error");
      py::object error = cls(e.code(), std::string(e.what()));
      PyErr_SetObject(cls.ptr(), error.ptr());
    }
  });
}

}  // namespace lw::python
