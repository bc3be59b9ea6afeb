// liveweight.Error from lw::Status: the aclError code (mapped as the C API maps it) and the text.
#pragma once

#include <liveweight/status.h>

#include <stdexcept>
#include <string>

namespace lw::python {

// Thrown by the native bindings; translated into liveweight.Error(code, message).
class NativeError : public std::runtime_error {
 public:
  NativeError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// The aclError the C API returns for `code` (mirrors src/api/acl/error_map.cc, which the shared
// library does not export).
int acl_error_of(StatusCode code);

// Throws NativeError when `status` failed.
void throw_if_error(const Status& status);

// Installs the translator from NativeError to liveweight.Error (imported from liveweight._errors).
void register_error_translator();

}  // namespace lw::python
