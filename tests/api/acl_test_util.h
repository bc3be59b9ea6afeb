// Helpers for the C API tests: exact aclError plus the recent-error contract (a failure leaves a
// non-empty text naming the function, and reading it clears it).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "acl/acl.h"

namespace lw::test {

// Reads the recent error text: it must start with "<fn>: " and be followed by an empty text.
inline ::testing::AssertionResult error_text_named(const char* fn) {
  const char* raw = aclGetRecentErrMsg();
  if (raw == nullptr) return ::testing::AssertionFailure() << "aclGetRecentErrMsg returned NULL";
  std::string text = raw;
  const char* again = aclGetRecentErrMsg();
  if (again == nullptr || std::string(again) != "")
    return ::testing::AssertionFailure() << "the text was not cleared after reading: '" << (again ? again : "(null)") << "'";
  std::string prefix = std::string(fn) + ": ";
  if (text.size() <= prefix.size() || text.compare(0, prefix.size(), prefix) != 0)
    return ::testing::AssertionFailure() << "expected a text starting with '" << prefix << "' and more, got '" << text << "'";
  return ::testing::AssertionSuccess() << text;
}

inline void clear_error_text() { (void)aclGetRecentErrMsg(); }

// Brings the runtime to a known state: initialized or not.
inline void ensure_finalized() {
  (void)aclFinalize();
  clear_error_text();
}

}  // namespace lw::test

// `expr` must return `code` and leave an error text naming `fn`.
#define EXPECT_ACL_FAIL(expr, code, fn)                  \
  do {                                                   \
    ::lw::test::clear_error_text();                      \
    aclError acl_err_ = (expr);                          \
    EXPECT_EQ(acl_err_, (code)) << #expr;                \
    EXPECT_TRUE(::lw::test::error_text_named(fn)) << #expr; \
  } while (0)

// `expr` (a getter) must return `fallback` and leave an error text naming `fn`.
#define EXPECT_GETTER_FAIL(expr, fallback, fn)           \
  do {                                                   \
    ::lw::test::clear_error_text();                      \
    auto acl_val_ = (expr);                              \
    EXPECT_EQ(acl_val_, (fallback)) << #expr;            \
    EXPECT_TRUE(::lw::test::error_text_named(fn)) << #expr; \
  } while (0)

#define EXPECT_ACL_OK(expr) EXPECT_EQ((expr), ACL_SUCCESS) << #expr << ": " << aclGetRecentErrMsg()
#define ASSERT_ACL_OK(expr) ASSERT_EQ((expr), ACL_SUCCESS) << #expr << ": " << aclGetRecentErrMsg()
