// Streams: aclrtCreateStream, aclrtDestroyStream, aclrtSynchronizeStream, aclrtMemcpyAsync.
#include "api/acl/stream.h"

#include <cstring>

#include "acl/acl_rt.h"
#include "api/acl/error_map.h"
#include "api/acl/handle_registry.h"
#include "api/acl/memory.h"
#include "backends/cuda/device.h"
#include "runtime/runtime.h"

using lw::acl::fail;
using lw::acl::fail_status;
using lw::acl::guard;

namespace lw::acl {

namespace {
HandleRegistry<rt::Stream>& streams() {
  static auto* registry = new HandleRegistry<rt::Stream>();  // never destroyed
  return *registry;
}
}  // namespace

std::shared_ptr<rt::Stream> find_stream(const void* handle) { return streams().find(handle); }

}  // namespace lw::acl

extern "C" {

ACL_FUNC_VISIBILITY aclError aclrtCreateStream(aclrtStream* stream) {
  static constexpr const char* kFn = "aclrtCreateStream";
  return guard(kFn, [&]() -> aclError {
    if (stream == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "stream is NULL");
    if (!lw::rt::Runtime::instance().initialized())
      return fail(ACL_ERROR_UNINITIALIZE, kFn, "liveweight is not initialized: call aclInit first");
    *stream = lw::acl::streams().add(std::make_shared<lw::rt::Stream>());
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtDestroyStream(aclrtStream stream) {
  static constexpr const char* kFn = "aclrtDestroyStream";
  return guard(kFn, [&]() -> aclError {
    if (stream == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "stream is NULL (the default stream cannot be destroyed)");
    std::shared_ptr<lw::rt::Stream> s = lw::acl::streams().remove(stream);
    if (!s) return fail(ACL_ERROR_INVALID_PARAM, kFn, "stream is not a live stream (destroyed, or never created)");
    // Queued work finishes; its failures are dropped with the stream, as nobody can ask for them.
    (void)s->synchronize();
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtSynchronizeStream(aclrtStream stream) {
  static constexpr const char* kFn = "aclrtSynchronizeStream";
  return guard(kFn, [&]() -> aclError {
    if (stream == nullptr) return ACL_SUCCESS;  // the default stream runs work synchronously
    std::shared_ptr<lw::rt::Stream> s = lw::acl::find_stream(stream);
    if (!s) return fail(ACL_ERROR_INVALID_PARAM, kFn, "stream is not a live stream (destroyed, or never created)");
    lw::Status st = s->synchronize();
    return st.is_ok() ? ACL_SUCCESS : fail_status(kFn, st);
  });
}

ACL_FUNC_VISIBILITY aclError aclrtMemcpyAsync(void* dst, size_t destMax, const void* src, size_t count,
                                              aclrtMemcpyKind kind, aclrtStream stream) {
  static constexpr const char* kFn = "aclrtMemcpyAsync";
  return guard(kFn, [&]() -> aclError {
    std::shared_ptr<lw::rt::Stream> s;
    if (stream != nullptr) {
      s = lw::acl::find_stream(stream);
      if (!s) return fail(ACL_ERROR_INVALID_PARAM, kFn, "stream is not a live stream (destroyed, or never created)");
    }
    aclError err = lw::acl::check_memcpy(kFn, dst, destMax, src, count, kind);
    if (err != ACL_SUCCESS) return err;
    if (count == 0 || dst == src) return ACL_SUCCESS;
    // CUDA memory: the stream's worker makes the copy with CUDA, in order with its other work.
    const bool cuda = lw::acl::involves_cuda(dst, src, count);
    if (!s) {
      if (cuda) {
        lw::Status st = lw::cuda::copy(dst, src, count);
        return st.is_ok() ? ACL_SUCCESS : fail_status(kFn, st);
      }
      std::memmove(dst, src, count);
      return ACL_SUCCESS;
    }
    s->submit([dst, src, count, cuda]() {
      if (cuda) return lw::cuda::copy(dst, src, count);
      std::memmove(dst, src, count);
      return lw::Status::ok();
    });
    return ACL_SUCCESS;
  });
}

}  // extern "C"
