// The process-wide cache of convolution primitive descriptors (backends/cpu/conv_pd_cache.h):
// a repeated question is answered from the cache with a descriptor of its own, and every input
// of the answer (shapes, layouts, post-ops and their parameters, thread count) tells entries
// apart. That the kernels built on cached descriptors compute the right thing is checked by the
// convolution tests, which ask about the same shapes with different epilogues in one process.
#include <gtest/gtest.h>
#include <omp.h>

#include <string>

#include "backends/cpu/conv_pd_cache.h"
#include "backends/cpu/dnnl_util.h"

namespace lw::cpu {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// A 3 x 3 convolution, `in` -> `out` channels on a 12 x 12 image, channels-last, oneDNN's
// choice of weight layout.
dnnl::convolution_forward::desc conv_desc(int64_t in, int64_t out, int64_t pad = 1) {
  const int64_t hw = 12 + 2 * pad - 2;
  dnnl::memory::desc src({1, in, 12, 12}, dt::f32, tag::nhwc);
  dnnl::memory::desc wei({out, in, 3, 3}, dt::f32, tag::any);
  dnnl::memory::desc dst({1, out, hw, hw}, dt::f32, tag::nhwc);
  return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                                         wei, dst, {1, 1}, {0, 0}, {pad, pad}, {pad, pad});
}

dnnl::primitive_attr clip_attr(float lo, float hi) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops po;
  po.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, lo, hi);
  attr.set_post_ops(po);
  return attr;
}

// Asks once, then again, and returns how many of the two were answered from the cache.
uint64_t hits_over_two_asks(const dnnl::convolution_forward::desc& d, const dnnl::primitive_attr& attr) {
  const uint64_t before = conv_pd_cache_stats().hits;
  auto first = cached_conv_primitive_desc(d, attr);
  auto second = cached_conv_primitive_desc(d, attr);
  EXPECT_EQ(first.weights_desc(), second.weights_desc());
  EXPECT_EQ(std::string(first.impl_info_str()), std::string(second.impl_info_str()));
  return conv_pd_cache_stats().hits - before;
}

TEST(ConvPdCache, ASecondAskIsAHitWithADescriptorOfItsOwn) {
  const auto d = conv_desc(24, 40);
  const auto attr = clip_attr(0.0f, 6.0f);
  const ConvPdCacheStats before = conv_pd_cache_stats();
  auto fresh = cached_conv_primitive_desc(d, attr);
  auto cached = cached_conv_primitive_desc(d, attr);
  auto cached_again = cached_conv_primitive_desc(d, attr);
  const ConvPdCacheStats after = conv_pd_cache_stats();
  EXPECT_EQ(after.misses - before.misses, 1u);
  EXPECT_EQ(after.hits - before.hits, 2u);
  EXPECT_EQ(after.entries, before.entries + 1);
  EXPECT_NE(fresh.get(), cached.get());
  EXPECT_NE(cached.get(), cached_again.get()) << "a hit must hand out a clone, not the cached object";
  // The clone answers as oneDNN's own descriptor for the question does.
  dnnl::convolution_forward::primitive_desc direct(d, attr, dnnl_cpu_engine());
  EXPECT_EQ(std::string(cached.impl_info_str()), std::string(direct.impl_info_str()));
  EXPECT_EQ(cached.weights_desc(), direct.weights_desc());
  EXPECT_EQ(cached.src_desc(), direct.src_desc());
  EXPECT_EQ(cached.dst_desc(), direct.dst_desc());
  EXPECT_EQ(cached.scratchpad_desc(), direct.scratchpad_desc());
}

TEST(ConvPdCache, EveryInputOfTheAnswerSeparatesEntries) {
  const auto d = conv_desc(16, 32);
  const auto attr = clip_attr(0.0f, 6.0f);
  EXPECT_EQ(hits_over_two_asks(d, attr), 1u);
  // Each variation is asked about for the first time: the first ask misses, the second hits.
  EXPECT_EQ(hits_over_two_asks(conv_desc(16, 48), attr), 1u);          // another shape
  EXPECT_EQ(hits_over_two_asks(conv_desc(16, 32, 0), attr), 1u);       // other pads
  EXPECT_EQ(hits_over_two_asks(d, clip_attr(0.0f, 5.0f)), 1u);        // another clip bound
  EXPECT_EQ(hits_over_two_asks(d, clip_attr(-1.0f, 6.0f)), 1u);       // the other bound
  dnnl::primitive_attr relu;
  relu.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops relu_po;
  relu_po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  relu.set_post_ops(relu_po);
  EXPECT_EQ(hits_over_two_asks(d, relu), 1u);  // another algorithm
  dnnl::primitive_attr with_sum = clip_attr(0.0f, 6.0f);
  dnnl::post_ops sum_po;
  sum_po.append_sum(1.0f);
  with_sum.set_post_ops(sum_po);
  EXPECT_EQ(hits_over_two_asks(d, with_sum), 1u);  // a sum instead of the clip
  dnnl::primitive_attr with_half_sum;
  with_half_sum.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops half_po;
  half_po.append_sum(0.5f);
  with_half_sum.set_post_ops(half_po);
  EXPECT_EQ(hits_over_two_asks(d, with_half_sum), 1u);  // the sum's scale
  dnnl::primitive_attr library_scratch;                 // oneDNN's own scratchpad
  library_scratch.set_post_ops(clip_attr(0.0f, 6.0f).get_post_ops());
  EXPECT_EQ(hits_over_two_asks(d, library_scratch), 1u);
  for (dnnl::memory::desc operand : {dnnl::memory::desc({1, 32, 1, 1}, dt::f32, tag::abcd),
                                     dnnl::memory::desc({1, 32, 10, 10}, dt::f32, tag::nhwc)}) {
    dnnl::primitive_attr binary;
    binary.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops bin_po;
    bin_po.append_binary(dnnl::algorithm::binary_mul, operand);
    binary.set_post_ops(bin_po);
    EXPECT_EQ(hits_over_two_asks(d, binary), 1u);  // the binary operand's shape
  }
  // The thread count oneDNN sees when it creates the descriptor.
  const int threads = omp_get_max_threads();
  omp_set_num_threads(threads + 1);
  EXPECT_EQ(hits_over_two_asks(d, attr), 1u);
  omp_set_num_threads(threads);
  EXPECT_EQ(hits_over_two_asks(d, attr), 2u);  // and back: both asks hit the first entry
}

TEST(ConvPdCache, ARefusalIsCachedAndThrownAgain) {
  // A float16 convolution: oneDNN 2.6 has none on CPUs.
  dnnl::memory::desc src({1, 8, 6, 6}, dt::f16, tag::nhwc);
  dnnl::memory::desc wei({8, 8, 3, 3}, dt::f16, tag::any);
  dnnl::memory::desc dst({1, 8, 4, 4}, dt::f16, tag::nhwc);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, wei,
                                    dst, {1, 1}, {0, 0}, {0, 0}, {0, 0});
  dnnl::primitive_attr attr;
  dnnl_status_t first = dnnl_success, second = dnnl_success;
  try {
    cached_conv_primitive_desc(d, attr);
  } catch (const dnnl::error& e) {
    first = e.status;
  }
  if (first == dnnl_success) GTEST_SKIP() << "this oneDNN has a float16 convolution";
  const uint64_t hits = conv_pd_cache_stats().hits;
  try {
    cached_conv_primitive_desc(d, attr);
  } catch (const dnnl::error& e) {
    second = e.status;
  }
  EXPECT_EQ(second, first);
  EXPECT_EQ(conv_pd_cache_stats().hits, hits + 1);
}

}  // namespace
}  // namespace lw::cpu
