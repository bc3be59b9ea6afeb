// Contexts: handles bound to a device, a default one per device, and a current one per thread.
#include "api/acl/context.h"

#include <atomic>
#include <map>
#include <mutex>

#include "acl/acl_rt.h"
#include "api/acl/error_map.h"
#include "api/acl/handles.h"
#include "liveweight/str_cat.h"
#include "runtime/runtime.h"

namespace lw::acl {

namespace {

std::atomic<uint64_t> g_next_serial{1};

struct Defaults {
  std::mutex mu;
  std::map<int32_t, Context*> by_device;
  // aclrtSetDevice calls not yet matched by aclrtResetDevice; the default context goes at 0,
  // mirroring the runtime's own per-device count.
  std::map<int32_t, int64_t> set_count;
};

Defaults& defaults() {
  static Defaults d;
  return d;
}

// The thread's current context, remembered with its serial: the pointer alone could name a
// later context that happens to reuse the address of a destroyed one.
struct Current {
  Context* context = nullptr;
  uint64_t serial = 0;
};
thread_local Current t_current;

Context* new_context(int32_t device, bool is_default) {
  auto ctx = std::make_shared<Context>();
  ctx->device = device;
  ctx->is_default = is_default;
  ctx->serial = g_next_serial.fetch_add(1);
  return contexts().add(std::move(ctx));
}

void set_current(Context* ctx) { t_current = Current{ctx, ctx ? ctx->serial : 0}; }

}  // namespace

aclError make_default_context_current(const char* fn, int32_t device) {
  Context* ctx = nullptr;
  {
    Defaults& d = defaults();
    std::lock_guard<std::mutex> lock(d.mu);
    ++d.set_count[device];
    auto it = d.by_device.find(device);
    if (it != d.by_device.end()) {
      ctx = it->second;
    } else {
      ctx = new_context(device, true);
      try {
        d.by_device[device] = ctx;
      } catch (...) {
        contexts().remove(ctx);
        throw;
      }
    }
  }
  set_current(ctx);
  return ACL_SUCCESS;
}

void drop_default_context(int32_t device) {
  Defaults& d = defaults();
  std::lock_guard<std::mutex> lock(d.mu);
  auto count = d.set_count.find(device);
  if (count != d.set_count.end() && --count->second > 0) return;
  if (count != d.set_count.end()) d.set_count.erase(count);
  auto it = d.by_device.find(device);
  if (it == d.by_device.end()) return;
  contexts().remove(it->second);
  d.by_device.erase(it);
}

void drop_all_default_contexts() {
  Defaults& d = defaults();
  std::lock_guard<std::mutex> lock(d.mu);
  for (auto& [device, ctx] : d.by_device) contexts().remove(ctx);
  d.by_device.clear();
  d.set_count.clear();
}

}  // namespace lw::acl

using lw::acl::fail;
using lw::acl::guard;

extern "C" {

ACL_FUNC_VISIBILITY aclError aclrtCreateContext(aclrtContext* context, int32_t deviceId) {
  static constexpr const char* kFn = "aclrtCreateContext";
  return guard(kFn, [&]() -> aclError {
    if (context == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "context is NULL");
    lw::Status st = lw::rt::Runtime::instance().use_device(deviceId);
    if (!st.is_ok()) return lw::acl::fail_status(kFn, st);
    lw::acl::Context* ctx = lw::acl::new_context(deviceId, false);
    lw::acl::set_current(ctx);
    *context = ctx;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtDestroyContext(aclrtContext context) {
  static constexpr const char* kFn = "aclrtDestroyContext";
  return guard(kFn, [&]() -> aclError {
    if (context == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "context is NULL");
    auto live = lw::acl::contexts().find(context);
    if (!live) return fail(ACL_ERROR_INVALID_PARAM, kFn, "context is not a live context (destroyed already, or never created)");
    if (live->is_default)
      return fail(ACL_ERROR_INVALID_PARAM, kFn,
                  lw::str_cat("context is the default context of device ", live->device, "; aclrtResetDevice frees it"));
    lw::acl::contexts().remove(context);
    if (lw::acl::t_current.context == context) lw::acl::set_current(nullptr);
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtSetCurrentContext(aclrtContext context) {
  static constexpr const char* kFn = "aclrtSetCurrentContext";
  return guard(kFn, [&]() -> aclError {
    if (context == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "context is NULL");
    auto live = lw::acl::contexts().find(context);
    if (!live) return fail(ACL_ERROR_INVALID_PARAM, kFn, "context is not a live context (destroyed already, or never created)");
    lw::Status st = lw::rt::Runtime::instance().use_device(live->device);
    if (!st.is_ok()) return lw::acl::fail_status(kFn, st);
    lw::acl::set_current(live.get());
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclrtGetCurrentContext(aclrtContext* context) {
  static constexpr const char* kFn = "aclrtGetCurrentContext";
  return guard(kFn, [&]() -> aclError {
    if (context == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "context is NULL");
    lw::acl::Current cur = lw::acl::t_current;
    auto live = lw::acl::contexts().find(cur.context);
    if (!live || live->serial != cur.serial) {
      lw::acl::set_current(nullptr);
      return fail(ACL_ERROR_INVALID_RESOURCE_HANDLE, kFn,
                  "this thread has no current context (call aclrtSetDevice, aclrtCreateContext or aclrtSetCurrentContext)");
    }
    *context = live.get();
    return ACL_SUCCESS;
  });
}

}  // extern "C"
