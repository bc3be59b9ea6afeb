// The C API's error edge: StatusCode -> aclError, the recent-error text, and the guards that keep
// C++ exceptions from crossing into C callers. Every function here is thread-safe (the text is
// per thread).
#pragma once

#include <new>
#include <stdexcept>
#include <string_view>

#include "acl/acl_base.h"
#include "liveweight/status.h"

namespace lw::acl {

// The one table mapping internal codes to aclError; ACL_ERROR_INTERNAL_ERROR for unknown values.
aclError to_acl_error(StatusCode code);

// Sets this thread's recent error text to "<func>: <message>" and returns `code`. Never throws:
// when even the text cannot be allocated, the previous text is left as it was.
aclError fail(aclError code, const char* func, std::string_view message) noexcept;

// fail() with the status's mapped code and its message.
aclError fail_status(const char* func, const Status& status) noexcept;

// Runs `body` (returning aclError), turning any exception into ACL_ERROR_BAD_ALLOC or
// ACL_ERROR_INTERNAL_ERROR with a text.
template <typename F>
aclError guard(const char* func, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(ACL_ERROR_BAD_ALLOC, func, "out of memory");
  } catch (const std::exception& e) {
    return fail(ACL_ERROR_INTERNAL_ERROR, func, e.what());
  } catch (...) {
    return fail(ACL_ERROR_INTERNAL_ERROR, func, "internal error: unknown exception");
  }
}

// Same for functions that cannot return an aclError: the exception's text is set and `fallback`
// returned.
template <typename T, typename F>
T guard_value(const char* func, T fallback, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    fail(ACL_ERROR_BAD_ALLOC, func, "out of memory");
  } catch (const std::exception& e) {
    fail(ACL_ERROR_INTERNAL_ERROR, func, e.what());
  } catch (...) {
    fail(ACL_ERROR_INTERNAL_ERROR, func, "internal error: unknown exception");
  }
  return fallback;
}

}  // namespace lw::acl
