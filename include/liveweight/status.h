// Status and Result<T>: how every layer below the public edges reports failure.
// No exceptions cross layer boundaries; each edge (C API, Python) converts a Status once.
#pragma once

#include <cstdint>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace lw {

// Error kinds. The C API maps each to one aclError (src/api/acl/error_map.cc).
enum class StatusCode : int32_t {
  kOk = 0,
  kInvalidArgument,    // a caller's argument is wrong (NULL, range, size, shape)
  kNotInitialized,     // runtime used before init
  kAlreadyInitialized, // second init
  kAlreadyFinalized,   // finalize without init
  kInvalidFile,        // file missing, unreadable or not ours
  kParseFile,          // a config file is not valid
  kParseModel,         // a model or bundle file is corrupt or inconsistent
  kInvalidModelId,     // unknown model id
  kInvalidBundleId,    // unknown bundle id
  kInputMismatch,      // model input count/size/shape does not match
  kOutputMismatch,     // model output count/size does not match
  kOpNotFound,         // an operator is not supported
  kUnsupportedDtype,   // a data type is not supported
  kOutOfMemory,        // an allocation failed
  kInvalidDevice,      // device id or backend not available
  kFeatureUnsupported, // valid request this build does not do
  kWriteFile,          // writing a file failed
  kInvalidHandle,      // a handle that was destroyed or never existed
  kInternal,           // a bug in liveweight
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with context, e.g. "node 'conv1': " + message.
  Status with_context(const std::string& context) const {
    if (is_ok()) return *this;
    return Status(code_, context + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Holds either a T or a failed Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : status_(), has_value_(true) { new (&storage_) T(std::move(value)); }  // NOLINT
  Result(Status status) : status_(std::move(status)), has_value_(false) {                  // NOLINT
    if (status_.is_ok()) status_ = Status(StatusCode::kInternal, "Result built from an ok Status");
  }
  Result(const Result& other) : status_(other.status_), has_value_(other.has_value_) {
    if (has_value_) new (&storage_) T(other.value());
  }
  Result(Result&& other) noexcept : status_(std::move(other.status_)), has_value_(other.has_value_) {
    if (has_value_) new (&storage_) T(std::move(other.value()));
  }
  Result& operator=(Result other) noexcept {
    reset();
    status_ = std::move(other.status_);
    has_value_ = other.has_value_;
    if (has_value_) new (&storage_) T(std::move(other.value()));
    return *this;
  }
  ~Result() { reset(); }

  bool is_ok() const { return has_value_; }
  explicit operator bool() const { return has_value_; }
  const Status& status() const { return status_; }

  T& value() & { return *std::launder(reinterpret_cast<T*>(&storage_)); }
  const T& value() const& { return *std::launder(reinterpret_cast<const T*>(&storage_)); }
  T&& value() && { return std::move(*std::launder(reinterpret_cast<T*>(&storage_))); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void reset() {
    if (has_value_) value().~T();
    has_value_ = false;
  }
  Status status_;
  bool has_value_;
  alignas(T) unsigned char storage_[sizeof(T)];
};

// Builds a Status from streamed parts: make_error(StatusCode::kX, "node '", name, "' bad").
template <typename... Parts>
Status make_error(StatusCode code, const Parts&... parts);

}  // namespace lw

#include "liveweight/str_cat.h"

namespace lw {
template <typename... Parts>
Status make_error(StatusCode code, const Parts&... parts) {
  return Status(code, str_cat(parts...));
}
}  // namespace lw

#define LW_CONCAT_INNER(a, b) a##b
#define LW_CONCAT(a, b) LW_CONCAT_INNER(a, b)

// Returns from the enclosing function when `expr` (a Status) failed.
#define LW_RETURN_IF_ERROR(expr)                    \
  do {                                              \
    ::lw::Status lw_status_ = (expr);               \
    if (!lw_status_.is_ok()) return lw_status_;     \
  } while (0)

// `LW_ASSIGN_OR_RETURN(auto x, make_x());` unwraps a Result or returns its Status.
#define LW_ASSIGN_OR_RETURN(lhs, expr) LW_ASSIGN_OR_RETURN_IMPL(LW_CONCAT(lw_result_, __LINE__), lhs, expr)
#define LW_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.is_ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
