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
#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

struct DwCase {
  int64_t batch, c, h, w, k, stride, pad_begin, pad_end;
  int64_t out_h() const { return (h + pad_begin + pad_end - k) / stride + 1; }
  int64_t out_w() const { return (w + pad_begin + pad_end - k) / stride + 1; }
  std::string name() const {
    return "batch " + std::to_string(batch) + " " + std::to_string(c) + " channels " + std::to_string(h) + "x" +
           std::to_string(w) + " kernel " + std::to_string(k) + " stride " + std::to_string(stride) + " pads " +
           std::to_string(pad_begin) + "," + std::to_string(pad_end);
  }
};

// The sums (NCHW) of x (NCHW) and w ([c, 1, k, k]).
std::vector<double> naive_depthwise(const DwCase& s, const std::vector<float>& x, const std::vector<float>& w) {
  const int64_t oh = s.out_h(), ow = s.out_w();
  std::vector<double> sums(static_cast<size_t>(s.batch * s.c * oh * ow));
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t ch = 0; ch < s.c; ++ch)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = 0;
          for (int64_t ki = 0; ki < s.k; ++ki)
            for (int64_t kj = 0; kj < s.k; ++kj) {
              const int64_t ih = i * s.stride + ki - s.pad_begin, iw = j * s.stride + kj - s.pad_begin;
              if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
              acc += double(w[static_cast<size_t>((ch * s.k + ki) * s.k + kj)]) *
                     x[static_cast<size_t>(((n * s.c + ch) * s.h + ih) * s.w + iw)];
            }
          sums[static_cast<size_t>(((n * s.c + ch) * oh + i) * ow + j)] = acc;
        }
  return sums;
}

constexpr DwCase kCases[] = {
    {1, 16, 7, 7, 3, 1, 1, 1},    // rows of 7: one block with checks
    {2, 24, 14, 14, 3, 1, 1, 1},  // inner blocks of 8, 4
    {1, 8, 20, 19, 3, 2, 1, 1},   // stride 2
    {1, 16, 12, 23, 5, 1, 2, 2},  // 5 x 5
    {1, 8, 11, 30, 5, 2, 2, 2},   // 5 x 5, stride 2
    {1, 16, 9, 21, 3, 1, 0, 0},   // no padding
    {1, 8, 10, 33, 3, 2, 0, 1},   // padding on one side
    {1, 8, 9, 12, 2, 1, 0, 0},    // a 2 x 2 kernel: the generic blocks
};

TEST(BlockedDepthwiseConv, KernelMatchesNaiveLoop) {
  if (!cpu::blocked_depthwise_conv_supported()) GTEST_SKIP() << "no AVX2 here";
  for (const DwCase& s : kCases) {
    const int64_t oh = s.out_h(), ow = s.out_w(), ohw = oh * ow;
    cpu::DepthwiseConvShape shape{s.batch, s.c, s.h,      s.w,      oh,          ow,
                                  s.k,     s.k, s.stride, s.stride, s.pad_begin, s.pad_begin};
    ASSERT_TRUE(cpu::blocked_depthwise_conv_accepts(shape)) << s.name();
    const auto x = random_floats(static_cast<size_t>(s.batch * s.c * s.h * s.w), 1);
    const auto w = random_floats(static_cast<size_t>(s.c * s.k * s.k), 2, -0.5f, 0.5f);
    const auto bias = random_floats(static_cast<size_t>(s.c), 3);
    const auto mul = random_floats(static_cast<size_t>(s.c), 4, -1.5f, 1.5f);
    const auto add = random_floats(static_cast<size_t>(s.c), 5);
    const auto residual = random_floats(static_cast<size_t>(s.batch * s.c * ohw), 6, -2.0f, 2.0f);
    const std::vector<double> sums = naive_depthwise(s, x, w);
    auto packing = cpu::make_weight_packing(cpu::plain_desc({s.c, 1, 1, s.k, s.k}),
                                            cpu::blocked_depthwise_conv_weights_desc(shape));
    std::vector<float> packed(packing->bytes / sizeof(float) + 1);
    ASSERT_TRUE(packing->pack(w.data(), packed.data(), StoreMode::kCached).is_ok());
    const std::vector<float> input = to_blocked(x, s.batch, s.c, s.h * s.w);
    const std::vector<float> res = to_blocked(residual, s.batch, s.c, ohw);
    for (int threads : {1, 2}) {
      std::vector<float> y(sums.size(), NAN);
      cpu::GemmEpilogue e;
      e.bias = bias.data();
      e.mul = mul.data();
      e.add = add.data();
      e.residual = res.data();
      e.lo = 0.0f;
      cpu::blocked_depthwise_conv(input.data(), packed.data(), y.data(), shape, e, threads);
      const std::vector<float> got = from_blocked(y, s.batch, s.c, ohw);
      double worst = 0;
      for (size_t at = 0; at < sums.size(); ++at) {
        const auto ch = static_cast<size_t>(static_cast<int64_t>(at) / ohw % s.c);
        const double want = std::max((sums[at] + bias[ch]) * mul[ch] + add[ch] + residual[at], 0.0);
        worst = worse(worst, std::fabs(got[at] - want));
      }
      EXPECT_LT(worst, 1e-4) << s.name() << ", threads " << threads;
    }
  }
}

TEST(BlockedDepthwiseConv, FusedConvThroughTheRegistry) {
  const bool avx2_machine =
      cpu::blocked_depthwise_conv_supported() && cpu::preferred_conv_activation_layout() == cpu::Layout::kBlocked8;
  const char* expected = avx2_machine ? "lw:blocked_depthwise_conv_avx2" : nullptr;
  int checked = 0;
  for (const DwCase& s : {kCases[0], kCases[1], kCases[3], kCases[6]}) {
    const int64_t oh = s.out_h(), ow = s.out_w(), ohw = oh * ow;
    const auto x = random_floats(static_cast<size_t>(s.batch * s.c * s.h * s.w), 11);
    const auto w = random_floats(static_cast<size_t>(s.c * s.k * s.k), 12, -0.5f, 0.5f);
    const std::vector<double> sums = naive_depthwise(s, x, w);
    const ConvEpilogue epilogue(s.c, s.batch * s.c * ohw);
    const Dims out_dims = {s.batch, s.c, oh, ow};
    for (const EpilogueCase& e : kEpilogueCases) {
      std::vector<float> want(sums.size());
      for (size_t at = 0; at < sums.size(); ++at)
        want[at] = epilogue.apply(e, static_cast<int64_t>(at) / ohw % s.c, at, sums[at]);
      std::vector<TensorIn> in = {f32({s.batch, s.c, s.h, s.w}, to_blocked(x, s.batch, s.c, s.h * s.w)),
                                  f32({s.c, 1, s.k, s.k}, w, true), f32({s.c}, epilogue.bias)};
      std::vector<cpu::Layout> layouts = {cpu::Layout::kBlocked8, cpu::Layout::kPlain, cpu::Layout::kPlain};
      Attrs attrs = {{"group", s.c},
                     {"pads", std::vector<int64_t>{s.pad_begin, s.pad_begin, s.pad_end, s.pad_end}},
                     {"strides", std::vector<int64_t>{s.stride, s.stride}}};
      epilogue.add_to(e, out_dims, in, attrs, layouts, cpu::Layout::kBlocked8);
      checked += check_conv_output(in, attrs, layouts, out_dims, cpu::Layout::kBlocked8, want, expected,
                                   s.name() + " bn " + std::to_string(e.batchnorm) + " residual " +
                                       std::to_string(e.residual) + " clip " + std::to_string(e.clip));
    }
  }
  EXPECT_EQ(checked, 4 * 4 * 2);
}

}  // namespace
}  // namespace lw::test
