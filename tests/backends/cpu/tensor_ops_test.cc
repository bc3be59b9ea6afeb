// Slice, Split, Expand, Tile, Pad, ConstantOfShape, Range and Resize against naive loops.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

std::vector<float> iota_f(size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

int64_t offset_of(const Dims& idx, const Dims& dims) {
  int64_t off = 0;
  for (size_t d = 0; d < dims.size(); ++d) off = off * dims[d] + idx[d];
  return off;
}

TEST(Slice, StepsNegativeAndClampedIndicesMatchNaive) {
  Dims x = {4, 5, 6};
  auto xv = random_floats(static_cast<size_t>(count(x)), 3);
  struct Case {
    Dims starts, ends, axes, steps;
  };
  const int64_t kBig = INT64_MAX, kSmall = INT64_MIN;
  for (const Case& c : {Case{{1, 0}, {3, 5}, {0, 1}, {1, 2}}, Case{{-1}, {kSmall}, {2}, {-1}},
                        Case{{0, 10}, {kBig, -100}, {-1, 1}, {3, -2}}, Case{{2}, {2}, {0}, {1}},
                        Case{{0, 0, 0}, {4, 5, 6}, {}, {}}}) {
    std::vector<TensorIn> in = {f32(x, xv), i64({static_cast<int64_t>(c.starts.size())}, c.starts, true),
                                i64({static_cast<int64_t>(c.ends.size())}, c.ends, true)};
    Dims axes = c.axes;
    if (!axes.empty()) in.push_back(i64({static_cast<int64_t>(axes.size())}, axes, true));
    if (!c.steps.empty()) {
      if (axes.empty()) in.push_back(omitted());
      in.push_back(i64({static_cast<int64_t>(c.steps.size())}, c.steps, true));
    }
    auto r = run_op("Slice", in);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    // Naive: python-style slicing per axis with explicit clamping.
    std::vector<std::vector<int64_t>> picks(3);
    for (size_t d = 0; d < 3; ++d)
      for (int64_t i = 0; i < x[d]; ++i) picks[d].push_back(i);
    for (size_t k = 0; k < c.starts.size(); ++k) {
      int64_t a = axes.empty() ? static_cast<int64_t>(k) : (axes[k] < 0 ? axes[k] + 3 : axes[k]);
      int64_t n = x[static_cast<size_t>(a)], step = c.steps.empty() ? 1 : c.steps[k];
      auto norm = [&](int64_t v, int64_t lo, int64_t hi) {
        if (v < 0) v = v < -n ? lo : v + n;
        return std::min(std::max(v, lo), hi);
      };
      int64_t s = step > 0 ? norm(c.starts[k], 0, n) : norm(c.starts[k], 0, n - 1);
      int64_t e = step > 0 ? norm(c.ends[k], 0, n) : norm(c.ends[k], -1, n - 1);
      std::vector<int64_t> p;
      for (int64_t i = s; step > 0 ? i < e : i > e; i += step) p.push_back(i);
      picks[static_cast<size_t>(a)] = p;
    }
    Dims want_dims = {static_cast<int64_t>(picks[0].size()), static_cast<int64_t>(picks[1].size()),
                      static_cast<int64_t>(picks[2].size())};
    ASSERT_EQ((*r)[0].dims, want_dims);
    std::vector<float> want;
    for (int64_t i : picks[0])
      for (int64_t j : picks[1])
        for (int64_t k : picks[2]) want.push_back(xv[static_cast<size_t>(offset_of({i, j, k}, x))]);
    EXPECT_EQ((*r)[0].f(), want);
  }
}

TEST(Slice, StepZeroIsAnErrorNamingTheNode) {
  auto r = run_op("Slice", {f32({4}, iota_f(4)), i64({1}, {0}, true), i64({1}, {4}, true), i64({1}, {0}, true),
                            i64({1}, {0}, true)});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("steps must not be 0"), std::string::npos) << r.status().message();
}

TEST(Split, EqualAndExplicitSizes) {
  Dims x = {2, 6, 3};
  auto xv = iota_f(36);
  auto r = run_op("Split", {f32(x, xv), i64({3}, {1, 2, 3}, true)}, {{"axis", int64_t{1}}}, 3);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  int64_t begin = 0;
  for (int k = 0; k < 3; ++k) {
    int64_t len = k + 1;
    ASSERT_EQ((*r)[static_cast<size_t>(k)].dims, (Dims{2, len, 3}));
    std::vector<float> want;
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t b = begin; b < begin + len; ++b)
        for (int64_t c = 0; c < 3; ++c) want.push_back(xv[static_cast<size_t>(offset_of({a, b, c}, x))]);
    EXPECT_EQ((*r)[static_cast<size_t>(k)].f(), want);
    begin += len;
  }
  r = run_op("Split", {f32(x, xv)}, {{"axis", int64_t{-1}}}, 3);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[2].dims, (Dims{2, 6, 1}));
  auto last = (*r)[2].f();
  for (size_t i = 0; i < last.size(); ++i) EXPECT_EQ(last[i], xv[i * 3 + 2]);
  EXPECT_FALSE(run_op("Split", {f32({5}, iota_f(5))}, {}, 2).is_ok());
}

TEST(Expand, BidirectionalBroadcast) {
  auto xv = iota_f(3);
  auto r = run_op("Expand", {f32({3, 1}, xv), i64({3}, {2, 1, 4}, true)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ((*r)[0].dims, (Dims{2, 3, 4}));
  auto got = (*r)[0].f();
  for (int64_t i = 0; i < 24; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], xv[static_cast<size_t>((i / 4) % 3)]);
  EXPECT_FALSE(run_op("Expand", {f32({3}, xv), i64({1}, {2}, true)}).is_ok());
}

TEST(Tile, RepeatsEveryDim) {
  Dims x = {2, 3};
  auto xv = iota_f(6);
  auto r = run_op("Tile", {f32(x, xv), i64({2}, {3, 2}, true)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ((*r)[0].dims, (Dims{6, 6}));
  auto got = (*r)[0].f();
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 6; ++j)
      EXPECT_EQ(got[static_cast<size_t>(i * 6 + j)], xv[static_cast<size_t>((i % 2) * 3 + j % 3)]);
}

float pad_naive(const std::vector<float>& xv, const Dims& x, const Dims& idx, const Dims& pads, const std::string& mode,
                float value) {
  size_t r = x.size();
  Dims src(r);
  for (size_t d = 0; d < r; ++d) {
    int64_t j = idx[d] - pads[d], n = x[d];
    if (j < 0 || j >= n) {
      if (mode == "constant") return value;
      if (mode == "edge") j = j < 0 ? 0 : n - 1;
      else
        while (j < 0 || j >= n) j = j < 0 ? -j : 2 * (n - 1) - j;  // reflect, repeatedly
    }
    src[d] = j;
  }
  return xv[static_cast<size_t>(offset_of(src, x))];
}

TEST(Pad, ConstantEdgeReflectAndNegativePads) {
  Dims x = {3, 4};
  auto xv = random_floats(12, 9);
  for (std::string mode : {"constant", "edge", "reflect"}) {
    for (Dims pads : {Dims{1, 2, 2, 1}, Dims{0, 3, 0, 3}, Dims{-1, 1, 1, -2}}) {
      std::vector<TensorIn> in = {f32(x, xv), i64({4}, pads, true)};
      if (mode == "constant") in.push_back(f32({}, {2.5f}));
      auto r = run_op("Pad", in, {{"mode", mode}});
      ASSERT_TRUE(r.is_ok()) << mode << ": " << r.status().message();
      Dims out = {x[0] + pads[0] + pads[2], x[1] + pads[1] + pads[3]};
      ASSERT_EQ((*r)[0].dims, out);
      auto got = (*r)[0].f();
      for (int64_t i = 0; i < out[0]; ++i)
        for (int64_t j = 0; j < out[1]; ++j)
          ASSERT_EQ(got[static_cast<size_t>(i * out[1] + j)], pad_naive(xv, x, {i, j}, pads, mode, 2.5f))
              << mode << " at " << i << "," << j;
    }
  }
  EXPECT_FALSE(run_op("Pad", {f32(x, xv), i64({4}, {-4, 0, 0, 0}, true)}).is_ok());
}

TEST(ConstantOfShapeRange, ValuesAndTypes) {
  ir::TensorData value;
  value.dtype = DType::kInt64;
  value.dims = {1};
  int64_t seven = 7;
  value.bytes = Blob::copy_of(&seven, 8);
  auto r = run_op("ConstantOfShape", {i64({2}, {2, 3}, true)}, {{"value", value}});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].dtype, DType::kInt64);
  EXPECT_EQ((*r)[0].as<int64_t>(), std::vector<int64_t>(6, 7));
  r = run_op("ConstantOfShape", {i64({1}, {4}, true)});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].f(), std::vector<float>(4, 0.0f));

  r = run_op("Range", {i64({}, {10}, true), i64({}, {-3}, true), i64({}, {-4}, true)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{10, 6, 2, -2}));
  r = run_op("Range", {f32({}, {0.5f}, true), f32({}, {2.0f}, true), f32({}, {0.5f}, true)});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].f(), (std::vector<float>{0.5f, 1.0f, 1.5f}));
  EXPECT_FALSE(run_op("Range", {i64({}, {0}, true), i64({}, {5}, true), i64({}, {0}, true)}).is_ok());
}

// Naive 2-D bilinear resize with half_pixel coordinates and edge clamping.
TEST(Resize, LinearHalfPixelAndNearestAsymmetric) {
  Dims x = {1, 2, 3, 4};
  auto xv = random_floats(24, 17);
  auto r = run_op("Resize", {f32(x, xv), omitted(), f32({4}, {1.0f, 1.0f, 2.0f, 1.5f}, true)},
                  {{"mode", std::string("linear")}});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ((*r)[0].dims, (Dims{1, 2, 6, 6}));
  auto got = (*r)[0].f();
  auto src = [&](int64_t o, float scale, int64_t n, int64_t* i0, int64_t* i1, float* f) {
    float v = std::min(std::max((static_cast<float>(o) + 0.5f) / scale - 0.5f, 0.0f), static_cast<float>(n - 1));
    *i0 = static_cast<int64_t>(std::floor(v));
    *i1 = std::min(*i0 + 1, n - 1);
    *f = v - static_cast<float>(*i0);
  };
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t h = 0; h < 6; ++h)
      for (int64_t w = 0; w < 6; ++w) {
        int64_t h0, h1, w0, w1;
        float fh, fw;
        src(h, 2.0f, 3, &h0, &h1, &fh);
        src(w, 1.5f, 4, &w0, &w1, &fw);
        auto at = [&](int64_t a, int64_t b) { return xv[static_cast<size_t>(offset_of({0, c, a, b}, x))]; };
        float want = (1 - fh) * ((1 - fw) * at(h0, w0) + fw * at(h0, w1)) + fh * ((1 - fw) * at(h1, w0) + fw * at(h1, w1));
        ASSERT_NEAR(got[static_cast<size_t>(offset_of({0, c, h, w}, {1, 2, 6, 6}))], want, 1e-5f);
      }
  r = run_op("Resize", {f32(x, xv), omitted(), omitted(), i64({4}, {1, 2, 5, 9}, true)},
             {{"mode", std::string("nearest")}, {"coordinate_transformation_mode", std::string("asymmetric")},
              {"nearest_mode", std::string("floor")}});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ((*r)[0].dims, (Dims{1, 2, 5, 9}));
  got = (*r)[0].f();
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t h = 0; h < 5; ++h)
      for (int64_t w = 0; w < 9; ++w) {
        int64_t sh = std::min<int64_t>(static_cast<int64_t>(std::floor(h / (5.0f / 3.0f))), 2);
        int64_t sw = std::min<int64_t>(static_cast<int64_t>(std::floor(w / (9.0f / 4.0f))), 3);
        ASSERT_EQ(got[static_cast<size_t>(offset_of({0, c, h, w}, {1, 2, 5, 9}))],
                  xv[static_cast<size_t>(offset_of({0, c, sh, sw}, x))]);
      }
}

TEST(Resize, BothScalesAndSizesIsAnError) {
  auto r = run_op("Resize", {f32({1, 1, 2, 2}, iota_f(4)), omitted(), f32({4}, {1, 1, 2, 2}, true),
                             i64({4}, {1, 1, 4, 4}, true)});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("only one of"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace lw::test
