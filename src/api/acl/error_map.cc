#include "api/acl/error_map.h"

#include <string>

#include "core/error_text.h"

namespace lw::acl {

namespace {

struct CodeMapping {
  StatusCode status;
  aclError acl;
};

constexpr CodeMapping kCodeTable[] = {
    {StatusCode::kOk, ACL_SUCCESS},
    {StatusCode::kInvalidArgument, ACL_ERROR_INVALID_PARAM},
    {StatusCode::kNotInitialized, ACL_ERROR_UNINITIALIZE},
    {StatusCode::kAlreadyInitialized, ACL_ERROR_REPEAT_INITIALIZE},
    {StatusCode::kAlreadyFinalized, ACL_ERROR_REPEAT_FINALIZE},
    {StatusCode::kInvalidFile, ACL_ERROR_INVALID_FILE},
    {StatusCode::kParseFile, ACL_ERROR_PARSE_FILE},
    {StatusCode::kParseModel, ACL_ERROR_PARSE_MODEL},
    {StatusCode::kInvalidModelId, ACL_ERROR_INVALID_MODEL_ID},
    {StatusCode::kInvalidBundleId, ACL_ERROR_INVALID_BUNDLE_MODEL_ID},
    {StatusCode::kInputMismatch, ACL_ERROR_MODEL_INPUT_NOT_MATCH},
    {StatusCode::kOutputMismatch, ACL_ERROR_MODEL_OUTPUT_NOT_MATCH},
    {StatusCode::kOpNotFound, ACL_ERROR_OP_NOT_FOUND},
    {StatusCode::kUnsupportedDtype, ACL_ERROR_UNSUPPORTED_DATA_TYPE},
    {StatusCode::kOutOfMemory, ACL_ERROR_BAD_ALLOC},
    {StatusCode::kInvalidDevice, ACL_ERROR_INVALID_DEVICE},
    {StatusCode::kFeatureUnsupported, ACL_ERROR_FEATURE_UNSUPPORTED},
    {StatusCode::kWriteFile, ACL_ERROR_WRITE_FILE},
    {StatusCode::kInvalidHandle, ACL_ERROR_INVALID_RESOURCE_HANDLE},
    {StatusCode::kInternal, ACL_ERROR_INTERNAL_ERROR},
};

// Per thread, so the pointer aclGetRecentErrMsg hands out is not disturbed by other threads.
thread_local std::string t_message_buffer;

}  // namespace

aclError to_acl_error(StatusCode code) {
  for (const CodeMapping& m : kCodeTable)
    if (m.status == code) return m.acl;
  return ACL_ERROR_INTERNAL_ERROR;
}

aclError fail(aclError code, const char* func, std::string_view message) noexcept {
  try {
    std::string text(func ? func : "acl");
    text += ": ";
    text.append(message.data(), message.size());
    set_recent_error(std::move(text));
  } catch (...) {
    // No memory for the text: the code still reaches the caller.
  }
  return code;
}

aclError fail_status(const char* func, const Status& status) noexcept {
  aclError code = to_acl_error(status.code());
  if (code == ACL_SUCCESS) code = ACL_ERROR_INTERNAL_ERROR;  // a failure path given an ok Status
  return fail(code, func, status.message());
}

}  // namespace lw::acl

extern "C" ACL_FUNC_VISIBILITY const char* aclGetRecentErrMsg(void) {
  try {
    lw::acl::t_message_buffer = lw::take_recent_error();
  } catch (...) {
    lw::acl::t_message_buffer.clear();
  }
  return lw::acl::t_message_buffer.c_str();
}
