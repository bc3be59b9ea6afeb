// Streams: ordering of queued work, failures reported at synchronize, bad handles.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "acl/acl.h"
#include "api/acl_test_util.h"
#include "liveweight/build.h"
#include "liveweight/graph.h"

namespace {

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lw::test::ensure_finalized();
    ASSERT_EQ(aclInit(nullptr), ACL_SUCCESS);
  }
  void TearDown() override { lw::test::ensure_finalized(); }
};

TEST_F(StreamTest, CopiesOnOneStreamRunInOrder) {
  aclrtStream stream = nullptr;
  ASSERT_EQ(aclrtCreateStream(&stream), ACL_SUCCESS);
  const size_t n = 1 << 20;
  std::vector<float> host(n), back(n, 0.f);
  for (size_t i = 0; i < n; ++i) host[i] = static_cast<float>(i);
  void* a = nullptr;
  void* b = nullptr;
  ASSERT_EQ(aclrtMalloc(&a, n * 4, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  ASSERT_EQ(aclrtMalloc(&b, n * 4, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  // host -> a -> b -> back: each copy reads what the previous one wrote.
  ASSERT_EQ(aclrtMemcpyAsync(a, n * 4, host.data(), n * 4, ACL_MEMCPY_HOST_TO_DEVICE, stream), ACL_SUCCESS);
  ASSERT_EQ(aclrtMemcpyAsync(b, n * 4, a, n * 4, ACL_MEMCPY_DEVICE_TO_DEVICE, stream), ACL_SUCCESS);
  ASSERT_EQ(aclrtMemcpyAsync(back.data(), n * 4, b, n * 4, ACL_MEMCPY_DEVICE_TO_HOST, stream), ACL_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeStream(stream), ACL_SUCCESS);
  EXPECT_EQ(host, back);
  EXPECT_EQ(aclrtFree(a), ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(b), ACL_SUCCESS);
  EXPECT_EQ(aclrtDestroyStream(stream), ACL_SUCCESS);
}

TEST_F(StreamTest, ExecuteAsyncRunsAndReportsFailuresAtSynchronize) {
  lw::Graph g("relu");
  lw::Tensor x = g.add_input("x", lw::DType::kFloat32, {4});
  g.set_outputs({g.add_op("Relu", {x})[0]});
  auto bytes = lw::build_model(g);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  uint32_t model = 0;
  ASSERT_EQ(aclmdlLoadFromMem(bytes->data(), bytes->size(), &model), ACL_SUCCESS);

  std::vector<float> in = {-1.f, 2.f, -3.f, 4.f}, out(4, 9.f), small(2, 0.f);
  aclmdlDataset* din = aclmdlCreateDataset();
  aclmdlDataset* dout = aclmdlCreateDataset();
  aclmdlDataset* dsmall = aclmdlCreateDataset();
  aclDataBuffer* bin = aclCreateDataBuffer(in.data(), 16);
  aclDataBuffer* bout = aclCreateDataBuffer(out.data(), 16);
  aclDataBuffer* bsmall = aclCreateDataBuffer(small.data(), 8);
  ASSERT_EQ(aclmdlAddDatasetBuffer(din, bin), ACL_SUCCESS);
  ASSERT_EQ(aclmdlAddDatasetBuffer(dout, bout), ACL_SUCCESS);
  ASSERT_EQ(aclmdlAddDatasetBuffer(dsmall, bsmall), ACL_SUCCESS);

  aclrtStream stream = nullptr;
  ASSERT_EQ(aclrtCreateStream(&stream), ACL_SUCCESS);
  ASSERT_EQ(aclmdlExecuteAsync(model, din, dout, stream), ACL_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeStream(stream), ACL_SUCCESS);
  EXPECT_EQ(out, (std::vector<float>{0.f, 2.f, 0.f, 4.f}));

  // A too-small output buffer is found when the work runs: synchronize returns it, once.
  ASSERT_EQ(aclmdlExecuteAsync(model, din, dsmall, stream), ACL_SUCCESS);
  lw::test::clear_error_text();
  EXPECT_EQ(aclrtSynchronizeStream(stream), ACL_ERROR_MODEL_OUTPUT_NOT_MATCH);
  EXPECT_TRUE(lw::test::error_text_named("aclrtSynchronizeStream"));
  EXPECT_EQ(aclrtSynchronizeStream(stream), ACL_SUCCESS);

  // The NULL stream runs at once.
  std::fill(out.begin(), out.end(), 9.f);
  ASSERT_EQ(aclmdlExecuteAsync(model, din, dout, nullptr), ACL_SUCCESS);
  EXPECT_EQ(out, (std::vector<float>{0.f, 2.f, 0.f, 4.f}));
  EXPECT_EQ(aclrtSynchronizeStream(nullptr), ACL_SUCCESS);

  // Bad arguments are found at submission.
  EXPECT_ACL_FAIL(aclmdlExecuteAsync(model + 1000, din, dout, stream), ACL_ERROR_INVALID_MODEL_ID, "aclmdlExecuteAsync");
  EXPECT_ACL_FAIL(aclmdlExecuteAsync(model, nullptr, dout, stream), ACL_ERROR_INVALID_PARAM, "aclmdlExecuteAsync");

  EXPECT_EQ(aclrtDestroyStream(stream), ACL_SUCCESS);
  EXPECT_ACL_FAIL(aclmdlExecuteAsync(model, din, dout, stream), ACL_ERROR_INVALID_PARAM, "aclmdlExecuteAsync");
  aclDestroyDataBuffer(bin);
  aclDestroyDataBuffer(bout);
  aclDestroyDataBuffer(bsmall);
  aclmdlDestroyDataset(din);
  aclmdlDestroyDataset(dout);
  aclmdlDestroyDataset(dsmall);
  EXPECT_EQ(aclmdlUnload(model), ACL_SUCCESS);
}

TEST_F(StreamTest, TwoStreamsRunConcurrently) {
  aclrtStream s1 = nullptr, s2 = nullptr;
  ASSERT_EQ(aclrtCreateStream(&s1), ACL_SUCCESS);
  ASSERT_EQ(aclrtCreateStream(&s2), ACL_SUCCESS);
  std::vector<uint8_t> a(1 << 22, 1), b(1 << 22, 0), c(1 << 22, 2), d(1 << 22, 0);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(aclrtMemcpyAsync(b.data(), b.size(), a.data(), a.size(), ACL_MEMCPY_HOST_TO_HOST, s1), ACL_SUCCESS);
    ASSERT_EQ(aclrtMemcpyAsync(d.data(), d.size(), c.data(), c.size(), ACL_MEMCPY_HOST_TO_HOST, s2), ACL_SUCCESS);
  }
  EXPECT_EQ(aclrtSynchronizeStream(s1), ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeStream(s2), ACL_SUCCESS);
  EXPECT_EQ(a, b);
  EXPECT_EQ(c, d);
  EXPECT_EQ(aclrtDestroyStream(s1), ACL_SUCCESS);
  EXPECT_EQ(aclrtDestroyStream(s2), ACL_SUCCESS);
}

TEST_F(StreamTest, BadHandlesAndArguments) {
  EXPECT_ACL_FAIL(aclrtCreateStream(nullptr), ACL_ERROR_INVALID_PARAM, "aclrtCreateStream");
  int not_a_stream = 0;
  EXPECT_ACL_FAIL(aclrtSynchronizeStream(&not_a_stream), ACL_ERROR_INVALID_PARAM, "aclrtSynchronizeStream");
  EXPECT_ACL_FAIL(aclrtDestroyStream(&not_a_stream), ACL_ERROR_INVALID_PARAM, "aclrtDestroyStream");
  EXPECT_ACL_FAIL(aclrtDestroyStream(nullptr), ACL_ERROR_INVALID_PARAM, "aclrtDestroyStream");
  aclrtStream stream = nullptr;
  ASSERT_EQ(aclrtCreateStream(&stream), ACL_SUCCESS);
  char src[8] = {0}, dst[4];
  EXPECT_ACL_FAIL(aclrtMemcpyAsync(dst, 4, src, 8, ACL_MEMCPY_HOST_TO_HOST, stream), ACL_ERROR_INVALID_PARAM,
                  "aclrtMemcpyAsync");
  EXPECT_ACL_FAIL(aclrtMemcpyAsync(dst, 4, src, 4, ACL_MEMCPY_HOST_TO_DEVICE, stream), ACL_ERROR_INVALID_PARAM,
                  "aclrtMemcpyAsync");
  EXPECT_ACL_FAIL(aclrtMemcpyAsync(dst, 4, src, 4, ACL_MEMCPY_HOST_TO_HOST, &not_a_stream), ACL_ERROR_INVALID_PARAM,
                  "aclrtMemcpyAsync");
  EXPECT_EQ(aclrtDestroyStream(stream), ACL_SUCCESS);
  EXPECT_ACL_FAIL(aclrtDestroyStream(stream), ACL_ERROR_INVALID_PARAM, "aclrtDestroyStream");
  ASSERT_EQ(aclFinalize(), ACL_SUCCESS);
  aclrtStream late = nullptr;
  EXPECT_ACL_FAIL(aclrtCreateStream(&late), ACL_ERROR_UNINITIALIZE, "aclrtCreateStream");
}

}  // namespace
