// packed_gemm (A against B in panels of columns) against a naive double loop, on each code path
// the CPU runs (AVX2: 6 x 16 blocks; AVX-512: 8 x 48 and 6 x 64): row counts around the register
// blocks, K in one and in several passes (over 512), N with and without a partial last panel, B
// packed from [k, n] and from a transposed [n, k], with and without a bias, plain, Relu and Clip
// ranges, one, two and five threads; then a Gemm and a MatMul with Const B through the kernel
// registry, which take it on AVX2 machines for many rows and on AVX-512 machines for any.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/cpu/kernels/skinny_gemm.h"
#include "backends/kernel_harness.h"
#include "support/matmul_layout.h"

namespace lw::test {
namespace {

// The paths this CPU runs.
std::vector<cpu::GemmPath> supported_paths() {
  std::vector<cpu::GemmPath> paths;
  for (cpu::GemmPath p : cpu::kAllGemmPaths)
    if (cpu::packed_gemm_supported(p)) paths.push_back(p);
  return paths;
}

const char* path_name(cpu::GemmPath p) {
  switch (p) {
    case cpu::GemmPath::kAvx2:
      return "avx2 6 x 16";
    case cpu::GemmPath::kAvx512x16:
      return "avx512 14 x 16";
    case cpu::GemmPath::kAvx512x32:
      return "avx512 12 x 32";
    case cpu::GemmPath::kAvx512x48:
      return "avx512 8 x 48";
    case cpu::GemmPath::kAvx512x64:
      return "avx512 6 x 64";
  }
  return "?";
}

// B [k, n] (row-major) packed into `path`'s panel layout, from B itself or from its transpose.
std::vector<float> pack_b(const std::vector<float>& b, int64_t k, int64_t n, bool from_transpose, cpu::GemmPath path,
                          StoreMode mode = StoreMode::kCached) {
  std::vector<float> source = b;
  if (from_transpose) {  // the caller holds W = B^T, [n, k]
    for (int64_t q = 0; q < k; ++q)
      for (int64_t j = 0; j < n; ++j) source[static_cast<size_t>(j * k + q)] = b[static_cast<size_t>(q * n + j)];
  }
  auto packing = cpu::packed_gemm_b_packing(k, n, from_transpose, path);
  EXPECT_EQ(packing->key, cpu::make_weight_packing(from_transpose ? cpu::plain_desc({n, k}) : cpu::plain_desc({k, n}),
                                                   cpu::packed_gemm_b_desc(k, n, from_transpose, path))
                              ->key);
  // 64-byte aligned storage, so that the streaming pack streams.
  std::vector<float> storage(packing->bytes / sizeof(float) + 16, -7.0f);
  float* out_data = storage.data();
  while (reinterpret_cast<uintptr_t>(out_data) % 64 != 0) ++out_data;
  EXPECT_TRUE(packing->pack(source.data(), out_data, mode).is_ok());
  std::vector<float> out(out_data, out_data + packing->bytes / sizeof(float));
  // The layout is what the kernel reads: with P columns a panel, panel p, row q, column j at
  // p * k * P + q * P + j.
  const int64_t panel = cpu::packed_gemm_panel(path);
  EXPECT_EQ(panel, path == cpu::GemmPath::kAvx2 || path == cpu::GemmPath::kAvx512x16 ? 16
                   : path == cpu::GemmPath::kAvx512x32                               ? 32
                   : path == cpu::GemmPath::kAvx512x48                               ? 48
                                                                                     : 64);
  EXPECT_EQ(packing->bytes, static_cast<uint64_t>((n + panel - 1) / panel * panel * k) * sizeof(float));
  for (int64_t q = 0; q < k; ++q)
    for (int64_t j = 0; j < (n + panel - 1) / panel * panel; ++j) {
      const float want = j < n ? b[static_cast<size_t>(q * n + j)] : 0.0f;
      const float got = out[static_cast<size_t>(j / panel * k * panel + q * panel + j % panel)];
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
  const std::vector<cpu::GemmPath> paths = supported_paths();
  for (Size sz : {Size{1, 1, 1}, Size{5, 7, 3}, Size{6, 64, 16}, Size{8, 200, 100}, Size{9, 70, 64}, Size{13, 300, 40},
                  Size{16, 513, 130}, Size{40, 1100, 33}, Size{128, 512, 48}, Size{7, 513, 70}, Size{30, 1100, 400}})
    for (cpu::GemmPath path : paths) {
      const int64_t m = sz.m, k = sz.k, n = sz.n;
      auto a = random_floats(static_cast<size_t>(m * k), 1);
      auto b = random_floats(static_cast<size_t>(k * n), 2);
      auto bias = random_floats(static_cast<size_t>(n), 3);
      for (bool from_transpose : {false, true}) {
        const std::vector<float> packed = pack_b(b, k, n, from_transpose, path);
        EXPECT_EQ(pack_b(b, k, n, from_transpose, path, StoreMode::kStreaming), packed) << "streamed";
        for (bool with_bias : {false, true})
          for (Range r : {Range{-inf, inf}, Range{0.0f, inf}, Range{-0.3f, 0.4f}})
            // 5 threads on fewer cores: some are descheduled mid-product, and the others take
            // their panels (packed_gemm's PanelShares).
            for (int threads : {1, 2, 5}) {
              std::vector<float> y(static_cast<size_t>(m * n), 99.0f);
              cpu::packed_gemm(a.data(), k, packed.data(), with_bias ? bias.data() : nullptr, y.data(), n, m, k, n,
                               r.lo, r.hi, threads, path);
              for (int64_t i = 0; i < m; ++i)
                for (int64_t j = 0; j < n; ++j) {
                  double acc = with_bias ? bias[static_cast<size_t>(j)] : 0.0;
                  for (int64_t q = 0; q < k; ++q)
                    acc += double(a[static_cast<size_t>(i * k + q)]) * b[static_cast<size_t>(q * n + j)];
                  acc = std::min(std::max(acc, double(r.lo)), double(r.hi));
                  ASSERT_NEAR(y[static_cast<size_t>(i * n + j)], acc, 1e-4 * std::max(1.0, std::sqrt(double(k))))
                      << "m " << m << " k " << k << " n " << n << " at " << i << "," << j << " bias " << with_bias
                      << " threads " << threads << (from_transpose ? " (from W^T) " : " ") << path_name(path);
                }
              ++checked;
            }
      }
    }
  EXPECT_EQ(checked, static_cast<int>(11 * paths.size()) * 2 * 2 * 3 * 3);
}

// A NaN in A reaches the output through a Relu, as through oneDNN's and the other kernels'.
TEST(PackedGemm, NanPassesTheClamp) {
  if (!cpu::packed_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  constexpr int64_t m = 3, k = 4, n = 2;
  std::vector<float> a(m * k, 1.0f), b(k * n, 0.5f);
  a[static_cast<size_t>(1 * k + 2)] = std::numeric_limits<float>::quiet_NaN();
  for (cpu::GemmPath path : supported_paths()) {
    const std::vector<float> packed = pack_b(b, k, n, false, path);
    std::vector<float> y(m * n);
    cpu::packed_gemm(a.data(), k, packed.data(), nullptr, y.data(), n, m, k, n, 0.0f,
                     std::numeric_limits<float>::infinity(), 1, path);
    EXPECT_EQ(y[0], 2.0f) << path_name(path);
    EXPECT_TRUE(std::isnan(y[static_cast<size_t>(1 * n)])) << path_name(path);
    EXPECT_TRUE(std::isnan(y[static_cast<size_t>(1 * n + 1)])) << path_name(path);
    EXPECT_EQ(y[static_cast<size_t>(2 * n)], 2.0f) << path_name(path);
  }
}

// A Gemm (transB, bias) and a MatMul with Const B through the kernel registry: on an AVX-512
// machine packed_gemm takes them for 8 rows (8 x 48 blocks) and 40 (6 x 64); on an AVX2 machine,
// where oneDNN runs its AVX2 gemm, for more rows than skinny_gemm takes (AVX2 machines with
// oneDNN's blocked matmul keep it). Either way they match a naive loop.
class PackedGemmThroughRegistry : public ::testing::TestWithParam<int64_t> {};

TEST_P(PackedGemmThroughRegistry, GemmAndMatMulMatchNaiveLoops) {
  const int64_t m = GetParam(), k = 300, n = 37;
  const char* expected =
      cpu::avx512_allowed() ? "lw:packed_gemm_avx512"
      : cpu::packed_gemm_supported() && !matmul_prefers_blocked_b(m, k, n) && m > cpu::kSkinnyGemmMaxRows
          ? "lw:packed_gemm_avx2"
          : nullptr;
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
    const std::string implementation = prepared->kernel->implementation();
    if (expected) {
      EXPECT_EQ(implementation, expected);
    } else {
      EXPECT_EQ(implementation.rfind("lw:packed_gemm", 0), std::string::npos) << implementation;
    }
    auto out = execute(*prepared, in);
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    std::vector<float> y = (*out)[0].f();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = gemm ? c[static_cast<size_t>(j)] : 0.0;
        for (int64_t q = 0; q < k; ++q)
          acc += double(a[static_cast<size_t>(i * k + q)]) * w[static_cast<size_t>(j * k + q)];
        ASSERT_NEAR(y[static_cast<size_t>(i * n + j)], acc, 1e-4) << (gemm ? "Gemm " : "MatMul ") << i << "," << j;
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, PackedGemmThroughRegistry, ::testing::Values(int64_t{8}, int64_t{40}));

}  // namespace
}  // namespace lw::test
