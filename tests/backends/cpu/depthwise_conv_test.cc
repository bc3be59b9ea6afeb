// Depthwise convolutions (group = channels) on channels-last activations through the kernel
// registry, which on AVX-512 machines run depthwise_conv.h: 3 x 3 and 5 x 5 kernels, strides 1
// and 2, symmetric and one-sided padding, channel counts with and without a partial 16-channel
// vector, widths around the 8-position blocks, a batch of 2, a fused epilogue each way (bias, a
// BatchNorm with a pruned channel, a residual, Relu or Clip), one and two threads, against a naive
// loop in double. Elsewhere the same convolutions run on oneDNN and must match just as well.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/channels_last_conv.h"
#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/depthwise_conv.h"
#include "backends/cpu/naive_conv.h"
#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

struct DwCase {
  int64_t batch, c, h, w, k, stride, pad_begin, pad_end;
  int64_t out_h() const { return (h + pad_begin + pad_end - k) / stride + 1; }
  int64_t out_w() const { return (w + pad_begin + pad_end - k) / stride + 1; }
};

TEST(DepthwiseConv, MatchesNaiveLoopOnChannelsLast) {
  const char* expected = cpu::depthwise_conv_supported() ? "lw:depthwise_conv_avx512" : nullptr;
  int checked = 0;
  for (const DwCase& s :
       {DwCase{1, 32, 9, 9, 3, 1, 1, 1}, DwCase{1, 24, 10, 13, 3, 2, 1, 1}, DwCase{2, 48, 7, 7, 3, 1, 1, 1},
        DwCase{1, 96, 12, 20, 5, 1, 2, 2}, DwCase{1, 20, 6, 17, 3, 2, 0, 1}, DwCase{1, 144, 3, 3, 3, 1, 1, 1}}) {
    const int64_t oh = s.out_h(), ow = s.out_w(), hw = s.h * s.w, ohw = oh * ow;
    auto x = random_floats(static_cast<size_t>(s.batch * s.c * hw), 1);
    auto w = random_floats(static_cast<size_t>(s.c * s.k * s.k), 2, -0.5f, 0.5f);
    const std::vector<double> sums = naive_conv_sums(
        {s.batch, s.c, s.c, s.h, s.w, s.k, s.k, s.stride, s.pad_begin, s.pad_begin, s.pad_end, s.pad_end, s.c}, x, w);
    const ConvEpilogue epilogue(s.c, s.batch * s.c * ohw);
    const Dims out_dims = {s.batch, s.c, oh, ow};
    for (const EpilogueCase& e : kEpilogueCases) {
      const std::vector<float> want = epilogue.apply_to(e, sums, ohw);
      std::vector<TensorIn> in = {f32({s.batch, s.c, s.h, s.w}, to_nhwc(x, s.batch, s.c, hw)),
                                  f32({s.c, 1, s.k, s.k}, w, true), f32({s.c}, epilogue.bias)};
      std::vector<cpu::Layout> layouts = {cpu::Layout::kChannelsLast, cpu::Layout::kPlain, cpu::Layout::kPlain};
      Attrs attrs = {{"group", s.c},
                     {"pads", std::vector<int64_t>{s.pad_begin, s.pad_begin, s.pad_end, s.pad_end}},
                     {"strides", std::vector<int64_t>{s.stride, s.stride}}};
      epilogue.add_to(e, out_dims, in, attrs, layouts);
      checked += check_channels_last_conv(in, attrs, layouts, out_dims, want, expected,
                                          "batch " + std::to_string(s.batch) + " " + std::to_string(s.c) +
                                              " channels " + std::to_string(s.h) + "x" + std::to_string(s.w) +
                                              " kernel " + std::to_string(s.k) + " stride " + std::to_string(s.stride) +
                                              " pads " + std::to_string(s.pad_begin) + "," + std::to_string(s.pad_end) +
                                              " bn " + std::to_string(e.batchnorm) + " residual " +
                                              std::to_string(e.residual) + " clip " + std::to_string(e.clip));
    }
  }
  EXPECT_EQ(checked, 6 * 5 * 2);
}

}  // namespace
}  // namespace lw::test
