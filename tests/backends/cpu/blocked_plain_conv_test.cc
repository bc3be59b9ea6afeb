// Convolutions of a few input channels on a plain NCHW input writing nChw8c activations (an
// image network's stem on AVX2 machines), blocked_plain_conv.h: the kernel itself wherever the
// CPU has AVX2 (7 x 7 and 3 x 3 at stride 2, a 5 x 5 at stride 1 with asymmetric pads, 1-3
// channels, rows of whole 6-position blocks and a shorter one, 24 output channels (a half
// panel), an output row in the padding only, a batch of 2; a bias, a BatchNorm's multiply and
// add, a residual and Relu) and, through the registry, a fused Conv with each epilogue on one and
// two threads, which on AVX2 machines (and under the blocked_kernels_on_avx2 test, oneDNN limited
// to AVX2) runs the kernel. Against a naive loop in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/channels_last_conv.h"
#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/blocked_plain_conv.h"
#include "backends/cpu/naive_conv.h"
#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

// {batch, in, out, h, w, kernel_h, kernel_w, stride, pads top, left, bottom, right}
constexpr NaiveConv2d kCases[] = {
    {1, 3, 64, 30, 30, 7, 7, 2, 3, 3, 3, 3},  // ResNet's stem, rows of 15: 2 blocks of 6 and one of 3
    {2, 3, 24, 17, 20, 3, 3, 2, 1, 1, 1, 1},  // MobileNet's, a half panel, a batch of 2
    {1, 1, 16, 9, 14, 5, 5, 1, 2, 2, 0, 1},   // asymmetric pads
    {1, 2, 32, 12, 12, 3, 3, 2, 3, 1, 1, 1},  // the first output row reads only padding
};

TEST(BlockedPlainConv, KernelMatchesNaiveLoop) {
  if (!cpu::blocked_plain_conv_supported()) GTEST_SKIP() << "no AVX2 here";
  for (const NaiveConv2d& s : kCases) {
    const int64_t oh = s.out_h(), ow = s.out_w(), ohw = oh * ow, oc = s.out_channels;
    cpu::PlainConvShape shape{s.batch,    s.in_channels, s.h,        s.w,      oc,       oh,
                              ow,         s.kernel_h,    s.kernel_w, s.stride, s.stride, s.pad_top,
                              s.pad_left, s.pad_bottom,  s.pad_right};
    ASSERT_TRUE(cpu::blocked_plain_conv_accepts(shape)) << conv_name(s);
    const auto x = random_floats(static_cast<size_t>(s.batch * s.in_channels * s.h * s.w), 1);
    const auto w = random_floats(static_cast<size_t>(oc * s.in_channels * s.kernel_h * s.kernel_w), 2, -0.5f, 0.5f);
    const std::vector<double> sums = naive_conv_sums(s, x, w);
    const KernelEpilogue epilogue(oc, s.batch * oc * ohw);
    const auto packed =
        packed_weights(w, {oc, s.in_channels, s.kernel_h, s.kernel_w}, cpu::blocked_plain_conv_weights_desc(shape));
    ASSERT_FALSE(packed.empty());
    std::vector<float> scratch(cpu::blocked_plain_conv_scratch_bytes(shape) / sizeof(float) + 1);
    const std::vector<float> residual = to_blocked(epilogue.residual, s.batch, oc, ohw);
    for (int threads : {1, 2}) {
      std::vector<float> y(sums.size(), NAN);
      cpu::blocked_plain_conv(x.data(), packed.data(), y.data(), shape, epilogue.operands(residual.data()),
                              scratch.data(), threads);
      const std::vector<float> got = from_blocked(y, s.batch, oc, ohw);
      double worst = 0;
      for (size_t at = 0; at < sums.size(); ++at)
        worst = worse(worst, std::fabs(got[at] - epilogue.want(sums[at], static_cast<int64_t>(at) / ohw % oc, at)));
      EXPECT_LT(worst, 1e-4) << conv_name(s) << ", threads " << threads;
    }
  }
}

TEST(BlockedPlainConv, FusedConvThroughTheRegistry) {
  const bool avx2_machine =
      cpu::blocked_plain_conv_supported() && cpu::preferred_conv_activation_layout() == cpu::Layout::kBlocked8;
  const char* expected = avx2_machine ? "lw:blocked_plain_conv_avx2" : nullptr;
  int checked = 0;
  for (const NaiveConv2d& s : {kCases[0], kCases[1]}) {
    const int64_t oh = s.out_h(), ow = s.out_w(), ohw = oh * ow, oc = s.out_channels, k = s.kernel_h;
    const auto x = random_floats(static_cast<size_t>(s.batch * s.in_channels * s.h * s.w), 11);
    const auto w = random_floats(static_cast<size_t>(oc * s.in_channels * k * k), 12, -0.5f, 0.5f);
    const std::vector<double> sums = naive_conv_sums(s, x, w);
    const ConvEpilogue epilogue(oc, s.batch * oc * ohw);
    const Dims out_dims = {s.batch, oc, oh, ow};
    for (const EpilogueCase& e : kEpilogueCases) {
      const std::vector<float> want = epilogue.apply_to(e, sums, ohw);
      std::vector<TensorIn> in = {f32({s.batch, s.in_channels, s.h, s.w}, x), f32({oc, s.in_channels, k, k}, w, true),
                                  f32({oc}, epilogue.bias)};
      std::vector<cpu::Layout> layouts = {cpu::Layout::kPlain, cpu::Layout::kPlain, cpu::Layout::kPlain};
      Attrs attrs = {{"pads", std::vector<int64_t>{s.pad_top, s.pad_left, s.pad_bottom, s.pad_right}},
                     {"strides", std::vector<int64_t>{s.stride, s.stride}}};
      epilogue.add_to(e, out_dims, in, attrs, layouts, cpu::Layout::kBlocked8);
      checked += check_conv_output(in, attrs, layouts, out_dims, cpu::Layout::kBlocked8, want, expected,
                                   conv_name(s) + " bn " + std::to_string(e.batchnorm) + " residual " +
                                       std::to_string(e.residual) + " clip " + std::to_string(e.clip));
    }
  }
  EXPECT_EQ(checked, 2 * 5 * 2);
}

}  // namespace
}  // namespace lw::test
