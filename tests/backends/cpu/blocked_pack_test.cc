// blocked_pack (the tile copies that write Gemm/MatMul and convolution weights into oneDNN's
// blocked layouts) against oneDNN's own reorder into the same layout, byte for byte: sizes that
// are and are not multiples of the blocks (padding must be zeros), plain and transposed
// sources (2048 x 1000 and 1100 x 70 transposed: runs longer than one group of tiles, and a last
// column of tiles only partly in the source), 1 and 2 threads, ordinary and streaming stores
// into 64-byte and 16-byte aligned destinations (on an AVX-512 machine these take the 16 x 16
// and the 4 x 4 code).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "backends/cpu/blocked_pack.h"
#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "core/blob.h"
#include "support/matmul_layout.h"

namespace lw::cpu {
namespace {

using dt = dnnl::memory::data_type;

// A destination of n floats starting `shift` floats past a 64-byte boundary (filled with 7s):
// 0 takes the AVX-512 streaming path, 4 (16-byte aligned only) the 4 x 4 streaming path.
class Destination {
 public:
  Destination(size_t n, size_t shift) : base_(static_cast<float*>(alloc_aligned((n + shift) * sizeof(float))), free_aligned), n_(n), shift_(shift) {
    std::fill(base_.get(), base_.get() + n + shift, 7.0f);
  }
  float* data() { return base_.get() + shift_; }
  bool equals(const std::vector<float>& want) const {
    return want.size() == n_ && std::memcmp(base_.get() + shift_, want.data(), n_ * sizeof(float)) == 0;
  }

 private:
  std::unique_ptr<float, void (*)(void*)> base_;
  size_t n_, shift_;
};

// The layout oneDNN's matmul wants for a [k, n] B with an m-row A.
// The reference: oneDNN's reorder of `src` (laid out as `plain`) into `packed`.
std::vector<float> onednn_reorder(const dnnl::memory::desc& plain, const dnnl::memory::desc& packed,
                                  std::vector<float>& src) {
  std::vector<float> out(packed.get_size() / sizeof(float), 7.0f);
  dnnl::memory ms(plain, dnnl_cpu_engine(), src.data()), md(packed, dnnl_cpu_engine(), out.data());
  dnnl::reorder(ms, md).execute(dnnl_thread_stream(), ms, md);
  dnnl_thread_stream().wait();
  return out;
}

TEST(BlockedPack, MatchesOneDnnReorderByteForByte) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  int checked = 0;
  for (auto [k, n] : std::vector<std::pair<int64_t, int64_t>>{{64, 64}, {512, 1536}, {37, 50}, {37, 128}, {100, 3}, {1, 200}, {1000, 1000}, {1000, 256}, {2048, 1000}, {1100, 70}}) {
    for (bool transposed : {false, true}) {
      dnnl::memory::desc plain = transposed ? dnnl::memory::desc({k, n}, dt::f32, {1, k}) : plain_desc({k, n});
      dnnl::memory::desc packed = test::preferred_matmul_b(8, k, n);
      // oneDNN's AVX2 matmul reads a plain B: then the layout its AVX-512 matmul takes.
      if (packed == plain_desc({k, n}) || packed == plain) packed = dnnl::memory::desc({k, n}, dt::f32, dnnl::memory::format_tag::BA16a64b);
      auto tiles = describe_blocked_2d(plain, packed);
      if (!tiles) continue;  // a layout this file does not do (oneDNN reorders it)
      std::vector<float> src(static_cast<size_t>(k * n));
      for (float& v : src) v = dist(rng);
      std::vector<float> want = onednn_reorder(plain, packed, src);
      for (int threads : {1, 2})
        for (StoreMode mode : {StoreMode::kCached, StoreMode::kStreaming})
          for (size_t shift : {0, 4}) {
            Destination got(want.size(), shift);  // 7s where padding must become zero
            pack_blocked_2d(*tiles, src.data(), got.data(), threads, mode);
            EXPECT_TRUE(got.equals(want)) << k << "x" << n << (transposed ? " transposed" : "") << ", " << threads
                                          << " threads" << (mode == StoreMode::kStreaming ? ", streaming" : "")
                                          << ", shift " << shift;
          }
      ++checked;
    }
  }
  EXPECT_GE(checked, 8) << "too few shapes took the tile copy for this test to mean anything";
}

// Convolution weight layouts (one block on dim 0, the other dims permuted): OIhw into the
// layouts oneDNN picks for AVX-512 convolutions, padded blocks, a grouped (5-D) depthwise
// layout and an unblocked permutation.
TEST(BlockedPack, ConvWeightLayoutsMatchOneDnnReorder) {
  using tag = dnnl::memory::format_tag;
  struct Case {
    Dims dims;
    dnnl::memory::desc packed;
  };
  auto with_tag = [](Dims d, tag t) {
    return Case{d, dnnl::memory::desc(dnnl::memory::dims(d.begin(), d.end()), dt::f32, t)};
  };
  std::vector<Case> cases = {with_tag({64, 32, 3, 3}, tag::Acdb64a), with_tag({128, 64, 1, 1}, tag::Acdb32a),
                             with_tag({80, 24, 1, 1}, tag::Acdb48a), with_tag({50, 7, 3, 3}, tag::Acdb16a),
                             with_tag({64, 3, 7, 7}, tag::Acdb64a),  with_tag({16, 8, 3, 3}, tag::acdb),
                             with_tag({33, 5, 2, 2}, tag::Acdb16a),
                             // partial last blocks: 16-row groups then 4-row groups (36 rows),
                             // and 4-row groups only (8 rows)
                             with_tag({100, 20, 1, 1}, tag::Acdb64a), with_tag({200, 40, 3, 3}, tag::Acdb48a),
                             // input channels blocked too (AVX2's 3 x 3 weights for blocked
                             // activations), with a partial last block of output channels, and
                             // input channels blocked alone
                             with_tag({64, 32, 3, 3}, tag::ABcd8b8a), with_tag({20, 16, 3, 3}, tag::ABcd8b8a),
                             with_tag({16, 24, 5, 5}, tag::ABcd8b8a), with_tag({8, 16, 7, 7}, tag::ABcd8b8a),
                             // 8-row groups (AVX2's 8 x 8 transposes) with a column count that is
                             // not a multiple of 8 (63 columns), and one of 8 columns
                             with_tag({24, 7, 3, 3}, tag::Acdb8a), with_tag({40, 8, 1, 1}, tag::ABcd8b8a),
                             with_tag({32, 48, 5, 5}, tag::ABcd16b16a), with_tag({16, 32, 3, 3}, tag::aBcd16b)};
  // Depthwise: the layout oneDNN's own depthwise convolution asks for (debcA16a on AVX-512).
  for (int64_t ch : {32, 24}) {
    dnnl::memory::desc x({1, ch, 8, 8}, dt::f32, tag::nhwc), y({1, ch, 8, 8}, dt::f32, tag::nhwc);
    dnnl::memory::desc w({ch, 1, 1, 3, 3}, dt::f32, tag::any);
    dnnl::convolution_forward::desc conv(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, x, w,
                                         y, {1, 1}, {1, 1}, {1, 1});
    cases.push_back({{ch, 1, 1, 3, 3}, dnnl::convolution_forward::primitive_desc(conv, dnnl_cpu_engine()).weights_desc()});
  }
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (const Case& c : cases) {
    dnnl::memory::desc plain = plain_desc(c.dims);
    const dnnl::memory::desc& packed = c.packed;
    auto rows = describe_blocked_rows(plain, packed);
    ASSERT_TRUE(rows.has_value()) << Shape(c.dims).to_string();
    std::vector<float> src(static_cast<size_t>(numel(c.dims)));
    for (float& v : src) v = dist(rng);
    std::vector<float> want = onednn_reorder(plain, packed, src);
    for (int threads : {1, 2})
      for (StoreMode mode : {StoreMode::kCached, StoreMode::kStreaming})
        for (size_t shift : {0, 4}) {
          Destination got(want.size(), shift);
          pack_blocked_rows(*rows, src.data(), got.data(), threads, mode);
          EXPECT_TRUE(got.equals(want)) << Shape(c.dims).to_string() << ", " << threads << " threads"
                                        << (mode == StoreMode::kStreaming ? ", streaming" : "") << ", shift " << shift;
        }
  }
}

// 1 x 1 convolution weights in layouts that block both channel dims (AVX2's ABcd8b8a, AVX-512's
// ABcd16b16a), with partial blocks on either dim, through the 2-D tile copy.
TEST(BlockedPack, PointwiseConvWeightsWithTwoBlocksPackAsMatrices) {
  using tag = dnnl::memory::format_tag;
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto [dims, t] : std::vector<std::pair<Dims, tag>>{{{64, 32, 1, 1}, tag::ABcd8b8a},
                                                          {{20, 12, 1, 1}, tag::ABcd8b8a},
                                                          {{960, 160, 1, 1}, tag::ABcd8b8a},
                                                          {{48, 40, 1, 1}, tag::ABcd16b16a}}) {
    dnnl::memory::desc plain = plain_desc(dims);
    dnnl::memory::desc packed(dnnl::memory::dims(dims.begin(), dims.end()), dt::f32, t);
    auto tiles = describe_pointwise_conv_2d(plain, packed);
    ASSERT_TRUE(tiles.has_value()) << Shape(dims).to_string();
    std::vector<float> src(static_cast<size_t>(numel(dims)));
    for (float& v : src) v = dist(rng);
    std::vector<float> want = onednn_reorder(plain, packed, src);
    for (int threads : {1, 2})
      for (StoreMode mode : {StoreMode::kCached, StoreMode::kStreaming}) {
        Destination got(want.size(), 0);
        pack_blocked_2d(*tiles, src.data(), got.data(), threads, mode);
        EXPECT_TRUE(got.equals(want)) << Shape(dims).to_string() << ", " << threads << " threads"
                                      << (mode == StoreMode::kStreaming ? ", streaming" : "");
      }
  }
  // Not a 1 x 1 kernel, or a layout that blocks a spatial dim: declined.
  dnnl::memory::desc three({16, 16, 3, 3}, dt::f32, tag::ABcd8b8a);
  EXPECT_FALSE(describe_pointwise_conv_2d(plain_desc({16, 16, 3, 3}), three).has_value());
  EXPECT_FALSE(describe_pointwise_conv_2d(plain_desc({16, 16}), plain_desc({16, 16})).has_value());
}

// The column groups that AVX2 streams through an L1 buffer: ABcd8b8a's runs of 8 input channels
// by every tap fill one stretch of 8 x 72 floats (3 x 3) or 8 x 200 (5 x 5); 7 x 7's would need
// more than the 2048-float buffer, and Acdb8a's taps and channels interleave across the whole row.
TEST(BlockedPack, FindsColumnGroupsThatFillContiguousStretches) {
  using tag = dnnl::memory::format_tag;
  auto rows = [](Dims d, tag t) {
    return describe_blocked_rows(plain_desc(d), dnnl::memory::desc(dnnl::memory::dims(d.begin(), d.end()), dt::f32, t));
  };
  auto three = rows({16, 32, 3, 3}, tag::ABcd8b8a);
  ASSERT_TRUE(three.has_value());
  EXPECT_EQ(three->group, 72);
  EXPECT_EQ(three->group_base, (std::vector<int64_t>{0, 576, 1152, 1728}));
  auto five = rows({8, 16, 5, 5}, tag::ABcd8b8a);
  ASSERT_TRUE(five.has_value());
  EXPECT_EQ(five->group, 200);
  EXPECT_EQ(rows({8, 16, 7, 7}, tag::ABcd8b8a)->group, 0);
  EXPECT_EQ(rows({16, 32, 3, 3}, tag::Acdb8a)->group, 0);
}

// A destination that is not 16-byte aligned cannot take streaming stores: the pack must fall
// back to ordinary ones and still write every byte right.
TEST(BlockedPack, StreamingIntoAMisalignedDestinationFallsBack) {
  dnnl::memory::desc plain = plain_desc({64, 32, 3, 3});
  dnnl::memory::desc packed({64, 32, 3, 3}, dt::f32, dnnl::memory::format_tag::Acdb64a);
  auto rows = describe_blocked_rows(plain, packed);
  ASSERT_TRUE(rows.has_value());
  std::vector<float> src(64 * 32 * 9);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i % 1000) * 0.25f;
  std::vector<float> want = onednn_reorder(plain, packed, src);
  std::vector<float> storage(want.size() + 1, 7.0f);
  pack_blocked_rows(*rows, src.data(), storage.data() + 1, 2, StoreMode::kStreaming);  // 4 bytes past 16
  EXPECT_EQ(std::memcmp(storage.data() + 1, want.data(), want.size() * sizeof(float)), 0);
  EXPECT_EQ(storage[0], 7.0f) << "wrote before the destination";
}

TEST(BlockedPack, DeclinesLayoutsItDoesNotHandle) {
  // Plain to plain (no blocks), 4-D, and a plain source that is itself blocked.
  EXPECT_FALSE(describe_blocked_2d(plain_desc({8, 8}), plain_desc({8, 8})).has_value());
  dnnl::memory::desc conv_w({16, 16, 3, 3}, dt::f32, dnnl::memory::format_tag::OIhw16i16o);
  EXPECT_FALSE(describe_blocked_2d(plain_desc({16, 16, 3, 3}), conv_w).has_value());
  dnnl::memory::desc packed = test::preferred_matmul_b(8, 64, 64);
  EXPECT_FALSE(describe_blocked_2d(packed, packed).has_value());
  // Rows: a block of output channels that is not the innermost (OIhw8o8i), padded input channels
  // (12 in blocks of 8), or two blocks on one dim.
  dnnl::memory::desc o_outer({16, 16, 3, 3}, dt::f32, dnnl::memory::format_tag::ABcd8a8b);
  EXPECT_FALSE(describe_blocked_rows(plain_desc({16, 16, 3, 3}), o_outer).has_value());
  dnnl::memory::desc i_padded({16, 12, 3, 3}, dt::f32, dnnl::memory::format_tag::ABcd8b8a);
  EXPECT_FALSE(describe_blocked_rows(plain_desc({16, 12, 3, 3}), i_padded).has_value());
  dnnl::memory::desc two_on_i({16, 16, 3, 3}, dt::f32, dnnl::memory::format_tag::ABcd2b8a4b);
  EXPECT_FALSE(describe_blocked_rows(plain_desc({16, 16, 3, 3}), two_on_i).has_value());
}

}  // namespace
}  // namespace lw::cpu
