// skinny_gemm (few rows of A against W [N, K] as held) against a naive double loop: row counts
// 1 to 16 (odd and even: pairs of rows and a last row alone), K with and without a remainder of
// 8 and in one or several passes of 512, N with and without a partial block of 4 rows of W,
// with and without a bias, plain, Relu and Clip ranges, one and two threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/skinny_gemm.h"
#include "backends/kernel_harness.h"
#include "support/matmul_layout.h"

namespace lw::test {
namespace {

TEST(SkinnyGemm, MatchesNaiveLoop) {
  if (!cpu::skinny_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  const float inf = std::numeric_limits<float>::infinity();
  struct Range {
    float lo, hi;
  };
  int checked = 0;
  for (int64_t m : {1, 3, 8, 9, 16})
    for (int64_t k : {1, 7, 64, 203, 1100})
      for (int64_t n : {1, 5, 70}) {
        auto a = random_floats(static_cast<size_t>(m * k), 1);
        auto w = random_floats(static_cast<size_t>(n * k), 2);
        auto bias = random_floats(static_cast<size_t>(n), 3);
        for (bool with_bias : {false, true})
          for (Range r : {Range{-inf, inf}, Range{0.0f, inf}, Range{-0.3f, 0.4f}})
            for (int threads : {1, 2}) {
              std::vector<float> y(static_cast<size_t>(m * n), 99.0f);
              cpu::skinny_gemm(a.data(), w.data(), with_bias ? bias.data() : nullptr, y.data(), m, k, n, r.lo, r.hi,
                               threads);
              for (int64_t i = 0; i < m; ++i)
                for (int64_t j = 0; j < n; ++j) {
                  double acc = with_bias ? bias[static_cast<size_t>(j)] : 0.0;
                  for (int64_t q = 0; q < k; ++q)
                    acc += double(a[static_cast<size_t>(i * k + q)]) * w[static_cast<size_t>(j * k + q)];
                  acc = std::min(std::max(acc, double(r.lo)), double(r.hi));
                  ASSERT_NEAR(y[static_cast<size_t>(i * n + j)], acc, 1e-4 * std::max(1.0, std::sqrt(double(k))))
                      << "m " << m << " k " << k << " n " << n << " at " << i << "," << j << " bias " << with_bias
                      << " threads " << threads;
                }
              ++checked;
            }
      }
  EXPECT_EQ(checked, 5 * 5 * 3 * 2 * 3 * 2);
}

// A Gemm with transB over a few rows runs on it where the CPU has AVX2 and oneDNN its AVX2 gemm
// (AVX-512 machines pack B for oneDNN's own kernel instead), and matches a naive loop.
TEST(SkinnyGemm, GemmTransBUsesItOnAvx2) {
  constexpr int64_t m = 4, k = 300, n = 37;
  auto a = random_floats(m * k, 11), w = random_floats(n * k, 12), c = random_floats(n, 13);
  std::vector<TensorIn> in = {f32({m, k}, a), f32({n, k}, w, true), f32({n}, c)};
  auto prepared = prepare_op("Gemm", in, {{"transB", int64_t{1}}});
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  const bool expected = cpu::skinny_gemm_supported() && !matmul_prefers_blocked_b(m, k, n);
  EXPECT_EQ(prepared->kernel->implementation() == "lw:skinny_gemm_avx2", expected)
      << prepared->kernel->implementation();
  auto out = execute(*prepared, in);
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  std::vector<float> y = (*out)[0].f();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = c[static_cast<size_t>(j)];
      for (int64_t q = 0; q < k; ++q) acc += double(a[static_cast<size_t>(i * k + q)]) * w[static_cast<size_t>(j * k + q)];
      ASSERT_NEAR(y[static_cast<size_t>(i * n + j)], acc, 1e-4) << i << "," << j;
    }
}

}  // namespace
}  // namespace lw::test
