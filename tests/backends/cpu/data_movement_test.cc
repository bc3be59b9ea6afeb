// Reshape-like copies, Transpose, Concat, Gather, Shape, Squeeze/Unsqueeze and Cast.
#include <gtest/gtest.h>

#include <numeric>

#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

std::vector<float> iota_f(size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

TEST(DataMovement, ReshapeFlattenSqueezeUnsqueezeCopy) {
  auto x = iota_f(24);
  auto r = run_op("Reshape", {f32({2, 3, 4}, x), i64({3}, {0, -1, 2}, true)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].dims, (Dims{2, 6, 2}));
  EXPECT_EQ((*r)[0].f(), x);
  r = run_op("Flatten", {f32({2, 3, 4}, x)}, {{"axis", int64_t{-1}}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].dims, (Dims{6, 4}));
  EXPECT_EQ((*r)[0].f(), x);
  r = run_op("Squeeze", {f32({1, 24, 1}, x), i64({1}, {-1}, true)});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].dims, (Dims{1, 24}));
  r = run_op("Unsqueeze", {f32({24}, x), i64({2}, {0, -1}, true)});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].dims, (Dims{1, 24, 1}));
  EXPECT_EQ((*r)[0].f(), x);
}

TEST(DataMovement, TransposeMatchesNaive) {
  struct Case {
    Dims x, perm;
  };
  for (const Case& c : {Case{{2, 3}, {}}, Case{{2, 3, 4}, {0, 2, 1}}, Case{{2, 3, 4, 5}, {0, 2, 3, 1}},
                        Case{{2, 3, 4, 5}, {3, 1, 0, 2}}, Case{{2, 1, 4}, {1, 0, 2}}, Case{{64, 300}, {1, 0}},
                        Case{{2, 3, 4}, {-1, 0, 1}}}) {
    auto x = random_floats(static_cast<size_t>(count(c.x)), 91);
    Attrs attrs;
    if (!c.perm.empty()) attrs["perm"] = c.perm;
    auto r = run_op("Transpose", {f32(c.x, x)}, attrs);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    Dims perm = c.perm;
    if (perm.empty())
      for (size_t i = 0; i < c.x.size(); ++i) perm.push_back(static_cast<int64_t>(c.x.size() - 1 - i));
    for (int64_t& p : perm)
      if (p < 0) p += static_cast<int64_t>(c.x.size());
    Dims out;
    for (int64_t p : perm) out.push_back(c.x[static_cast<size_t>(p)]);
    ASSERT_EQ((*r)[0].dims, out);
    auto got = (*r)[0].f();
    for (int64_t i = 0; i < count(out); ++i) {
      Dims oi = unravel(i, out), ii(c.x.size());
      for (size_t k = 0; k < perm.size(); ++k) ii[static_cast<size_t>(perm[k])] = oi[k];
      ASSERT_EQ(got[static_cast<size_t>(i)], x[static_cast<size_t>(broadcast_offset(ii, c.x))]) << i;
    }
  }
  auto r = run_op("Transpose", {i64({2, 2}, {1, 2, 3, 4})});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{1, 3, 2, 4}));
}

TEST(DataMovement, ConcatAxes) {
  auto a = iota_f(6);
  std::vector<float> b = {10, 11, 12, 13};
  auto r = run_op("Concat", {f32({2, 3}, a), f32({2, 2}, b)}, {{"axis", int64_t{-1}}});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].dims, (Dims{2, 5}));
  EXPECT_EQ((*r)[0].f(), (std::vector<float>{0, 1, 2, 10, 11, 3, 4, 5, 12, 13}));
  r = run_op("Concat", {f32({2, 3}, a), f32({1, 3}, {7, 8, 9}), f32({1, 3}, {4, 4, 4})}, {{"axis", int64_t{0}}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].f(), (std::vector<float>{0, 1, 2, 3, 4, 5, 7, 8, 9, 4, 4, 4}));
  r = run_op("Concat", {i64({1}, {5}), i64({2}, {-1, 3})}, {{"axis", int64_t{0}}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{5, -1, 3}));
}

TEST(DataMovement, GatherAxesAndNegativeIndices) {
  auto x = iota_f(12);  // [3, 4]
  auto r = run_op("Gather", {f32({3, 4}, x), i64({2}, {2, -3})});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].dims, (Dims{2, 4}));
  EXPECT_EQ((*r)[0].f(), (std::vector<float>{8, 9, 10, 11, 0, 1, 2, 3}));
  r = run_op("Gather", {f32({3, 4}, x), i32({2, 2}, {3, 0, 1, -1})}, {{"axis", int64_t{1}}});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].dims, (Dims{3, 2, 2}));
  EXPECT_EQ((*r)[0].f(), (std::vector<float>{3, 0, 1, 3, 7, 4, 5, 7, 11, 8, 9, 11}));
  r = run_op("Gather", {i64({4}, {10, 20, 30, 40}), i64({}, {-1})});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].dims, Dims{});
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{40}));
  r = run_op("Gather", {f32({3, 4}, x), i64({1}, {3})});  // out of range at run time
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("out of range"), std::string::npos);
}

TEST(DataMovement, ShapeWithStartEnd) {
  auto r = run_op("Shape", {f32({2, 3, 4}, iota_f(24))});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].dtype, DType::kInt64);
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{2, 3, 4}));
  r = run_op("Shape", {f32({2, 3, 4}, iota_f(24))}, {{"start", int64_t{1}}, {"end", int64_t{-1}}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{3}));
  r = run_op("Shape", {f32({2, 3, 4}, iota_f(24))}, {{"start", int64_t{-10}}, {"end", int64_t{10}}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{2, 3, 4}));
}

TEST(DataMovement, Cast) {
  const int64_t kOnnxFloat = 1, kOnnxInt64 = 7, kOnnxBool = 9, kOnnxInt32 = 6;
  auto r = run_op("Cast", {f32({5}, {1.7f, -1.7f, 0.0f, 3e20f, -2.0f})}, {{"to", kOnnxInt64}});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].dtype, DType::kInt64);
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{1, -1, 0, INT64_MAX, -2}));
  r = run_op("Cast", {i64({3}, {-3, 0, 7})}, {{"to", kOnnxFloat}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].f(), (std::vector<float>{-3, 0, 7}));
  r = run_op("Cast", {f32({3}, {0.5f, 0.0f, -2})}, {{"to", kOnnxBool}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<uint8_t>(), (std::vector<uint8_t>{1, 0, 1}));
  r = run_op("Cast", {boolean({2}, {1, 0})}, {{"to", kOnnxInt32}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<int32_t>(), (std::vector<int32_t>{1, 0}));
  r = run_op("Cast", {f32({1}, {1})}, {{"to", int64_t{99}}});
  ASSERT_FALSE(r.is_ok());
}

}  // namespace
}  // namespace lw::test
