// Argument checking for the pyACL bindings.
//
// pyACL passes pointers, handles, sizes, ids and enum values as Python ints. A value that is not an
// int (a float, a str, None) is a type mistake and raises TypeError, as pybind11 does for any
// argument it cannot convert. An int that does not fit the C parameter (a negative size, a
// pointer past 2^64) is a bad value: the call returns the C function's failure (a non-zero ret or
// its fallback) and leaves a text for acl.get_recent_err_msg(), exactly as the C layer does for
// the bad values it sees itself.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

namespace lw::python {

// A Python int kept whole, so the range check can happen per parameter.
struct PyInt {
  bool negative = false;
  bool overflow = false;  // |value| >= 2^64
  uint64_t magnitude = 0;
};

// Records `text` as the calling thread's most recent error (replacing the C layer's text).
void set_binding_error(std::string text);
// The most recent error text of the calling thread (the binding's or the C layer's), then clears
// both, like aclGetRecentErrMsg.
std::string take_recent_error_text();

// Converts the arguments of one call; the first bad one is remembered and reported by fail().
class Args {
 public:
  explicit Args(const char* func) : func_(func) {}

  // An address or handle: 0 <= v < 2^64.
  void* ptr(const PyInt& v, const char* name);
  // An unsigned value up to `max`.
  uint64_t u64(const PyInt& v, const char* name, uint64_t max = UINT64_MAX);
  uint32_t u32(const PyInt& v, const char* name) { return static_cast<uint32_t>(u64(v, name, UINT32_MAX)); }
  size_t size(const PyInt& v, const char* name) { return static_cast<size_t>(u64(v, name, SIZE_MAX)); }
  // A signed value in [min, max].
  int64_t i64(const PyInt& v, const char* name, int64_t min = INT64_MIN, int64_t max = INT64_MAX);
  int32_t i32(const PyInt& v, const char* name) { return static_cast<int32_t>(i64(v, name, INT32_MIN, INT32_MAX)); }

  bool ok() const { return error_.empty(); }
  // Publishes the remembered problem as the recent error text and returns `code`.
  int fail(int code);

 private:
  void bad(const char* name, const PyInt& v, const char* range);

  const char* func_;
  std::string error_;
};

}  // namespace lw::python

namespace pybind11::detail {

// Accepts a Python int or anything with __index__ (numpy integers); everything else is a TypeError.
template <>
struct type_caster<lw::python::PyInt> {
  PYBIND11_TYPE_CASTER(lw::python::PyInt, const_name("int"));

  bool load(handle src, bool /*convert*/) {
    if (!src) return false;
    object number;
    if (PyLong_Check(src.ptr())) {
      number = reinterpret_borrow<object>(src);
    } else if (PyIndex_Check(src.ptr())) {
      number = reinterpret_steal<object>(PyNumber_Index(src.ptr()));
      if (!number) {
        PyErr_Clear();
        return false;
      }
    } else {
      return false;
    }
    value = {};
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(number.ptr(), &overflow);
    if (v == -1 && PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
    if (overflow == 0) {
      value.negative = v < 0;
      value.magnitude = v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
      return true;
    }
    if (overflow < 0) {
      value.negative = true;
      value.overflow = true;
      return true;
    }
    unsigned long long u = PyLong_AsUnsignedLongLong(number.ptr());
    if (PyErr_Occurred()) {
      PyErr_Clear();
      value.overflow = true;
      return true;
    }
    value.magnitude = u;
    return true;
  }

  static handle cast(const lw::python::PyInt& v, return_value_policy, handle) {
    if (v.negative) return PyLong_FromLongLong(-static_cast<long long>(v.magnitude - 1) - 1);
    return PyLong_FromUnsignedLongLong(v.magnitude);
  }
};

}  // namespace pybind11::detail
