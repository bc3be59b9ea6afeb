#include "liveweight/status.h"

namespace lw {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kNotInitialized: return "not initialized";
    case StatusCode::kAlreadyInitialized: return "already initialized";
    case StatusCode::kAlreadyFinalized: return "already finalized";
    case StatusCode::kInvalidFile: return "invalid file";
    case StatusCode::kParseFile: return "bad config file";
    case StatusCode::kParseModel: return "corrupt model";
    case StatusCode::kInvalidModelId: return "invalid model id";
    case StatusCode::kInvalidBundleId: return "invalid bundle id";
    case StatusCode::kInputMismatch: return "input mismatch";
    case StatusCode::kOutputMismatch: return "output mismatch";
    case StatusCode::kOpNotFound: return "operator not supported";
    case StatusCode::kUnsupportedDtype: return "data type not supported";
    case StatusCode::kOutOfMemory: return "out of memory";
    case StatusCode::kInvalidDevice: return "invalid device";
    case StatusCode::kFeatureUnsupported: return "feature not supported";
    case StatusCode::kWriteFile: return "write failed";
    case StatusCode::kInvalidHandle: return "invalid handle";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

}  // namespace lw
