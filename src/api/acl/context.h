// Contexts behind aclrtContext: each device's default context (made by aclrtSetDevice) and the
// calling thread's current context. Thread-safe; "current" is per thread.
#pragma once

#include <cstdint>

#include "acl/acl_base.h"

namespace lw::acl {

// Creates device `device`'s default context if it has none and makes it current on this thread.
// The device must already be open in the runtime. Returns ACL_SUCCESS or the failure (text set).
aclError make_default_context_current(const char* fn, int32_t device);
// Counts down one aclrtSetDevice of `device`; at zero destroys its default context, if any.
void drop_default_context(int32_t device);
// Destroys every default context (aclFinalize).
void drop_all_default_contexts();

}  // namespace lw::acl
