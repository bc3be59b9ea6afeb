// blocked_pack (the tile copy that writes Gemm/MatMul weights into oneDNN's blocked layout)
// against oneDNN's own reorder into the same layout, byte for byte: sizes that are and are not
// multiples of the blocks (padding must be zeros), plain and transposed sources, 1 and 2 threads.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "backends/cpu/blocked_pack.h"
#include "backends/cpu/dnnl_util.h"

namespace lw::cpu {
namespace {

using dt = dnnl::memory::data_type;

// The layout oneDNN's matmul wants for a [k, n] B with an m-row A.
dnnl::memory::desc matmul_b_layout(int64_t m, int64_t k, int64_t n) {
  dnnl::memory::desc a({m, k}, dt::f32, dnnl::memory::format_tag::ab);
  dnnl::memory::desc b({k, n}, dt::f32, dnnl::memory::format_tag::any);
  dnnl::memory::desc d({m, n}, dt::f32, dnnl::memory::format_tag::ab);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, d), dnnl_cpu_engine()).weights_desc();
}

TEST(BlockedPack, MatchesOneDnnReorderByteForByte) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  int checked = 0;
  for (auto [k, n] : std::vector<std::pair<int64_t, int64_t>>{{64, 64}, {512, 1536}, {37, 50}, {100, 3}, {1, 200}, {1000, 1000}}) {
    for (bool transposed : {false, true}) {
      dnnl::memory::desc plain = transposed ? dnnl::memory::desc({k, n}, dt::f32, {1, k}) : plain_desc({k, n});
      dnnl::memory::desc packed = matmul_b_layout(8, k, n);
      auto tiles = describe_blocked_2d(plain, packed);
      if (!tiles) continue;  // a layout this file does not do (oneDNN reorders it)
      std::vector<float> src(static_cast<size_t>(k * n));
      for (float& v : src) v = dist(rng);
      std::vector<float> want(packed.get_size() / sizeof(float), 7.0f);
      dnnl::memory ms(plain, dnnl_cpu_engine(), src.data()), md(packed, dnnl_cpu_engine(), want.data());
      dnnl::reorder(ms, md).execute(dnnl_thread_stream(), ms, md);
      dnnl_thread_stream().wait();
      for (int threads : {1, 2}) {
        std::vector<float> got(want.size(), 7.0f);  // garbage where padding must become zero
        pack_blocked_2d(*tiles, src.data(), got.data(), threads);
        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
            << k << "x" << n << (transposed ? " transposed" : "") << ", " << threads << " threads";
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 8) << "too few shapes took the tile copy for this test to mean anything";
}

TEST(BlockedPack, DeclinesLayoutsItDoesNotHandle) {
  // Plain to plain (no blocks), 4-D, and a plain source that is itself blocked.
  EXPECT_FALSE(describe_blocked_2d(plain_desc({8, 8}), plain_desc({8, 8})).has_value());
  dnnl::memory::desc conv_w({16, 16, 3, 3}, dt::f32, dnnl::memory::format_tag::OIhw16i16o);
  EXPECT_FALSE(describe_blocked_2d(plain_desc({16, 16, 3, 3}), conv_w).has_value());
  dnnl::memory::desc packed = matmul_b_layout(8, 64, 64);
  EXPECT_FALSE(describe_blocked_2d(packed, packed).has_value());
}

}  // namespace
}  // namespace lw::cpu
