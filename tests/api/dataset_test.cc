// aclmdlDataset: buffers, descriptions, ownership.
#include <gtest/gtest.h>

#include "acl/acl.h"
#include "api/acl_test_util.h"

namespace {

TEST(AclDataset, AddGetAndCount) {
  float a[4], b[2];
  aclmdlDataset* ds = aclmdlCreateDataset();
  ASSERT_NE(ds, nullptr);
  EXPECT_EQ(aclmdlGetDatasetNumBuffers(ds), 0u);
  aclDataBuffer* ba = aclCreateDataBuffer(a, sizeof a);
  aclDataBuffer* bb = aclCreateDataBuffer(b, sizeof b);
  EXPECT_ACL_OK(aclmdlAddDatasetBuffer(ds, ba));
  EXPECT_ACL_OK(aclmdlAddDatasetBuffer(ds, bb));
  EXPECT_EQ(aclmdlGetDatasetNumBuffers(ds), 2u);
  EXPECT_EQ(aclmdlGetDatasetBuffer(ds, 0), ba);
  EXPECT_EQ(aclmdlGetDatasetBuffer(ds, 1), bb);
  lw::test::clear_error_text();
  EXPECT_EQ(aclmdlGetDatasetTensorDesc(ds, 0), nullptr);  // none set: not an error
  EXPECT_STREQ(aclGetRecentErrMsg(), "");
  EXPECT_ACL_OK(aclmdlDestroyDataset(ds));
  // The dataset does not own its buffers.
  EXPECT_EQ(aclGetDataBufferAddr(ba), a);
  EXPECT_ACL_OK(aclDestroyDataBuffer(ba));
  EXPECT_ACL_OK(aclDestroyDataBuffer(bb));
}

TEST(AclDataset, BadArguments) {
  int x;
  aclDataBuffer* buf = aclCreateDataBuffer(&x, sizeof x);
  aclmdlDataset* ds = aclmdlCreateDataset();
  ASSERT_NE(ds, nullptr);
  EXPECT_ACL_FAIL(aclmdlAddDatasetBuffer(nullptr, buf), ACL_ERROR_INVALID_PARAM, "aclmdlAddDatasetBuffer");
  EXPECT_ACL_FAIL(aclmdlAddDatasetBuffer(ds, nullptr), ACL_ERROR_INVALID_PARAM, "aclmdlAddDatasetBuffer");
  EXPECT_ACL_FAIL(aclmdlAddDatasetBuffer(ds, reinterpret_cast<aclDataBuffer*>(&x)), ACL_ERROR_INVALID_PARAM,
                  "aclmdlAddDatasetBuffer");
  EXPECT_EQ(aclmdlGetDatasetNumBuffers(ds), 0u);
  EXPECT_GETTER_FAIL(aclmdlGetDatasetNumBuffers(nullptr), 0u, "aclmdlGetDatasetNumBuffers");
  EXPECT_GETTER_FAIL(aclmdlGetDatasetBuffer(ds, 0), nullptr, "aclmdlGetDatasetBuffer");
  EXPECT_GETTER_FAIL(aclmdlGetDatasetBuffer(nullptr, 0), nullptr, "aclmdlGetDatasetBuffer");
  EXPECT_GETTER_FAIL(aclmdlGetDatasetTensorDesc(ds, 0), nullptr, "aclmdlGetDatasetTensorDesc");
  EXPECT_GETTER_FAIL(aclmdlGetDatasetTensorDesc(nullptr, 0), nullptr, "aclmdlGetDatasetTensorDesc");
  const int64_t dims[] = {1};
  aclTensorDesc* desc = aclCreateTensorDesc(ACL_FLOAT, 1, dims, ACL_FORMAT_ND);
  // No buffer at index 0 yet.
  EXPECT_ACL_FAIL(aclmdlSetDatasetTensorDesc(ds, desc, 0), ACL_ERROR_INVALID_PARAM, "aclmdlSetDatasetTensorDesc");
  EXPECT_ACL_FAIL(aclmdlSetDatasetTensorDesc(nullptr, desc, 0), ACL_ERROR_INVALID_PARAM, "aclmdlSetDatasetTensorDesc");
  ASSERT_ACL_OK(aclmdlAddDatasetBuffer(ds, buf));
  EXPECT_ACL_FAIL(aclmdlSetDatasetTensorDesc(ds, desc, 1), ACL_ERROR_INVALID_PARAM, "aclmdlSetDatasetTensorDesc");
  EXPECT_ACL_FAIL(aclmdlSetDatasetTensorDesc(ds, reinterpret_cast<aclTensorDesc*>(&x), 0), ACL_ERROR_INVALID_PARAM,
                  "aclmdlSetDatasetTensorDesc");
  EXPECT_GETTER_FAIL(aclmdlGetDatasetBuffer(ds, 1), nullptr, "aclmdlGetDatasetBuffer");
  aclDestroyTensorDesc(desc);
  EXPECT_ACL_FAIL(aclmdlSetDatasetTensorDesc(ds, desc, 0), ACL_ERROR_INVALID_PARAM, "aclmdlSetDatasetTensorDesc");

  EXPECT_ACL_FAIL(aclmdlDestroyDataset(nullptr), ACL_ERROR_INVALID_PARAM, "aclmdlDestroyDataset");
  EXPECT_ACL_OK(aclmdlDestroyDataset(ds));
  EXPECT_ACL_FAIL(aclmdlDestroyDataset(ds), ACL_ERROR_INVALID_PARAM, "aclmdlDestroyDataset");
  EXPECT_ACL_FAIL(aclmdlAddDatasetBuffer(ds, buf), ACL_ERROR_INVALID_PARAM, "aclmdlAddDatasetBuffer");
  EXPECT_GETTER_FAIL(aclmdlGetDatasetNumBuffers(ds), 0u, "aclmdlGetDatasetNumBuffers");
  EXPECT_ACL_OK(aclDestroyDataBuffer(buf));
}

TEST(AclDataset, DestroyedBufferIsReportedNotReturned) {
  int x;
  aclDataBuffer* buf = aclCreateDataBuffer(&x, sizeof x);
  aclmdlDataset* ds = aclmdlCreateDataset();
  ASSERT_ACL_OK(aclmdlAddDatasetBuffer(ds, buf));
  ASSERT_ACL_OK(aclDestroyDataBuffer(buf));
  EXPECT_EQ(aclmdlGetDatasetNumBuffers(ds), 1u);
  EXPECT_GETTER_FAIL(aclmdlGetDatasetBuffer(ds, 0), nullptr, "aclmdlGetDatasetBuffer");
  EXPECT_ACL_OK(aclmdlDestroyDataset(ds));
}

TEST(AclDataset, TensorDescIsDeepCopiedAndOwned) {
  int x[6];
  aclDataBuffer* buf = aclCreateDataBuffer(x, sizeof x);
  aclmdlDataset* ds = aclmdlCreateDataset();
  ASSERT_ACL_OK(aclmdlAddDatasetBuffer(ds, buf));
  const int64_t dims[] = {2, 3};
  aclTensorDesc* mine = aclCreateTensorDesc(ACL_INT32, 2, dims, ACL_FORMAT_NCHW);
  aclSetTensorDescName(mine, "w_var_data");
  ASSERT_ACL_OK(aclmdlSetDatasetTensorDesc(ds, mine, 0));
  aclDestroyTensorDesc(mine);  // the caller may destroy its own at once

  aclTensorDesc* held = aclmdlGetDatasetTensorDesc(ds, 0);
  ASSERT_NE(held, nullptr);
  EXPECT_NE(held, mine);
  EXPECT_EQ(aclGetTensorDescType(held), ACL_INT32);
  EXPECT_EQ(aclGetTensorDescFormat(held), ACL_FORMAT_NCHW);
  EXPECT_EQ(aclGetTensorDescNumDims(held), 2u);
  EXPECT_EQ(aclGetTensorDescDim(held, 1), 3);
  EXPECT_STREQ(aclGetTensorDescName(held), "w_var_data");

  // The dataset's own description is not the caller's to destroy.
  lw::test::clear_error_text();
  aclDestroyTensorDesc(held);
  EXPECT_TRUE(lw::test::error_text_named("aclDestroyTensorDesc"));
  EXPECT_EQ(aclGetTensorDescDim(held, 0), 2);

  // Setting the slot's own description back is safe; setting another replaces it.
  ASSERT_ACL_OK(aclmdlSetDatasetTensorDesc(ds, held, 0));
  aclTensorDesc* again = aclmdlGetDatasetTensorDesc(ds, 0);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(aclGetTensorDescDim(again, 0), 2);
  EXPECT_GETTER_FAIL(aclGetTensorDescDim(held, 0), int64_t{-1}, "aclGetTensorDescDim");  // the old copy is gone

  // NULL clears the slot's description.
  ASSERT_ACL_OK(aclmdlSetDatasetTensorDesc(ds, nullptr, 0));
  EXPECT_EQ(aclmdlGetDatasetTensorDesc(ds, 0), nullptr);
  EXPECT_GETTER_FAIL(aclGetTensorDescType(again), ACL_DT_UNDEFINED, "aclGetTensorDescType");

  // Destroying the dataset frees the descriptions it holds.
  const int64_t zero[] = {0};
  aclTensorDesc* empty = aclCreateTensorDesc(ACL_FLOAT, 1, zero, ACL_FORMAT_ND);
  ASSERT_ACL_OK(aclmdlSetDatasetTensorDesc(ds, empty, 0));
  aclDestroyTensorDesc(empty);
  aclTensorDesc* last = aclmdlGetDatasetTensorDesc(ds, 0);
  ASSERT_NE(last, nullptr);
  EXPECT_ACL_OK(aclmdlDestroyDataset(ds));
  EXPECT_GETTER_FAIL(aclGetTensorDescNumDims(last), 0u, "aclGetTensorDescNumDims");
  EXPECT_EQ(aclGetDataBufferAddr(buf), x);
  EXPECT_ACL_OK(aclDestroyDataBuffer(buf));
}

}  // namespace
