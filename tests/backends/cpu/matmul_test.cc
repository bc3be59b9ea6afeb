// MatMul and Gemm (oneDNN) against naive triple loops.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

void expect_sum_close(const std::vector<float>& got, const std::vector<double>& want, double rel = 1e-4) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 1e-6;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], rel * scale) << "at " << i;
}

struct MatMulCase {
  Dims a, b, out;
};

class MatMulShapes : public ::testing::TestWithParam<MatMulCase> {};

TEST_P(MatMulShapes, MatchesNaiveLoop) {
  const MatMulCase& c = GetParam();
  auto av = random_floats(static_cast<size_t>(count(c.a)), 11);
  auto bv = random_floats(static_cast<size_t>(count(c.b)), 12);
  auto r = run_op("MatMul", {f32(c.a, av), f32(c.b, bv)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ((*r)[0].dims, c.out);
  // numpy semantics with 1-D promotion and batch broadcasting.
  Dims a = c.a, b = c.b;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  size_t rank = std::max(a.size(), b.size());
  a.insert(a.begin(), rank - a.size(), 1);
  b.insert(b.begin(), rank - b.size(), 1);
  int64_t m = a[rank - 2], k = a[rank - 1], n = b[rank - 1];
  Dims batch(rank - 2);
  for (size_t i = 0; i + 2 < rank; ++i) batch[i] = std::max(a[i], b[i]);
  std::vector<double> want;
  for (int64_t bi = 0; bi < count(batch); ++bi) {
    Dims idx = unravel(bi, batch);
    int64_t ao = 0, bo = 0;
    for (size_t i = 0; i + 2 < rank; ++i) {
      ao = ao * a[i] + (a[i] == 1 ? 0 : idx[i]);
      bo = bo * b[i] + (b[i] == 1 ? 0 : idx[i]);
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q)
          s += static_cast<double>(av[static_cast<size_t>(ao * m * k + i * k + q)]) *
               bv[static_cast<size_t>(bo * k * n + q * n + j)];
        want.push_back(s);
      }
  }
  expect_sum_close((*r)[0].f(), want);
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatMulShapes,
                         ::testing::Values(MatMulCase{{3, 4}, {4, 5}, {3, 5}},
                                           MatMulCase{{64, 130}, {130, 33}, {64, 33}},
                                           MatMulCase{{2, 3, 4}, {2, 4, 6}, {2, 3, 6}},
                                           MatMulCase{{2, 3, 4}, {4, 6}, {2, 3, 6}},
                                           MatMulCase{{3, 4}, {5, 4, 2}, {5, 3, 2}},
                                           MatMulCase{{2, 1, 3, 4}, {5, 4, 6}, {2, 5, 3, 6}},
                                           MatMulCase{{4}, {4, 5}, {5}},
                                           MatMulCase{{2, 3, 4}, {4}, {2, 3}},
                                           MatMulCase{{4}, {4}, {}},
                                           MatMulCase{{7}, {3, 7, 2}, {3, 2}}));

TEST(MatMul, EmptyInnerDimGivesZeros) {
  auto r = run_op("MatMul", {f32({2, 0}, {}), f32({0, 3}, {})});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].f(), std::vector<float>(6, 0.0f));
}

struct GemmCase {
  int64_t m, k, n;
  bool ta, tb;
  float alpha, beta;
  Dims c;  // empty vector with has_c=false means no C
  bool has_c;
};

class GemmShapes : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmShapes, MatchesNaiveLoop) {
  const GemmCase& g = GetParam();
  Dims ad = g.ta ? Dims{g.k, g.m} : Dims{g.m, g.k};
  Dims bd = g.tb ? Dims{g.n, g.k} : Dims{g.k, g.n};
  auto av = random_floats(static_cast<size_t>(count(ad)), 21);
  auto bv = random_floats(static_cast<size_t>(count(bd)), 22);
  auto cv = random_floats(static_cast<size_t>(count(g.c)), 23);
  std::vector<TensorIn> ins = {f32(ad, av), f32(bd, bv, true)};
  if (g.has_c) ins.push_back(f32(g.c, cv, true));
  Attrs attrs = {{"transA", int64_t{g.ta}}, {"transB", int64_t{g.tb}}, {"alpha", g.alpha}, {"beta", g.beta}};
  auto r = run_op("Gemm", ins, attrs);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ((*r)[0].dims, (Dims{g.m, g.n}));
  std::vector<double> want;
  Dims out = {g.m, g.n};
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      double s = 0;
      for (int64_t q = 0; q < g.k; ++q) {
        float x = g.ta ? av[static_cast<size_t>(q * g.m + i)] : av[static_cast<size_t>(i * g.k + q)];
        float y = g.tb ? bv[static_cast<size_t>(j * g.k + q)] : bv[static_cast<size_t>(q * g.n + j)];
        s += static_cast<double>(x) * y;
      }
      s *= g.alpha;
      if (g.has_c) s += g.beta * cv[static_cast<size_t>(broadcast_offset({i, j}, g.c))];
      want.push_back(s);
    }
  expect_sum_close((*r)[0].f(), want);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GemmShapes,
    ::testing::Values(GemmCase{3, 4, 5, false, false, 1.0f, 1.0f, {5}, true},          // linear layer, bias
                      GemmCase{8, 16, 10, false, true, 1.0f, 1.0f, {10}, true},        // torch Linear form
                      GemmCase{5, 3, 4, true, false, 1.0f, 1.0f, {5, 4}, true},        // full C
                      GemmCase{5, 3, 4, true, true, 0.5f, 2.0f, {5, 1}, true},         // column C, scaled
                      GemmCase{6, 7, 2, false, false, 2.0f, 1.0f, {}, true},           // scalar C, alpha
                      GemmCase{6, 7, 2, false, true, 1.0f, 0.25f, {1, 2}, true},       // beta only
                      GemmCase{4, 9, 3, true, false, 1.5f, 1.0f, {}, false},           // no C
                      GemmCase{33, 65, 17, false, false, 1.0f, 0.0f, {17}, true}));    // beta 0 ignores C

TEST(Gemm, EmptyInnerDimGivesBetaC) {
  auto r = run_op("Gemm", {f32({2, 0}, {}), f32({0, 3}, {}), f32({3}, {1, 2, 3})}, {{"beta", 2.0f}});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].f(), (std::vector<float>{2, 4, 6, 2, 4, 6}));
}

TEST(Gemm, WeightsAreReadAtRunTimeNotCreation) {
  // B as a Data input (a refreshable weight): the kernel must use the bytes given at run.
  auto r = run_op("Gemm", {f32({1, 2}, {1, 2}), f32({2, 2}, {1, 0, 0, 1}), f32({2}, {0.5f, 0.5f})});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].f(), (std::vector<float>{1.5f, 2.5f}));
}

}  // namespace
}  // namespace lw::test
