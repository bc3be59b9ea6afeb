// Devices and contexts.
#include <gtest/gtest.h>

#include <thread>

#include "acl/acl.h"
#include "api/acl_test_util.h"

namespace {

class AclDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    lw::test::ensure_finalized();
    ASSERT_ACL_OK(aclInit(nullptr));
  }
  void TearDown() override { lw::test::ensure_finalized(); }
};

TEST_F(AclDevice, SetGetResetDevice) {
  int32_t device = -1;
  // A thread that never set a device has none (checked on a fresh thread: the runtime keeps
  // the current device per thread).
  aclError fresh_err = ACL_SUCCESS;
  bool fresh_text = false;
  std::thread t([&] {
    int32_t d = -1;
    fresh_err = aclrtGetDevice(&d);
    fresh_text = lw::test::error_text_named("aclrtGetDevice");
  });
  t.join();
  EXPECT_EQ(fresh_err, ACL_ERROR_INVALID_DEVICE);
  EXPECT_TRUE(fresh_text);
  ASSERT_ACL_OK(aclrtSetDevice(0));
  EXPECT_ACL_OK(aclrtGetDevice(&device));
  EXPECT_EQ(device, 0);
  EXPECT_ACL_FAIL(aclrtGetDevice(nullptr), ACL_ERROR_INVALID_PARAM, "aclrtGetDevice");
  EXPECT_ACL_FAIL(aclrtSetDevice(1), ACL_ERROR_INVALID_DEVICE, "aclrtSetDevice");
  EXPECT_ACL_FAIL(aclrtSetDevice(-1), ACL_ERROR_INVALID_DEVICE, "aclrtSetDevice");
  EXPECT_ACL_FAIL(aclrtResetDevice(7), ACL_ERROR_INVALID_DEVICE, "aclrtResetDevice");
  EXPECT_ACL_OK(aclrtResetDevice(0));
  EXPECT_ACL_FAIL(aclrtResetDevice(0), ACL_ERROR_INVALID_DEVICE, "aclrtResetDevice");
}

TEST_F(AclDevice, RunModeIsHost) {
  aclrtRunMode mode = ACL_DEVICE;
  EXPECT_ACL_OK(aclrtGetRunMode(&mode));
  EXPECT_EQ(mode, ACL_HOST);
  EXPECT_ACL_FAIL(aclrtGetRunMode(nullptr), ACL_ERROR_INVALID_PARAM, "aclrtGetRunMode");
}

TEST_F(AclDevice, SetDeviceMakesADefaultContextThatResetFrees) {
  aclrtContext ctx = nullptr;
  EXPECT_ACL_FAIL(aclrtGetCurrentContext(&ctx), ACL_ERROR_INVALID_RESOURCE_HANDLE, "aclrtGetCurrentContext");
  ASSERT_ACL_OK(aclrtSetDevice(0));
  ASSERT_ACL_OK(aclrtGetCurrentContext(&ctx));
  ASSERT_NE(ctx, nullptr);
  // A second SetDevice keeps the same default context.
  ASSERT_ACL_OK(aclrtSetDevice(0));
  aclrtContext again = nullptr;
  ASSERT_ACL_OK(aclrtGetCurrentContext(&again));
  EXPECT_EQ(again, ctx);
  // The default context is not the caller's to destroy.
  EXPECT_ACL_FAIL(aclrtDestroyContext(ctx), ACL_ERROR_INVALID_PARAM, "aclrtDestroyContext");
  // Two SetDevice calls need two resets before the default context goes.
  EXPECT_ACL_OK(aclrtResetDevice(0));
  EXPECT_ACL_OK(aclrtGetCurrentContext(&again));
  EXPECT_ACL_OK(aclrtResetDevice(0));
  EXPECT_ACL_FAIL(aclrtGetCurrentContext(&again), ACL_ERROR_INVALID_RESOURCE_HANDLE, "aclrtGetCurrentContext");
  EXPECT_ACL_FAIL(aclrtSetCurrentContext(ctx), ACL_ERROR_INVALID_PARAM, "aclrtSetCurrentContext");
}

TEST_F(AclDevice, CreateSetGetDestroyContext) {
  aclrtContext a = nullptr;
  aclrtContext b = nullptr;
  EXPECT_ACL_FAIL(aclrtCreateContext(nullptr, 0), ACL_ERROR_INVALID_PARAM, "aclrtCreateContext");
  EXPECT_ACL_FAIL(aclrtCreateContext(&a, 3), ACL_ERROR_INVALID_DEVICE, "aclrtCreateContext");
  EXPECT_EQ(a, nullptr);
  ASSERT_ACL_OK(aclrtCreateContext(&a, 0));
  aclrtContext cur = nullptr;
  ASSERT_ACL_OK(aclrtGetCurrentContext(&cur));
  EXPECT_EQ(cur, a);  // a new context becomes current
  ASSERT_ACL_OK(aclrtCreateContext(&b, 0));
  EXPECT_NE(a, b);
  ASSERT_ACL_OK(aclrtSetCurrentContext(a));
  ASSERT_ACL_OK(aclrtGetCurrentContext(&cur));
  EXPECT_EQ(cur, a);
  int32_t device = -1;
  EXPECT_ACL_OK(aclrtGetDevice(&device));
  EXPECT_EQ(device, 0);

  // Current context is per thread: a fresh thread has none, and setting one there leaves ours.
  aclError other_get = ACL_SUCCESS, other_set = ACL_ERROR_FAILURE;
  aclrtContext other_cur = nullptr;
  std::thread t([&] {
    aclrtContext c = nullptr;
    other_get = aclrtGetCurrentContext(&c);
    (void)aclGetRecentErrMsg();
    other_set = aclrtSetCurrentContext(b);
    aclrtGetCurrentContext(&other_cur);
  });
  t.join();
  EXPECT_EQ(other_get, ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_EQ(other_set, ACL_SUCCESS);
  EXPECT_EQ(other_cur, b);
  ASSERT_ACL_OK(aclrtGetCurrentContext(&cur));
  EXPECT_EQ(cur, a);

  EXPECT_ACL_FAIL(aclrtGetCurrentContext(nullptr), ACL_ERROR_INVALID_PARAM, "aclrtGetCurrentContext");
  EXPECT_ACL_FAIL(aclrtSetCurrentContext(nullptr), ACL_ERROR_INVALID_PARAM, "aclrtSetCurrentContext");
  int not_a_context = 0;
  EXPECT_ACL_FAIL(aclrtSetCurrentContext(&not_a_context), ACL_ERROR_INVALID_PARAM, "aclrtSetCurrentContext");
  EXPECT_ACL_FAIL(aclrtDestroyContext(&not_a_context), ACL_ERROR_INVALID_PARAM, "aclrtDestroyContext");
  EXPECT_ACL_FAIL(aclrtDestroyContext(nullptr), ACL_ERROR_INVALID_PARAM, "aclrtDestroyContext");

  EXPECT_ACL_OK(aclrtDestroyContext(a));
  EXPECT_ACL_FAIL(aclrtDestroyContext(a), ACL_ERROR_INVALID_PARAM, "aclrtDestroyContext");
  EXPECT_ACL_FAIL(aclrtGetCurrentContext(&cur), ACL_ERROR_INVALID_RESOURCE_HANDLE, "aclrtGetCurrentContext");
  EXPECT_ACL_FAIL(aclrtSetCurrentContext(a), ACL_ERROR_INVALID_PARAM, "aclrtSetCurrentContext");
  EXPECT_ACL_OK(aclrtDestroyContext(b));
}

TEST_F(AclDevice, ContextsNeedInit) {
  aclrtContext a = nullptr;
  ASSERT_ACL_OK(aclrtCreateContext(&a, 0));
  ASSERT_ACL_OK(aclFinalize());
  // The caller's context survives finalize as a handle, but using it needs the runtime.
  EXPECT_ACL_FAIL(aclrtSetCurrentContext(a), ACL_ERROR_UNINITIALIZE, "aclrtSetCurrentContext");
  EXPECT_ACL_OK(aclrtDestroyContext(a));
}

TEST_F(AclDevice, FinalizeDropsDefaultContexts) {
  ASSERT_ACL_OK(aclrtSetDevice(0));
  aclrtContext ctx = nullptr;
  ASSERT_ACL_OK(aclrtGetCurrentContext(&ctx));
  ASSERT_ACL_OK(aclFinalize());
  EXPECT_ACL_FAIL(aclrtGetCurrentContext(&ctx), ACL_ERROR_INVALID_RESOURCE_HANDLE, "aclrtGetCurrentContext");
}

}  // namespace
