// Data buffers, aclDataTypeSize and tensor descriptions.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "acl/acl.h"
#include "api/acl_test_util.h"

namespace {

TEST(AclDataBuffer, CreateGetUpdateDestroy) {
  float data[6] = {};
  aclDataBuffer* b = aclCreateDataBuffer(data, sizeof data);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(aclGetDataBufferAddr(b), data);
  EXPECT_EQ(aclGetDataBufferSizeV2(b), sizeof data);
  EXPECT_EQ(aclGetDataBufferSize(b), sizeof data);
  char other[3];
  EXPECT_ACL_OK(aclUpdateDataBuffer(b, other, 3));
  EXPECT_EQ(aclGetDataBufferAddr(b), other);
  EXPECT_EQ(aclGetDataBufferSizeV2(b), 3u);
  EXPECT_ACL_OK(aclUpdateDataBuffer(b, nullptr, 0));
  EXPECT_EQ(aclGetDataBufferAddr(b), nullptr);
  EXPECT_ACL_OK(aclDestroyDataBuffer(b));
  // (NULL, 0) is an empty buffer.
  aclDataBuffer* empty = aclCreateDataBuffer(nullptr, 0);
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(aclGetDataBufferSizeV2(empty), 0u);
  EXPECT_ACL_OK(aclDestroyDataBuffer(empty));
}

TEST(AclDataBuffer, BadArguments) {
  EXPECT_GETTER_FAIL(aclCreateDataBuffer(nullptr, 4), nullptr, "aclCreateDataBuffer");
  EXPECT_ACL_FAIL(aclDestroyDataBuffer(nullptr), ACL_ERROR_INVALID_PARAM, "aclDestroyDataBuffer");
  EXPECT_ACL_FAIL(aclUpdateDataBuffer(nullptr, nullptr, 0), ACL_ERROR_INVALID_PARAM, "aclUpdateDataBuffer");
  EXPECT_GETTER_FAIL(aclGetDataBufferAddr(nullptr), nullptr, "aclGetDataBufferAddr");
  EXPECT_GETTER_FAIL(aclGetDataBufferSizeV2(nullptr), 0u, "aclGetDataBufferSizeV2");
  EXPECT_GETTER_FAIL(aclGetDataBufferSize(nullptr), 0u, "aclGetDataBufferSize");

  int x = 0;
  aclDataBuffer* b = aclCreateDataBuffer(&x, sizeof x);
  ASSERT_NE(b, nullptr);
  EXPECT_ACL_FAIL(aclUpdateDataBuffer(b, nullptr, 4), ACL_ERROR_INVALID_PARAM, "aclUpdateDataBuffer");
  EXPECT_EQ(aclGetDataBufferAddr(b), &x);  // the failed update changed nothing
  EXPECT_ACL_OK(aclDestroyDataBuffer(b));
  // Destroyed and foreign handles are detected, not dereferenced.
  EXPECT_ACL_FAIL(aclDestroyDataBuffer(b), ACL_ERROR_INVALID_PARAM, "aclDestroyDataBuffer");
  EXPECT_ACL_FAIL(aclUpdateDataBuffer(b, &x, 4), ACL_ERROR_INVALID_PARAM, "aclUpdateDataBuffer");
  EXPECT_GETTER_FAIL(aclGetDataBufferAddr(b), nullptr, "aclGetDataBufferAddr");
  EXPECT_GETTER_FAIL(aclGetDataBufferSizeV2(b), 0u, "aclGetDataBufferSizeV2");
  auto* foreign = reinterpret_cast<aclDataBuffer*>(&x);
  EXPECT_GETTER_FAIL(aclGetDataBufferSize(foreign), 0u, "aclGetDataBufferSize");
  EXPECT_ACL_FAIL(aclDestroyDataBuffer(foreign), ACL_ERROR_INVALID_PARAM, "aclDestroyDataBuffer");
}

TEST(AclDataBuffer, DeprecatedSizeRefusesSizesPast32Bits) {
  if (sizeof(size_t) < 8) GTEST_SKIP() << "32-bit size_t";
  char byte = 0;
  // The buffer only describes memory; nothing reads these bytes.
  aclDataBuffer* b = aclCreateDataBuffer(&byte, (size_t{1} << 32) + 5);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(aclGetDataBufferSizeV2(b), (size_t{1} << 32) + 5);
  EXPECT_GETTER_FAIL(aclGetDataBufferSize(b), 0u, "aclGetDataBufferSize");
  EXPECT_ACL_OK(aclDestroyDataBuffer(b));
}

TEST(AclDataTypeSize, SizesAndBadValues) {
  EXPECT_EQ(aclDataTypeSize(ACL_FLOAT), 4u);
  EXPECT_EQ(aclDataTypeSize(ACL_FLOAT16), 2u);
  EXPECT_EQ(aclDataTypeSize(ACL_INT8), 1u);
  EXPECT_EQ(aclDataTypeSize(ACL_INT32), 4u);
  EXPECT_EQ(aclDataTypeSize(ACL_UINT8), 1u);
  EXPECT_EQ(aclDataTypeSize(ACL_INT16), 2u);
  EXPECT_EQ(aclDataTypeSize(ACL_UINT16), 2u);
  EXPECT_EQ(aclDataTypeSize(ACL_UINT32), 4u);
  EXPECT_EQ(aclDataTypeSize(ACL_INT64), 8u);
  EXPECT_EQ(aclDataTypeSize(ACL_UINT64), 8u);
  EXPECT_EQ(aclDataTypeSize(ACL_DOUBLE), 8u);
  EXPECT_EQ(aclDataTypeSize(ACL_BOOL), 1u);
  EXPECT_EQ(aclDataTypeSize(ACL_COMPLEX64), 8u);
  EXPECT_EQ(aclDataTypeSize(ACL_COMPLEX128), 16u);
  EXPECT_EQ(aclDataTypeSize(ACL_BF16), 2u);
  lw::test::clear_error_text();
  EXPECT_EQ(aclDataTypeSize(ACL_STRING), 0u);
  EXPECT_STREQ(aclGetRecentErrMsg(), "");  // a string has no fixed size; that is not an error
  EXPECT_GETTER_FAIL(aclDataTypeSize(ACL_DT_UNDEFINED), 0u, "aclDataTypeSize");
  EXPECT_GETTER_FAIL(aclDataTypeSize(static_cast<aclDataType>(5)), 0u, "aclDataTypeSize");
  EXPECT_GETTER_FAIL(aclDataTypeSize(static_cast<aclDataType>(1000)), 0u, "aclDataTypeSize");
}

TEST(AclTensorDesc, CreateAndRead) {
  const int64_t dims[] = {2, 3, 4};
  aclTensorDesc* d = aclCreateTensorDesc(ACL_FLOAT16, 3, dims, ACL_FORMAT_NCHW);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(aclGetTensorDescType(d), ACL_FLOAT16);
  EXPECT_EQ(aclGetTensorDescFormat(d), ACL_FORMAT_NCHW);
  EXPECT_EQ(aclGetTensorDescNumDims(d), 3u);
  EXPECT_EQ(aclGetTensorDescElementCount(d), 24u);
  EXPECT_EQ(aclGetTensorDescSize(d), 48u);
  for (size_t i = 0; i < 3; ++i) {
    int64_t v = -5;
    EXPECT_ACL_OK(aclGetTensorDescDimV2(d, i, &v));
    EXPECT_EQ(v, dims[i]);
    EXPECT_EQ(aclGetTensorDescDim(d, i), dims[i]);
  }
  EXPECT_STREQ(aclGetTensorDescName(d), "");
  aclSetTensorDescName(d, "weight_var_data");
  EXPECT_STREQ(aclGetTensorDescName(d), "weight_var_data");
  aclDestroyTensorDesc(d);
}

TEST(AclTensorDesc, ScalarEmptyAndDynamic) {
  aclTensorDesc* scalar = aclCreateTensorDesc(ACL_INT64, 0, nullptr, ACL_FORMAT_ND);
  ASSERT_NE(scalar, nullptr);
  EXPECT_EQ(aclGetTensorDescNumDims(scalar), 0u);
  EXPECT_EQ(aclGetTensorDescElementCount(scalar), 1u);
  EXPECT_EQ(aclGetTensorDescSize(scalar), 8u);
  aclDestroyTensorDesc(scalar);

  const int64_t zero[] = {0};
  aclTensorDesc* empty = aclCreateTensorDesc(ACL_FLOAT, 1, zero, ACL_FORMAT_ND);
  ASSERT_NE(empty, nullptr);
  lw::test::clear_error_text();
  EXPECT_EQ(aclGetTensorDescElementCount(empty), 0u);
  EXPECT_EQ(aclGetTensorDescSize(empty), 0u);
  EXPECT_STREQ(aclGetRecentErrMsg(), "");  // empty is a valid size
  aclDestroyTensorDesc(empty);

  const int64_t dyn[] = {-1, 4};
  aclTensorDesc* dynamic = aclCreateTensorDesc(ACL_FLOAT, 2, dyn, ACL_FORMAT_ND);
  ASSERT_NE(dynamic, nullptr);
  EXPECT_EQ(aclGetTensorDescDim(dynamic, 0), -1);
  EXPECT_GETTER_FAIL(aclGetTensorDescElementCount(dynamic), 0u, "aclGetTensorDescElementCount");
  EXPECT_GETTER_FAIL(aclGetTensorDescSize(dynamic), 0u, "aclGetTensorDescSize");
  aclDestroyTensorDesc(dynamic);

  const int64_t unknown_rank[] = {-2};
  aclTensorDesc* unknown = aclCreateTensorDesc(ACL_FLOAT, 1, unknown_rank, ACL_FORMAT_ND);
  ASSERT_NE(unknown, nullptr);
  aclDestroyTensorDesc(unknown);

  const int64_t huge[] = {int64_t{1} << 30, int64_t{1} << 30, 1 << 20};
  aclTensorDesc* too_big = aclCreateTensorDesc(ACL_FLOAT, 3, huge, ACL_FORMAT_ND);
  ASSERT_NE(too_big, nullptr);
  EXPECT_GETTER_FAIL(aclGetTensorDescSize(too_big), 0u, "aclGetTensorDescSize");
  aclDestroyTensorDesc(too_big);

  const int64_t two[] = {2};
  aclTensorDesc* str = aclCreateTensorDesc(ACL_STRING, 1, two, ACL_FORMAT_ND);
  ASSERT_NE(str, nullptr);
  EXPECT_EQ(aclGetTensorDescElementCount(str), 2u);
  EXPECT_GETTER_FAIL(aclGetTensorDescSize(str), 0u, "aclGetTensorDescSize");
  aclDestroyTensorDesc(str);

  // ACL_DT_UNDEFINED and ACL_FORMAT_UNDEFINED are allowed (only dims matter for update inputs).
  aclTensorDesc* undef = aclCreateTensorDesc(ACL_DT_UNDEFINED, 1, two, ACL_FORMAT_UNDEFINED);
  ASSERT_NE(undef, nullptr);
  EXPECT_EQ(aclGetTensorDescType(undef), ACL_DT_UNDEFINED);
  aclDestroyTensorDesc(undef);
}

TEST(AclTensorDesc, CreateRefusesBadArguments) {
  const int64_t dims[] = {2, 3};
  const int64_t neg[] = {2, -3};
  const int64_t misplaced_unknown[] = {2, -2};
  std::vector<int64_t> many(ACL_MAX_DIM_CNT + 1, 1);
  EXPECT_GETTER_FAIL(aclCreateTensorDesc(static_cast<aclDataType>(5), 2, dims, ACL_FORMAT_ND), nullptr, "aclCreateTensorDesc");
  EXPECT_GETTER_FAIL(aclCreateTensorDesc(static_cast<aclDataType>(99), 2, dims, ACL_FORMAT_ND), nullptr, "aclCreateTensorDesc");
  EXPECT_GETTER_FAIL(aclCreateTensorDesc(ACL_FLOAT, 2, dims, static_cast<aclFormat>(5)), nullptr, "aclCreateTensorDesc");
  EXPECT_GETTER_FAIL(aclCreateTensorDesc(ACL_FLOAT, -1, dims, ACL_FORMAT_ND), nullptr, "aclCreateTensorDesc");
  EXPECT_GETTER_FAIL(aclCreateTensorDesc(ACL_FLOAT, 2, nullptr, ACL_FORMAT_ND), nullptr, "aclCreateTensorDesc");
  EXPECT_GETTER_FAIL(aclCreateTensorDesc(ACL_FLOAT, 2, neg, ACL_FORMAT_ND), nullptr, "aclCreateTensorDesc");
  EXPECT_GETTER_FAIL(aclCreateTensorDesc(ACL_FLOAT, 2, misplaced_unknown, ACL_FORMAT_ND), nullptr, "aclCreateTensorDesc");
  EXPECT_GETTER_FAIL(aclCreateTensorDesc(ACL_FLOAT, ACL_MAX_DIM_CNT + 1, many.data(), ACL_FORMAT_ND), nullptr,
                     "aclCreateTensorDesc");
  aclTensorDesc* max_rank = aclCreateTensorDesc(ACL_FLOAT, ACL_MAX_DIM_CNT, many.data(), ACL_FORMAT_ND);
  EXPECT_NE(max_rank, nullptr);
  aclDestroyTensorDesc(max_rank);
}

TEST(AclTensorDesc, GettersOnNullAndDestroyedHandles) {
  const int64_t dims[] = {2};
  aclTensorDesc* dead = aclCreateTensorDesc(ACL_FLOAT, 1, dims, ACL_FORMAT_ND);
  ASSERT_NE(dead, nullptr);
  aclDestroyTensorDesc(dead);
  for (aclTensorDesc* bad : {static_cast<aclTensorDesc*>(nullptr), dead}) {
    int64_t v = 0;
    EXPECT_GETTER_FAIL(aclGetTensorDescType(bad), ACL_DT_UNDEFINED, "aclGetTensorDescType");
    EXPECT_GETTER_FAIL(aclGetTensorDescFormat(bad), ACL_FORMAT_UNDEFINED, "aclGetTensorDescFormat");
    EXPECT_GETTER_FAIL(aclGetTensorDescSize(bad), 0u, "aclGetTensorDescSize");
    EXPECT_GETTER_FAIL(aclGetTensorDescElementCount(bad), 0u, "aclGetTensorDescElementCount");
    EXPECT_GETTER_FAIL(aclGetTensorDescNumDims(bad), 0u, "aclGetTensorDescNumDims");
    EXPECT_ACL_FAIL(aclGetTensorDescDimV2(bad, 0, &v), ACL_ERROR_INVALID_PARAM, "aclGetTensorDescDimV2");
    EXPECT_GETTER_FAIL(aclGetTensorDescDim(bad, 0), int64_t{-1}, "aclGetTensorDescDim");
    EXPECT_GETTER_FAIL(aclGetTensorDescName(bad), nullptr, "aclGetTensorDescName");
    lw::test::clear_error_text();
    aclSetTensorDescName(bad, "x");
    EXPECT_TRUE(lw::test::error_text_named("aclSetTensorDescName"));
    aclDestroyTensorDesc(bad);  // double destroy / NULL: a text, no crash
    EXPECT_TRUE(lw::test::error_text_named("aclDestroyTensorDesc"));
  }
}

TEST(AclTensorDesc, IndexAndOutPointerErrors) {
  const int64_t dims[] = {5, 6};
  aclTensorDesc* d = aclCreateTensorDesc(ACL_FLOAT, 2, dims, ACL_FORMAT_ND);
  ASSERT_NE(d, nullptr);
  int64_t v = 0;
  EXPECT_ACL_FAIL(aclGetTensorDescDimV2(d, 2, &v), ACL_ERROR_INVALID_PARAM, "aclGetTensorDescDimV2");
  EXPECT_ACL_FAIL(aclGetTensorDescDimV2(d, 0, nullptr), ACL_ERROR_INVALID_PARAM, "aclGetTensorDescDimV2");
  EXPECT_GETTER_FAIL(aclGetTensorDescDim(d, 2), int64_t{-1}, "aclGetTensorDescDim");
  aclSetTensorDescName(d, "keep");
  lw::test::clear_error_text();
  aclSetTensorDescName(d, nullptr);
  EXPECT_TRUE(lw::test::error_text_named("aclSetTensorDescName"));
  EXPECT_STREQ(aclGetTensorDescName(d), "keep");
  aclDestroyTensorDesc(d);
}

}  // namespace
