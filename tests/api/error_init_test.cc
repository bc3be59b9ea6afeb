// aclGetRecentErrMsg, the StatusCode -> aclError table, aclInit / aclFinalize, and calls made
// before aclInit.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "acl/acl.h"
#include "api/acl/error_map.h"
#include "api/acl_test_util.h"
#include "support/test_support.h"

namespace {

using lw::StatusCode;
using lw::acl::to_acl_error;

TEST(AclErrorMap, EveryStatusCodeHasItsAclError) {
  EXPECT_EQ(to_acl_error(StatusCode::kOk), ACL_SUCCESS);
  EXPECT_EQ(to_acl_error(StatusCode::kInvalidArgument), ACL_ERROR_INVALID_PARAM);
  EXPECT_EQ(to_acl_error(StatusCode::kInvalidFile), ACL_ERROR_INVALID_FILE);
  EXPECT_EQ(to_acl_error(StatusCode::kParseFile), ACL_ERROR_PARSE_FILE);
  EXPECT_EQ(to_acl_error(StatusCode::kParseModel), ACL_ERROR_PARSE_MODEL);
  EXPECT_EQ(to_acl_error(StatusCode::kInvalidModelId), ACL_ERROR_INVALID_MODEL_ID);
  EXPECT_EQ(to_acl_error(StatusCode::kInvalidBundleId), ACL_ERROR_INVALID_BUNDLE_MODEL_ID);
  EXPECT_EQ(ACL_ERROR_INVALID_BUNDLE_MODEL_ID, 148053);
  EXPECT_EQ(to_acl_error(StatusCode::kNotInitialized), ACL_ERROR_UNINITIALIZE);
  EXPECT_EQ(to_acl_error(StatusCode::kAlreadyInitialized), ACL_ERROR_REPEAT_INITIALIZE);
  EXPECT_EQ(to_acl_error(StatusCode::kAlreadyFinalized), ACL_ERROR_REPEAT_FINALIZE);
  EXPECT_EQ(to_acl_error(StatusCode::kInputMismatch), ACL_ERROR_MODEL_INPUT_NOT_MATCH);
  EXPECT_EQ(to_acl_error(StatusCode::kOutputMismatch), ACL_ERROR_MODEL_OUTPUT_NOT_MATCH);
  EXPECT_EQ(to_acl_error(StatusCode::kOpNotFound), ACL_ERROR_OP_NOT_FOUND);
  EXPECT_EQ(to_acl_error(StatusCode::kUnsupportedDtype), ACL_ERROR_UNSUPPORTED_DATA_TYPE);
  EXPECT_EQ(to_acl_error(StatusCode::kOutOfMemory), ACL_ERROR_BAD_ALLOC);
  EXPECT_EQ(to_acl_error(StatusCode::kInvalidDevice), ACL_ERROR_INVALID_DEVICE);
  EXPECT_EQ(to_acl_error(StatusCode::kFeatureUnsupported), ACL_ERROR_FEATURE_UNSUPPORTED);
  EXPECT_EQ(to_acl_error(StatusCode::kWriteFile), ACL_ERROR_WRITE_FILE);
  EXPECT_EQ(to_acl_error(StatusCode::kInvalidHandle), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_EQ(to_acl_error(StatusCode::kInternal), ACL_ERROR_INTERNAL_ERROR);
  EXPECT_EQ(to_acl_error(static_cast<StatusCode>(9999)), ACL_ERROR_INTERNAL_ERROR);
}

TEST(AclErrorMap, ErrorCodeValuesMatchAscendCl) {
  EXPECT_EQ(ACL_ERROR_NONE, 0);
  EXPECT_EQ(ACL_ERROR_INVALID_PARAM, 100000);
  EXPECT_EQ(ACL_ERROR_UNINITIALIZE, 100001);
  EXPECT_EQ(ACL_ERROR_REPEAT_INITIALIZE, 100002);
  EXPECT_EQ(ACL_ERROR_INVALID_FILE, 100003);
  EXPECT_EQ(ACL_ERROR_PARSE_FILE, 100006);
  EXPECT_EQ(ACL_ERROR_INVALID_MODEL_ID, 100011);
  EXPECT_EQ(ACL_ERROR_PARSE_MODEL, 100013);
  EXPECT_EQ(ACL_ERROR_MODEL_INPUT_NOT_MATCH, 100017);
  EXPECT_EQ(ACL_ERROR_MODEL_OUTPUT_NOT_MATCH, 100018);
  EXPECT_EQ(ACL_ERROR_REPEAT_FINALIZE, 100037);
  EXPECT_EQ(ACL_ERROR_BAD_ALLOC, 200000);
  EXPECT_EQ(ACL_ERROR_INVALID_RESOURCE_HANDLE, 200005);
  EXPECT_EQ(ACL_ERROR_STORAGE_OVER_LIMIT, 300000);
  EXPECT_EQ(ACL_ERROR_INTERNAL_ERROR, 500000);
  EXPECT_EQ(ACL_ERROR_FAILURE, 500001);
  EXPECT_EQ(ACL_MAX_DIM_CNT, 128);
  EXPECT_EQ(ACL_MAX_TENSOR_NAME_LEN, 128);
  EXPECT_EQ(sizeof(aclmdlIODims), 128 + sizeof(size_t) + 128 * sizeof(int64_t));
}

TEST(AclRecentError, FailSetsTextSuccessKeepsItReadClearsIt) {
  lw::test::clear_error_text();
  EXPECT_STREQ(aclGetRecentErrMsg(), "");
  EXPECT_EQ(lw::acl::fail(ACL_ERROR_INVALID_PARAM, "aclSomething", "index 3 out of range"), ACL_ERROR_INVALID_PARAM);
  aclrtRunMode mode;
  EXPECT_ACL_OK(aclrtGetRunMode(&mode));  // a success in between does not clear the text
  EXPECT_STREQ(aclGetRecentErrMsg(), "aclSomething: index 3 out of range");
  EXPECT_STREQ(aclGetRecentErrMsg(), "");
}

TEST(AclRecentError, TextIsPerThread) {
  lw::test::clear_error_text();
  EXPECT_ACL_FAIL(aclrtGetRunMode(nullptr), ACL_ERROR_INVALID_PARAM, "aclrtGetRunMode");
  EXPECT_EQ(aclrtGetRunMode(nullptr), ACL_ERROR_INVALID_PARAM);
  std::string other_thread_text = "unset";
  std::thread t([&] { other_thread_text = aclGetRecentErrMsg(); });
  t.join();
  EXPECT_EQ(other_thread_text, "");
  EXPECT_TRUE(lw::test::error_text_named("aclrtGetRunMode"));
}

TEST(AclRecentError, FailStatusUsesTheTableAndTheMessage) {
  lw::test::clear_error_text();
  EXPECT_EQ(lw::acl::fail_status("aclX", lw::Status(StatusCode::kInvalidModelId, "model id 7 is not loaded")),
            ACL_ERROR_INVALID_MODEL_ID);
  EXPECT_STREQ(aclGetRecentErrMsg(), "aclX: model id 7 is not loaded");
  // An ok Status on a failure path is a bug, reported as one rather than as success.
  EXPECT_EQ(lw::acl::fail_status("aclX", lw::Status::ok()), ACL_ERROR_INTERNAL_ERROR);
  lw::test::clear_error_text();
}

TEST(AclRecentError, GuardTurnsExceptionsIntoCodes) {
  lw::test::clear_error_text();
  EXPECT_EQ(lw::acl::guard("aclX", []() -> aclError { throw std::bad_alloc(); }), ACL_ERROR_BAD_ALLOC);
  EXPECT_TRUE(lw::test::error_text_named("aclX"));
  EXPECT_EQ(lw::acl::guard("aclX", []() -> aclError { throw std::runtime_error("boom"); }), ACL_ERROR_INTERNAL_ERROR);
  EXPECT_STREQ(aclGetRecentErrMsg(), "aclX: boom");
  EXPECT_EQ(lw::acl::guard("aclX", []() -> aclError { throw 42; }), ACL_ERROR_INTERNAL_ERROR);
  EXPECT_TRUE(lw::test::error_text_named("aclX"));
  EXPECT_EQ(lw::acl::guard_value<int>("aclY", -7, []() -> int { throw std::bad_alloc(); }), -7);
  EXPECT_TRUE(lw::test::error_text_named("aclY"));
}

TEST(AclInit, InitFinalizeAndTheirRepeats) {
  lw::test::ensure_finalized();
  EXPECT_ACL_FAIL(aclFinalize(), ACL_ERROR_REPEAT_FINALIZE, "aclFinalize");
  ASSERT_ACL_OK(aclInit(nullptr));
  EXPECT_ACL_FAIL(aclInit(nullptr), ACL_ERROR_REPEAT_INITIALIZE, "aclInit");
  EXPECT_ACL_OK(aclFinalize());
  EXPECT_ACL_FAIL(aclFinalize(), ACL_ERROR_REPEAT_FINALIZE, "aclFinalize");
  // Init works again after finalize, and "" means no config like NULL.
  EXPECT_ACL_OK(aclInit(""));
  EXPECT_ACL_OK(aclFinalize());
}

TEST(AclInit, ConfigFiles) {
  lw::test::ensure_finalized();
  EXPECT_ACL_FAIL(aclInit("/nonexistent/dir/acl.json"), ACL_ERROR_INVALID_FILE, "aclInit");
  std::string bad = lw::test::temp_path("bad.json");
  { std::ofstream(bad) << "{ not json"; }
  EXPECT_ACL_FAIL(aclInit(bad.c_str()), ACL_ERROR_PARSE_FILE, "aclInit");
  std::string good = lw::test::temp_path("good.json");
  { std::ofstream(good) << R"({"liveweight": {"backend": "cpu", "threads": 2}})"; }
  EXPECT_ACL_OK(aclInit(good.c_str()));
  EXPECT_ACL_OK(aclFinalize());
  std::remove(bad.c_str());
  std::remove(good.c_str());
}

TEST(AclInit, RuntimeCallsBeforeInitAreUninitialized) {
  lw::test::ensure_finalized();
  int32_t device = -1;
  uint32_t id = 0;
  size_t n = 0;
  const char bytes[16] = {};
  aclrtContext ctx = nullptr;
  EXPECT_ACL_FAIL(aclrtSetDevice(0), ACL_ERROR_UNINITIALIZE, "aclrtSetDevice");
  EXPECT_ACL_FAIL(aclrtResetDevice(0), ACL_ERROR_UNINITIALIZE, "aclrtResetDevice");
  EXPECT_ACL_FAIL(aclrtGetDevice(&device), ACL_ERROR_UNINITIALIZE, "aclrtGetDevice");
  EXPECT_ACL_FAIL(aclrtCreateContext(&ctx, 0), ACL_ERROR_UNINITIALIZE, "aclrtCreateContext");
  EXPECT_ACL_FAIL(aclmdlLoadFromFile("/tmp/x.om", &id), ACL_ERROR_UNINITIALIZE, "aclmdlLoadFromFile");
  EXPECT_ACL_FAIL(aclmdlLoadFromMem(bytes, sizeof bytes, &id), ACL_ERROR_UNINITIALIZE, "aclmdlLoadFromMem");
  EXPECT_ACL_FAIL(aclmdlBundleLoadFromFile("/tmp/x.om", &id), ACL_ERROR_UNINITIALIZE, "aclmdlBundleLoadFromFile");
  EXPECT_ACL_FAIL(aclmdlBundleLoadFromMem(bytes, sizeof bytes, &id), ACL_ERROR_UNINITIALIZE, "aclmdlBundleLoadFromMem");
  EXPECT_ACL_FAIL(aclmdlBundleGetModelNum(1, &n), ACL_ERROR_UNINITIALIZE, "aclmdlBundleGetModelNum");
  EXPECT_ACL_FAIL(aclmdlBundleGetModelId(1, 0, &id), ACL_ERROR_UNINITIALIZE, "aclmdlBundleGetModelId");
  EXPECT_ACL_FAIL(aclmdlBundleUnload(1), ACL_ERROR_UNINITIALIZE, "aclmdlBundleUnload");
  EXPECT_ACL_FAIL(aclmdlUnload(1), ACL_ERROR_UNINITIALIZE, "aclmdlUnload");
  aclmdlDesc* desc = aclmdlCreateDesc();
  ASSERT_NE(desc, nullptr);
  EXPECT_ACL_FAIL(aclmdlGetDesc(desc, 1), ACL_ERROR_UNINITIALIZE, "aclmdlGetDesc");
  EXPECT_ACL_OK(aclmdlDestroyDesc(desc));
  aclmdlDataset* in = aclmdlCreateDataset();
  aclmdlDataset* out = aclmdlCreateDataset();
  EXPECT_ACL_FAIL(aclmdlExecute(1, in, out), ACL_ERROR_UNINITIALIZE, "aclmdlExecute");
  EXPECT_ACL_OK(aclmdlDestroyDataset(in));
  EXPECT_ACL_OK(aclmdlDestroyDataset(out));
}

TEST(AclInit, ArgumentChecksComeBeforeTheRuntime) {
  lw::test::ensure_finalized();
  EXPECT_ACL_FAIL(aclmdlLoadFromFile(nullptr, nullptr), ACL_ERROR_INVALID_PARAM, "aclmdlLoadFromFile");
  EXPECT_ACL_FAIL(aclrtGetDevice(nullptr), ACL_ERROR_INVALID_PARAM, "aclrtGetDevice");
}

}  // namespace
