// The C API's stream handles: each aclrtStream is a live lw::rt::Stream in a registry.
#pragma once

#include <memory>

#include "runtime/stream.h"

namespace lw::acl {

// The stream behind a handle, or null when it is not live. Thread-safe.
std::shared_ptr<rt::Stream> find_stream(const void* handle);

}  // namespace lw::acl
