// make_weight_packing (the fast path for oneDNN's dim-0-blocked convolution weights, and the
// oneDNN reorder for other layouts) against oneDNN's own reorder, including a padded block.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "backends/cpu/dnnl_util.h"

namespace lw::cpu {
namespace {

std::vector<float> pack_with_dnnl(const dnnl::memory::desc& plain, const dnnl::memory::desc& packed,
                                  const std::vector<float>& src) {
  std::vector<float> out(packed.get_size() / sizeof(float), -1.0f);
  dnnl::memory a(plain, dnnl_cpu_engine(), const_cast<float*>(src.data())), b(packed, dnnl_cpu_engine(), out.data());
  dnnl::reorder(a, b).execute(dnnl_thread_stream(), a, b);
  dnnl_thread_stream().wait();
  return out;
}

void check(const dnnl::memory::dims& w, const dnnl::memory::desc& packed) {
  dnnl::memory::desc plain(w, dnnl::memory::data_type::f32,
                           w.size() == 4 ? dnnl::memory::format_tag::oihw : dnnl::memory::format_tag::goihw);
  size_t n = plain.get_size() / sizeof(float);
  std::vector<float> src(n);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(-1, 1);
  for (float& v : src) v = d(rng);
  auto want = pack_with_dnnl(plain, packed, src);
  auto layout = make_weight_packing(plain, packed);
  ASSERT_EQ(layout->bytes, packed.get_size());
  std::vector<float> got(layout->bytes / sizeof(float), 7.0f);  // garbage where padding must become 0
  ASSERT_TRUE(layout->pack(src.data(), got.data()).is_ok());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), layout->bytes), 0);
}

dnnl::memory::desc conv_weights(const dnnl::memory::dims& x, const dnnl::memory::dims& w, const dnnl::memory::dims& y,
                                int64_t stride, int64_t pad) {
  using tag = dnnl::memory::format_tag;
  auto f32 = dnnl::memory::data_type::f32;
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                       dnnl::memory::desc(x, f32, tag::nhwc), dnnl::memory::desc(w, f32, tag::any),
                                       dnnl::memory::desc(y, f32, tag::nhwc), {stride, stride}, {pad, pad}, {pad, pad});
  return dnnl::convolution_forward::primitive_desc(desc, dnnl_cpu_engine()).weights_desc();
}

TEST(WeightPacking, MatchesOneDnnReorder) {
  check({64, 32, 3, 3}, conv_weights({1, 32, 8, 8}, {64, 32, 3, 3}, {1, 64, 8, 8}, 1, 1));
  check({20, 8, 1, 1}, conv_weights({1, 8, 8, 8}, {20, 8, 1, 1}, {1, 20, 8, 8}, 1, 0));   // padded O block
  check({64, 3, 7, 7}, conv_weights({1, 3, 32, 32}, {64, 3, 7, 7}, {1, 64, 16, 16}, 2, 3));
  check({24, 1, 1, 3, 3}, conv_weights({1, 24, 8, 8}, {24, 1, 1, 3, 3}, {1, 24, 8, 8}, 1, 1));  // depthwise
  // A layout the fast path does not take: two inner blocks.
  check({32, 32, 3, 3}, dnnl::memory::desc({32, 32, 3, 3}, dnnl::memory::data_type::f32,
                                           dnnl::memory::format_tag::OIhw16i16o));
}

}  // namespace
}  // namespace lw::cpu
