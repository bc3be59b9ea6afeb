// activation_reorder (conversions between plain, channels-last, nChw8c and nChw16c activations,
// which reorder_call takes instead of a oneDNN reorder) against oneDNN's own reorder between the
// same descriptors, bit for bit: every ordered pair of layouts, ranks 3 to 5, channel counts
// that fill 8- and 16-channel blocks or end in a partial run of 8, a batch, spatial sizes that
// end in a partial group of 8 positions, and a tensor large enough to be shared by 2 threads;
// then the descriptors it must leave to oneDNN.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/activation_reorder.h"
#include "backends/cpu/dnnl_util.h"
#include "backends/kernel_harness.h"

namespace lw::cpu {
namespace {

std::string dims_text(const Dims& dims) {
  std::string s;
  for (int64_t d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

const char* name(Layout l) {
  switch (l) {
    case Layout::kPlain:
      return "plain";
    case Layout::kChannelsLast:
      return "channels-last";
    case Layout::kBlocked8:
      return "blocked8";
    case Layout::kBlocked16:
      return "blocked16";
  }
  return "?";
}

// oneDNN's reorder of `src` from `from` to `to`.
std::vector<float> onednn_reorder(const std::vector<float>& src, const dnnl::memory::desc& from,
                                  const dnnl::memory::desc& to) {
  std::vector<float> dst(to.get_size() / sizeof(float), -7.0f);
  dnnl::memory a(from, dnnl_cpu_engine(), const_cast<float*>(src.data()));
  dnnl::memory b(to, dnnl_cpu_engine(), dst.data());
  dnnl::reorder(a, b).execute(dnnl_thread_stream(), a, b);
  dnnl_thread_stream().wait();
  return dst;
}

TEST(ActivationReorder, MatchesOneDnnReorderBetweenEveryPairOfLayouts) {
  const Layout layouts[] = {Layout::kPlain, Layout::kChannelsLast, Layout::kBlocked8, Layout::kBlocked16};
  const Dims shapes[] = {
      {1, 16, 7},        // rank 3
      {2, 48, 5, 3},     // a batch; 15 positions (one partial tile)
      {1, 32, 9, 10},    // 90 positions: a whole tile and a partial one
      {1, 16, 2, 3, 4},  // rank 5
      {2, 64, 20, 21},   // 53760 floats: shared by the threads
      {1, 24, 4, 4},     // 24 channels: no 16-channel blocks
      {1, 12, 3, 11},    // 12 channels: plain and channels-last only, a partial run of 8
  };
  int checked = 0;
  for (const Dims& dims : shapes) {
    size_t count = 1;
    for (int64_t d : dims) count *= static_cast<size_t>(d);
    const std::vector<float> values = test::random_floats(count, 3);
    for (Layout from : layouts)
      for (Layout to : layouts) {
        const int64_t block = std::max(channel_block(from), channel_block(to));
        if (from == to || (block > 0 && dims[1] % block != 0)) continue;
        const dnnl::memory::desc from_desc = activation_desc(dims, from), to_desc = activation_desc(dims, to);
        const std::string what = std::string(name(from)) + " -> " + name(to) + " of " + dims_text(dims);
        const auto r = describe_activation_reorder(from_desc, to_desc);
        ASSERT_TRUE(r.has_value()) << what;
        EXPECT_EQ(r->from, from) << what;
        EXPECT_EQ(r->to, to) << what;
        // The source in `from`: oneDNN's reorder from plain.
        const std::vector<float> src =
            from == Layout::kPlain ? values : onednn_reorder(values, plain_desc(dims), from_desc);
        const std::vector<float> want = onednn_reorder(src, from_desc, to_desc);
        for (int threads : {1, 2}) {
          std::vector<float> got(want.size(), -9.0f);
          run_activation_reorder(*r, src.data(), got.data(), threads);
          EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0)
              << what << ", threads " << threads;
        }
        // reorder_call takes this path: the same bytes through a DnnlCall.
        std::vector<float> via_call(want.size(), -9.0f);
        reorder_call(from_desc, to_desc).run({src.data(), via_call.data()});
        EXPECT_EQ(std::memcmp(via_call.data(), want.data(), want.size() * sizeof(float)), 0)
            << what << ", reorder_call";
        ++checked;
      }
  }
  EXPECT_EQ(checked, 5 * 12 + 6 + 2);  // 24 channels: no blocked16; 12: plain and channels-last only
}

TEST(ActivationReorder, LeavesOtherDescriptorsToOneDnn) {
  using tag = dnnl::memory::format_tag;
  const Dims dims = {1, 12, 4, 4};
  // 12 channels in 8-channel blocks: padded.
  EXPECT_FALSE(describe_activation_reorder(
      plain_desc(dims), dnnl::memory::desc({1, 12, 4, 4}, dnnl::memory::data_type::f32, tag::nChw8c)));
  // The same layout on both sides.
  EXPECT_FALSE(describe_activation_reorder(activation_desc(dims, Layout::kChannelsLast),
                                           activation_desc(dims, Layout::kChannelsLast)));
  // Dims that differ.
  EXPECT_FALSE(
      describe_activation_reorder(plain_desc({1, 16, 4, 4}), activation_desc({1, 16, 4, 5}, Layout::kChannelsLast)));
  // Not float32.
  EXPECT_FALSE(describe_activation_reorder(dnnl::memory::desc({1, 16, 4, 4}, dnnl::memory::data_type::f16, tag::nchw),
                                           dnnl::memory::desc({1, 16, 4, 4}, dnnl::memory::data_type::f16, tag::nhwc)));
  // Rank 2, and a weight layout.
  EXPECT_FALSE(describe_activation_reorder(plain_desc({16, 4}),
                                           dnnl::memory::desc({16, 4}, dnnl::memory::data_type::f32, tag::ba)));
  EXPECT_FALSE(describe_activation_reorder(
      plain_desc({16, 16, 3, 3}), dnnl::memory::desc({16, 16, 3, 3}, dnnl::memory::data_type::f32, tag::OIhw8i8o)));
}

}  // namespace
}  // namespace lw::cpu
