// ArgMax/ArgMin, Trilu, Mod, PRelu, GlobalMaxPool, Size and IsInf against naive loops.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

TEST(MiscOps, ArgMaxArgMinEveryAxisWithTies) {
  Dims x = {3, 4, 5};
  auto xv = random_floats(60, 21);
  xv[7] = xv[2];  // a tie along axis 1 ... checked by the naive loop either way
  for (int64_t axis = 0; axis < 3; ++axis)
    for (int64_t last : {0, 1})
      for (std::string op : {"ArgMax", "ArgMin"}) {
        auto r = run_op(op, {f32(x, xv)}, {{"axis", axis}, {"keepdims", int64_t{0}}, {"select_last_index", last}});
        ASSERT_TRUE(r.is_ok()) << r.status().message();
        auto got = (*r)[0].as<int64_t>();
        size_t a = static_cast<size_t>(axis);
        size_t o = 0;
        for (int64_t i = 0; i < 60; ++i) {
          Dims idx = unravel(i, x);
          if (idx[a] != 0) continue;
          int64_t best = 0;
          for (int64_t k = 1; k < x[a]; ++k) {
            Dims j = idx, b = idx;
            j[a] = k;
            b[a] = best;
            float v = xv[static_cast<size_t>((j[0] * 4 + j[1]) * 5 + j[2])];
            float w = xv[static_cast<size_t>((b[0] * 4 + b[1]) * 5 + b[2])];
            if (op == "ArgMax" ? (v > w || (last && v == w)) : (v < w || (last && v == w))) best = k;
          }
          ASSERT_EQ(got[o++], best) << op << " axis " << axis;
        }
      }
}

TEST(MiscOps, TriluUpperLowerWithK) {
  Dims x = {2, 3, 4};
  auto xv = random_floats(24, 22);
  for (int64_t upper : {0, 1})
    for (int64_t k : {-5, -1, 0, 2, 9}) {
      auto r = run_op("Trilu", {f32(x, xv), i64({}, {k}, true)}, {{"upper", upper}});
      ASSERT_TRUE(r.is_ok()) << r.status().message();
      for (int64_t i = 0; i < 24; ++i) {
        Dims idx = unravel(i, x);
        bool keep = upper ? idx[2] - idx[1] >= k : idx[2] - idx[1] <= k;
        ASSERT_EQ((*r)[0].f()[static_cast<size_t>(i)], keep ? xv[static_cast<size_t>(i)] : 0.0f);
      }
    }
}

TEST(MiscOps, ModPythonAndCSemantics) {
  std::vector<int64_t> a = {7, -7, 7, -7, 0}, b = {3, 3, -3, -3, 5};
  auto r = run_op("Mod", {i64({5}, a), i64({5}, b)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{1, 2, -2, -1, 0}));
  r = run_op("Mod", {i64({5}, a), i64({5}, b)}, {{"fmod", int64_t{1}}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{1, -1, 1, -1, 0}));
  EXPECT_FALSE(run_op("Mod", {f32({1}, {1.5f}), f32({1}, {1.0f})}).is_ok());  // float needs fmod=1
}

TEST(MiscOps, PReluGlobalMaxPoolSizeIsInf) {
  auto xv = random_floats(24, 23);
  auto slope = random_floats(3, 24);
  auto r = run_op("PRelu", {f32({2, 3, 4}, xv), f32({3, 1}, slope)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  for (size_t i = 0; i < 24; ++i) {
    float s = slope[(i / 4) % 3];
    EXPECT_EQ((*r)[0].f()[i], xv[i] < 0 ? s * xv[i] : xv[i]);
  }
  r = run_op("GlobalMaxPool", {f32({2, 3, 4}, xv)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].dims, (Dims{2, 3, 1}));
  for (size_t p = 0; p < 6; ++p) EXPECT_EQ((*r)[0].f()[p], *std::max_element(xv.begin() + p * 4, xv.begin() + p * 4 + 4));
  r = run_op("Size", {f32({2, 3, 4}, xv)});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{24}));
  r = run_op("IsInf", {f32({4}, {INFINITY, -INFINITY, NAN, 1.0f})}, {{"detect_negative", int64_t{0}}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<uint8_t>(), (std::vector<uint8_t>{1, 0, 0, 0}));
}

}  // namespace
}  // namespace lw::test

namespace lw::test {
namespace {

// Shape inputs that ask for absurd outputs fail with an error naming the node; nothing throws.
TEST(MiscOps, AbsurdOutputSizesFailCleanly) {
  auto x = random_floats(6, 25);
  auto r = run_op("Tile", {f32({2, 3}, x), i64({2}, {int64_t{1} << 31, int64_t{1} << 31}, true)});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("node_under_test"), std::string::npos) << r.status().message();
  r = run_op("Pad", {f32({2, 3}, x), i64({4}, {0, 0, 0, int64_t{1} << 40}, true)});
  ASSERT_FALSE(r.is_ok());
  r = run_op("Resize", {f32({2, 3}, x), omitted(), omitted(), i64({2}, {int64_t{1} << 30, int64_t{1} << 30}, true)});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("node_under_test"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace lw::test
