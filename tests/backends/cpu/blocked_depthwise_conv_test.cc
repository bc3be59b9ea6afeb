// Depthwise convolutions on nChw8c activations (AVX2 machines' layout), blocked_depthwise_conv.h:
// the kernel itself wherever the CPU has AVX2 (3 x 3 and 5 x 5 kernels at strides 1 and 2, whose
// inner blocks reuse each input vector, a 2 x 2 kernel on the generic blocks, rows of up to 8
// positions in one block, rows with inner blocks of 8, 4 and 1, symmetric, one-sided and no
// padding, a batch of 2; a bias, a BatchNorm's multiply and add, a residual and Relu) and,
// through the registry, a fused Conv with each epilogue on one and two threads, which on AVX2
// machines (and under the blocked_kernels_on_avx2 test, oneDNN limited to AVX2) runs the kernel.
// Against a naive loop in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/channels_last_conv.h"
#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/blocked_depthwise_conv.h"
#include "backends/cpu/naive_conv.h"
#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

// {batch, channels, h, w, kernel, stride, pad before, pad after} as a grouped convolution.
NaiveConv2d depthwise(int64_t batch, int64_t c, int64_t h, int64_t w, int64_t k, int64_t stride, int64_t pad_begin,
                      int64_t pad_end) {
  return NaiveConv2d{batch, c, c, h, w, k, k, stride, pad_begin, pad_begin, pad_end, pad_end, c};
}

const NaiveConv2d kCases[] = {
    depthwise(1, 16, 7, 7, 3, 1, 1, 1),    // rows of 7: one block with checks
    depthwise(2, 24, 14, 14, 3, 1, 1, 1),  // inner blocks of 8, 4
    depthwise(1, 8, 20, 19, 3, 2, 1, 1),   // stride 2
    depthwise(1, 16, 12, 23, 5, 1, 2, 2),  // 5 x 5
    depthwise(1, 8, 11, 30, 5, 2, 2, 2),   // 5 x 5, stride 2
    depthwise(1, 16, 9, 21, 3, 1, 0, 0),   // no padding
    depthwise(1, 8, 10, 33, 3, 2, 0, 1),   // padding on one side
    depthwise(1, 8, 9, 12, 2, 1, 0, 0),    // a 2 x 2 kernel: the generic blocks
};

TEST(BlockedDepthwiseConv, KernelMatchesNaiveLoop) {
  if (!cpu::blocked_depthwise_conv_supported()) GTEST_SKIP() << "no AVX2 here";
  for (const NaiveConv2d& s : kCases) {
    const int64_t oh = s.out_h(), ow = s.out_w(), ohw = oh * ow, c = s.in_channels, k = s.kernel_h;
    cpu::DepthwiseConvShape shape{s.batch, c, s.h, s.w, oh, ow, k, k, s.stride, s.stride, s.pad_top, s.pad_left};
    ASSERT_TRUE(cpu::blocked_depthwise_conv_accepts(shape)) << conv_name(s);
    const auto x = random_floats(static_cast<size_t>(s.batch * c * s.h * s.w), 1);
    const auto w = random_floats(static_cast<size_t>(c * k * k), 2, -0.5f, 0.5f);
    const std::vector<double> sums = naive_conv_sums(s, x, w);
    const KernelEpilogue epilogue(c, s.batch * c * ohw);
    const auto packed = packed_weights(w, {c, 1, 1, k, k}, cpu::blocked_depthwise_conv_weights_desc(shape));
    ASSERT_FALSE(packed.empty());
    const std::vector<float> input = to_blocked(x, s.batch, c, s.h * s.w);
    const std::vector<float> residual = to_blocked(epilogue.residual, s.batch, c, ohw);
    for (int threads : {1, 2}) {
      std::vector<float> y(sums.size(), NAN);
      cpu::blocked_depthwise_conv(input.data(), packed.data(), y.data(), shape, epilogue.operands(residual.data()),
                                  threads);
      const std::vector<float> got = from_blocked(y, s.batch, c, ohw);
      double worst = 0;
      for (size_t at = 0; at < sums.size(); ++at)
        worst = worse(worst, std::fabs(got[at] - epilogue.want(sums[at], static_cast<int64_t>(at) / ohw % c, at)));
      EXPECT_LT(worst, 1e-4) << conv_name(s) << ", threads " << threads;
    }
  }
}

TEST(BlockedDepthwiseConv, FusedConvThroughTheRegistry) {
  const bool avx2_machine =
      cpu::blocked_depthwise_conv_supported() && cpu::preferred_conv_activation_layout() == cpu::Layout::kBlocked8;
  const char* expected = avx2_machine ? "lw:blocked_depthwise_conv_avx2" : nullptr;
  int checked = 0;
  for (const NaiveConv2d& s : {kCases[0], kCases[1], kCases[3], kCases[6]}) {
    const int64_t oh = s.out_h(), ow = s.out_w(), ohw = oh * ow, c = s.in_channels, k = s.kernel_h;
    const auto x = random_floats(static_cast<size_t>(s.batch * c * s.h * s.w), 11);
    const auto w = random_floats(static_cast<size_t>(c * k * k), 12, -0.5f, 0.5f);
    const std::vector<double> sums = naive_conv_sums(s, x, w);
    const ConvEpilogue epilogue(c, s.batch * c * ohw);
    const Dims out_dims = {s.batch, c, oh, ow};
    for (const EpilogueCase& e : kEpilogueCases) {
      const std::vector<float> want = epilogue.apply_to(e, sums, ohw);
      std::vector<TensorIn> in = {f32({s.batch, c, s.h, s.w}, to_blocked(x, s.batch, c, s.h * s.w)),
                                  f32({c, 1, k, k}, w, true), f32({c}, epilogue.bias)};
      std::vector<cpu::Layout> layouts = {cpu::Layout::kBlocked8, cpu::Layout::kPlain, cpu::Layout::kPlain};
      Attrs attrs = {{"group", c},
                     {"pads", std::vector<int64_t>{s.pad_top, s.pad_left, s.pad_bottom, s.pad_right}},
                     {"strides", std::vector<int64_t>{s.stride, s.stride}}};
      epilogue.add_to(e, out_dims, in, attrs, layouts, cpu::Layout::kBlocked8);
      checked += check_conv_output(in, attrs, layouts, out_dims, cpu::Layout::kBlocked8, want, expected,
                                   conv_name(s) + " bn " + std::to_string(e.batchnorm) + " residual " +
                                       std::to_string(e.residual) + " clip " + std::to_string(e.clip));
    }
  }
  EXPECT_EQ(checked, 4 * 5 * 2);
}

}  // namespace
}  // namespace lw::test
