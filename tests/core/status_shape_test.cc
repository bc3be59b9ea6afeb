#include <gtest/gtest.h>

#include "core/error_text.h"
#include "core/shape.h"

namespace lw {
namespace {

TEST(Shape, ElementCountRejectsOverflowAndNegative) {
  EXPECT_EQ(*element_count({2, 3, 4}), 24u);
  EXPECT_EQ(*element_count({}), 1u);
  EXPECT_EQ(*element_count({5, 0, 7}), 0u);
  EXPECT_FALSE(element_count({-1, 3}).is_ok());
  EXPECT_FALSE(element_count({int64_t{1} << 40, int64_t{1} << 40}).is_ok());
  EXPECT_FALSE(byte_size(DType::kFloat32, {int64_t{1} << 39, 4}).is_ok());
  EXPECT_EQ(*byte_size(DType::kInt64, {3}), 24u);
}

TEST(Shape, StaticAndEmpty) {
  EXPECT_TRUE(Shape({1, 2}).is_static());
  EXPECT_FALSE(Shape({1, -1}).is_static());
  EXPECT_FALSE(Shape::unknown_rank().is_static());
  EXPECT_TRUE(Shape({3, 0}).is_empty());
  EXPECT_EQ(Shape({2, -1}).to_string(), "[2,?]");
}

TEST(ResultTest, CarriesValueOrStatus) {
  Result<std::string> ok = std::string("x");
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(*ok, "x");
  Result<std::string> bad = make_error(StatusCode::kInvalidArgument, "bad ", 3);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "bad 3");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(ErrorText, IsThreadLocalAndCleared) {
  set_recent_error("first");
  EXPECT_EQ(take_recent_error(), "first");
  EXPECT_EQ(take_recent_error(), "");
}

TEST(DTypeTest, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::kFloat32), 4u);
  EXPECT_EQ(dtype_size(DType::kBFloat16), 2u);
  EXPECT_EQ(dtype_size(static_cast<DType>(5)), 0u);
  EXPECT_FALSE(dtype_is_valid(5));
  EXPECT_EQ(*dtype_from_name("int64"), DType::kInt64);
}

}  // namespace
}  // namespace lw
