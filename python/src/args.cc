#include "args.h"

#include <acl/acl.h>

#include <utility>

namespace lw::python {

namespace {
// Only the binding's own failures land here; the C layer keeps its own per-thread text.
thread_local std::string t_binding_error;
}  // namespace

void set_binding_error(std::string text) {
  (void)aclGetRecentErrMsg();  // an older C-layer text must not win over this newer one
  t_binding_error = std::move(text);
}

std::string take_recent_error_text() {
  std::string c_text = aclGetRecentErrMsg();
  std::string binding = std::move(t_binding_error);
  t_binding_error.clear();
  // set_binding_error cleared the C text, so a non-empty C text is the more recent one.
  return c_text.empty() ? binding : c_text;
}

void Args::bad(const char* name, const PyInt& v, const char* range) {
  if (!error_.empty()) return;
  error_ = std::string(func_) + ": " + name + " must be " + range + ", got ";
  if (v.overflow) {
    error_ += v.negative ? "a value below -2^63" : "a value of 2^64 or more";
  } else {
    error_ += v.negative ? "-" : "";
    error_ += std::to_string(v.magnitude);
  }
}

void* Args::ptr(const PyInt& v, const char* name) {
  if (v.negative || v.overflow) {
    bad(name, v, "an address (an int in [0, 2^64))");
    return nullptr;
  }
  return reinterpret_cast<void*>(static_cast<uintptr_t>(v.magnitude));
}

uint64_t Args::u64(const PyInt& v, const char* name, uint64_t max) {
  if (v.negative || v.overflow || v.magnitude > max) {
    bad(name, v, ("an int in [0, " + std::to_string(max) + "]").c_str());
    return 0;
  }
  return v.magnitude;
}

int64_t Args::i64(const PyInt& v, const char* name, int64_t min, int64_t max) {
  bool fits;
  if (v.overflow) {
    fits = false;
  } else if (v.negative) {
    fits = min < 0 && v.magnitude - 1 <= static_cast<uint64_t>(-(min + 1));
  } else {
    fits = max >= 0 && v.magnitude <= static_cast<uint64_t>(max);
  }
  if (!fits) {
    bad(name, v, ("an int in [" + std::to_string(min) + ", " + std::to_string(max) + "]").c_str());
    return 0;
  }
  return v.negative ? -static_cast<int64_t>(v.magnitude - 1) - 1 : static_cast<int64_t>(v.magnitude);
}

int Args::fail(int code) {
  set_binding_error(error_.empty() ? std::string(func_) + ": invalid argument" : error_);
  return code;
}

}  // namespace lw::python
