// packed_gemm (A against B in panels of 16 columns) against a naive double loop: row counts
// around the 6-row register block, K in one and in several passes (over 512), N with and without
// a partial last panel, B packed from [k, n] and from a transposed [n, k], with and without a
// bias, plain, Relu and Clip ranges, one, two and five threads; then a Gemm and a MatMul with Const B
// through the kernel registry, which take it on AVX2 machines.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/kernel_harness.h"
#include "support/matmul_layout.h"

namespace lw::test {
namespace {

// B [k, n] (row-major) packed into the panel layout, from B itself or from its transpose.
std::vector<float> pack_b(const std::vector<float>& b, int64_t k, int64_t n, bool from_transpose,
                          StoreMode mode = StoreMode::kCached) {
  std::vector<float> source = b;
  if (from_transpose) {  // the caller holds W = B^T, [n, k]
    for (int64_t q = 0; q < k; ++q)
      for (int64_t j = 0; j < n; ++j) source[static_cast<size_t>(j * k + q)] = b[static_cast<size_t>(q * n + j)];
  }
  auto packing = cpu::packed_gemm_b_packing(k, n, from_transpose);
  EXPECT_EQ(packing->key,
            cpu::make_weight_packing(from_transpose ? cpu::plain_desc({n, k}) : cpu::plain_desc({k, n}),
                                     cpu::packed_gemm_b_desc(k, n, from_transpose))
                ->key);
  // 64-byte aligned storage, so that the streaming pack streams.
  std::vector<float> storage(packing->bytes / sizeof(float) + 16, -7.0f);
  float* out_data = storage.data();
  while (reinterpret_cast<uintptr_t>(out_data) % 64 != 0) ++out_data;
  EXPECT_TRUE(packing->pack(source.data(), out_data, mode).is_ok());
  std::vector<float> out(out_data, out_data + packing->bytes / sizeof(float));
  // The layout is what the kernel reads: panel p, row q, column j at p * k * 16 + q * 16 + j.
  for (int64_t q = 0; q < k; ++q)
    for (int64_t j = 0; j < (n + 15) / 16 * 16; ++j) {
      const float want = j < n ? b[static_cast<size_t>(q * n + j)] : 0.0f;
      const float got = out[static_cast<size_t>(j / 16 * k * 16 + q * 16 + j % 16)];
      if (got != want) {
        ADD_FAILURE() << "packed B at row " << q << ", column " << j << ": " << got << " expected " << want;
        return out;
      }
    }
  // And back: saving weights reads a packed Variable through unpack.
  std::vector<float> back(source.size());
  EXPECT_TRUE(packing->unpack(out.data(), back.data()).is_ok());
  EXPECT_EQ(back, source);
  return out;
}

TEST(PackedGemm, MatchesNaiveLoop) {
  if (!cpu::packed_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  const float inf = std::numeric_limits<float>::infinity();
  struct Range {
    float lo, hi;
  };
  struct Size {
    int64_t m, k, n;
  };
  int checked = 0;
  for (Size sz : {Size{1, 1, 1}, Size{5, 7, 3}, Size{6, 64, 16}, Size{13, 300, 40}, Size{40, 1100, 33},
                  Size{128, 512, 48}, Size{7, 513, 70}, Size{30, 1100, 400}}) {
    const int64_t m = sz.m, k = sz.k, n = sz.n;
    auto a = random_floats(static_cast<size_t>(m * k), 1);
    auto b = random_floats(static_cast<size_t>(k * n), 2);
    auto bias = random_floats(static_cast<size_t>(n), 3);
    for (bool from_transpose : {false, true}) {
      const std::vector<float> packed = pack_b(b, k, n, from_transpose);
      EXPECT_EQ(pack_b(b, k, n, from_transpose, StoreMode::kStreaming), packed) << "streamed";
      for (bool with_bias : {false, true})
        for (Range r : {Range{-inf, inf}, Range{0.0f, inf}, Range{-0.3f, 0.4f}})
          // 5 threads on fewer cores: some are descheduled mid-product, and the others take
          // their panels (packed_gemm's PanelShares).
          for (int threads : {1, 2, 5}) {
            std::vector<float> y(static_cast<size_t>(m * n), 99.0f);
            cpu::packed_gemm(a.data(), k, packed.data(), with_bias ? bias.data() : nullptr, y.data(), n, m, k, n, r.lo,
                             r.hi, threads);
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < n; ++j) {
                double acc = with_bias ? bias[static_cast<size_t>(j)] : 0.0;
                for (int64_t q = 0; q < k; ++q)
                  acc += double(a[static_cast<size_t>(i * k + q)]) * b[static_cast<size_t>(q * n + j)];
                acc = std::min(std::max(acc, double(r.lo)), double(r.hi));
                ASSERT_NEAR(y[static_cast<size_t>(i * n + j)], acc, 1e-4 * std::max(1.0, std::sqrt(double(k))))
                    << "m " << m << " k " << k << " n " << n << " at " << i << "," << j << " bias " << with_bias
                    << " threads " << threads << (from_transpose ? " (from W^T)" : "");
              }
            ++checked;
          }
    }
  }
  EXPECT_EQ(checked, 8 * 2 * 2 * 3 * 3);
}

// A NaN in A reaches the output through a Relu, as through oneDNN's and the other kernels'.
TEST(PackedGemm, NanPassesTheClamp) {
  if (!cpu::packed_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  constexpr int64_t m = 3, k = 4, n = 2;
  std::vector<float> a(m * k, 1.0f), b(k * n, 0.5f);
  a[static_cast<size_t>(1 * k + 2)] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> packed = pack_b(b, k, n, false);
  std::vector<float> y(m * n);
  cpu::packed_gemm(a.data(), k, packed.data(), nullptr, y.data(), n, m, k, n, 0.0f,
                   std::numeric_limits<float>::infinity(), 1);
  EXPECT_EQ(y[0], 2.0f);
  EXPECT_TRUE(std::isnan(y[static_cast<size_t>(1 * n)]));
  EXPECT_TRUE(std::isnan(y[static_cast<size_t>(1 * n + 1)]));
  EXPECT_EQ(y[static_cast<size_t>(2 * n)], 2.0f);
}

// A Gemm (transB, bias) and a MatMul over more rows than skinny_gemm takes, with Const B: on an
// AVX2 machine, where oneDNN runs its AVX2 gemm, they run on packed_gemm (AVX-512 machines keep
// oneDNN's matmul with its own blocked B); either way they match a naive loop.
TEST(PackedGemm, GemmAndMatMulUseItOnAvx2) {
  constexpr int64_t m = 40, k = 300, n = 37;
  const bool expected = cpu::packed_gemm_supported() && !matmul_prefers_blocked_b(m, k, n);
  auto a = random_floats(m * k, 21), w = random_floats(n * k, 22), c = random_floats(n, 23);
  for (bool gemm : {true, false}) {
    // Gemm: W [n, k] with transB and C; MatMul: the same numbers as B = W^T [k, n], no bias.
    std::vector<float> b(static_cast<size_t>(k * n));
    for (int64_t q = 0; q < k; ++q)
      for (int64_t j = 0; j < n; ++j) b[static_cast<size_t>(q * n + j)] = w[static_cast<size_t>(j * k + q)];
    std::vector<TensorIn> in = gemm ? std::vector<TensorIn>{f32({m, k}, a), f32({n, k}, w, true), f32({n}, c)}
                                    : std::vector<TensorIn>{f32({m, k}, a), f32({k, n}, b, true)};
    auto prepared = gemm ? prepare_op("Gemm", in, {{"transB", int64_t{1}}}) : prepare_op("MatMul", in);
    ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
    EXPECT_EQ(prepared->kernel->implementation() == "lw:packed_gemm_avx2", expected)
        << prepared->kernel->implementation();
    auto out = execute(*prepared, in);
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    std::vector<float> y = (*out)[0].f();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = gemm ? c[static_cast<size_t>(j)] : 0.0;
        for (int64_t q = 0; q < k; ++q) acc += double(a[static_cast<size_t>(i * k + q)]) * w[static_cast<size_t>(j * k + q)];
        ASSERT_NEAR(y[static_cast<size_t>(i * n + j)], acc, 1e-4) << (gemm ? "Gemm " : "MatMul ") << i << "," << j;
      }
  }
}

}  // namespace
}  // namespace lw::test
