// Process init/finalize and devices.
#include "acl/acl.h"
#include "api/acl/context.h"
#include "api/acl/error_map.h"
#include "api/acl/output_dims_store.h"
#include "runtime/runtime.h"

using lw::acl::fail;
using lw::acl::fail_status;
using lw::acl::guard;

extern "C" {

ACL_FUNC_VISIBILITY aclError aclInit(const char* configPath) {
  static constexpr const char* kFn = "aclInit";
  return guard(kFn, [&]() -> aclError {
    lw::Status st = lw::rt::Runtime::instance().init(configPath);
    if (!st.is_ok()) return fail_status(kFn, st);
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclFinalize(void) {
  static constexpr const char* kFn = "aclFinalize";
  return guard(kFn, [&]() -> aclError {
    lw::Status st = lw::rt::Runtime::instance().finalize();
    if (!st.is_ok()) return fail_status(kFn, st);
    lw::acl::drop_all_default_contexts();
    lw::acl::forget_all_output_dims();
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtSetDevice(int32_t deviceId) {
  static constexpr const char* kFn = "aclrtSetDevice";
  return guard(kFn, [&]() -> aclError {
    lw::Status st = lw::rt::Runtime::instance().set_device(deviceId);
    if (!st.is_ok()) return fail_status(kFn, st);
    return lw::acl::make_default_context_current(kFn, deviceId);
  });
}

ACL_FUNC_VISIBILITY aclError aclrtResetDevice(int32_t deviceId) {
  static constexpr const char* kFn = "aclrtResetDevice";
  return guard(kFn, [&]() -> aclError {
    lw::Status st = lw::rt::Runtime::instance().reset_device(deviceId);
    if (!st.is_ok()) return fail_status(kFn, st);
    lw::acl::drop_default_context(deviceId);
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtGetDevice(int32_t* deviceId) {
  static constexpr const char* kFn = "aclrtGetDevice";
  return guard(kFn, [&]() -> aclError {
    if (deviceId == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "deviceId is NULL");
    auto device = lw::rt::Runtime::instance().current_device();
    if (!device) return fail_status(kFn, device.status());
    *deviceId = *device;
    return ACL_SUCCESS;
  });
}

// ACL_HOST: on the CPU backend the program and the "device" share one process, but the C API
// still keeps device memory (aclrtMalloc) apart from host memory and checks copy kinds against
// it, so programs must behave as host-side AscendCL programs do: allocate inputs on the device
// and move them with the HOST_TO_DEVICE / DEVICE_TO_HOST kinds. ACL_DEVICE would tell them they
// may skip those copies, which the checks would then refuse.
ACL_FUNC_VISIBILITY aclError aclrtGetRunMode(aclrtRunMode* runMode) {
  static constexpr const char* kFn = "aclrtGetRunMode";
  return guard(kFn, [&]() -> aclError {
    if (runMode == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "runMode is NULL");
    *runMode = ACL_HOST;
    return ACL_SUCCESS;
  });
}

}  // extern "C"
