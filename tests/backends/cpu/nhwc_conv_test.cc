// 2-D convolutions of group 1 with a channels-last output that are not 1 x 1 and stride 1, which
// on AVX-512 machines run nhwc_conv.h: through the kernel registry (3 x 3 at strides 1 and 2,
// rows of one block, of a block and a shorter one and of several, output channels past a whole
// panel, a strided 1 x 1 projection, asymmetric pads with output rows whose kernel rows reach
// the padding, a 5 x 5 kernel padded wider than its stride and a 7 x 7 stem on a plain NCHW input
// (both read from the padded copy), a batch of 2, and rows narrower than 7, whose positions are
// gathered: 1 to 5 wide, strided, more panels than positions with the panels split between the
// threads, a batch; a fused epilogue each way; one and two threads) and the kernel itself on
// edge shapes (output rows 1 and 2 wide, output rows entirely in the padding, on either path),
// against a naive loop in double. Elsewhere the registry's convolutions run on oneDNN and must
// match just as well.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/channels_last_conv.h"
#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/nhwc_conv.h"
#include "backends/cpu/naive_conv.h"
#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

// A convolution's geometry ({batch, in, out, h, w, kernel_h, kernel_w, stride, pads top, left,
// bottom, right}) and whether its input is NCHW rather than channels-last.
struct ConvCase {
  NaiveConv2d g;
  bool nchw_input;
  std::string name() const { return conv_name(g) + (nchw_input ? " nchw" : ""); }
};

TEST(NhwcConv, MatchesNaiveLoopThroughTheRegistry) {
  const char* expected = cpu::nhwc_conv_supported() ? "lw:nhwc_conv_avx512" : nullptr;
  const ConvCase cases[] = {
      {{1, 16, 32, 14, 14, 3, 3, 1, 1, 1, 1, 1}, false},  // one block of 14 a row
      {{1, 24, 40, 9, 27, 3, 3, 1, 1, 1, 1, 1}, false},   // 14 + 13 a row; 40 channels: a partial panel
      {{2, 20, 64, 15, 15, 3, 3, 2, 1, 1, 1, 1}, false},  // stride 2, a batch of 2
      {{1, 32, 48, 16, 30, 1, 1, 2, 0, 0, 0, 0}, false},  // a strided projection, 15 = 8 + 7 a row
      {{1, 16, 32, 10, 9, 3, 3, 1, 0, 1, 2, 0}, false},   // asymmetric pads
      {{2, 8, 16, 12, 12, 5, 5, 1, 2, 2, 2, 2}, false},   // pads wider than the stride: the padded copy, 2 images
      {{1, 3, 64, 40, 44, 7, 7, 2, 3, 3, 3, 3}, true},    // a stem on the plain input
      {{1, 64, 32, 7, 56, 3, 3, 1, 1, 1, 1, 1}, false},   // four blocks of 14 a row (one call)
      // Rows narrower than 7: gathered positions.
      {{1, 64, 64, 4, 4, 3, 3, 1, 1, 1, 1, 1}, false},   // 16 positions: blocks of 8
      {{2, 8, 16, 6, 6, 3, 3, 1, 1, 1, 1, 1}, false},    // 72 positions of 2 images against one panel
      {{1, 16, 200, 5, 5, 3, 3, 1, 1, 1, 1, 1}, false},  // 7 panels (a partial one) shared by 2 threads
      {{1, 32, 64, 4, 4, 1, 1, 2, 0, 0, 0, 0}, false},   // a strided projection to 2 x 2
      {{1, 40, 80, 2, 3, 3, 3, 2, 1, 1, 1, 1}, false},   // stride 2 to 1 x 2
  };
  int checked = 0;
  for (const ConvCase& c : cases) {
    const NaiveConv2d& s = c.g;
    const int64_t oh = s.out_h(), ow = s.out_w(), hw = s.h * s.w, ohw = oh * ow;
    const int64_t ic = s.in_channels, oc = s.out_channels;
    const auto x = random_floats(static_cast<size_t>(s.batch * ic * hw), 1);
    const auto w = random_floats(static_cast<size_t>(oc * ic * s.kernel_h * s.kernel_w), 2, -0.5f, 0.5f);
    const std::vector<double> sums = naive_conv_sums(s, x, w);
    const ConvEpilogue epilogue(oc, s.batch * oc * ohw);
    const Dims out_dims = {s.batch, oc, oh, ow};
    for (const EpilogueCase& e : kEpilogueCases) {
      const std::vector<float> want = epilogue.apply_to(e, sums, ohw);
      std::vector<TensorIn> in = {f32({s.batch, ic, s.h, s.w}, c.nchw_input ? x : to_nhwc(x, s.batch, ic, hw)),
                                  f32({oc, ic, s.kernel_h, s.kernel_w}, w, true), f32({oc}, epilogue.bias)};
      std::vector<cpu::Layout> layouts = {c.nchw_input ? cpu::Layout::kPlain : cpu::Layout::kChannelsLast,
                                          cpu::Layout::kPlain, cpu::Layout::kPlain};
      Attrs attrs = {{"pads", std::vector<int64_t>{s.pad_top, s.pad_left, s.pad_bottom, s.pad_right}},
                     {"strides", std::vector<int64_t>{s.stride, s.stride}}};
      epilogue.add_to(e, out_dims, in, attrs, layouts);
      checked += check_channels_last_conv(in, attrs, layouts, out_dims, want, expected,
                                          c.name() + " bn " + std::to_string(e.batchnorm) + " residual " +
                                              std::to_string(e.residual) + " clip " + std::to_string(e.clip));
    }
  }
  EXPECT_EQ(checked, 13 * 5 * 2);
}

// Edge shapes, run on the kernel directly with a bias, a BatchNorm's multiply and add, a residual
// and Relu: rows of 1 and 2 positions (gathered), and output rows that read only padding, both
// gathered and on rows of their own (read in place, and from the padded copy).
TEST(NhwcConv, EdgeShapesOnTheKernel) {
  if (!cpu::nhwc_conv_supported()) GTEST_SKIP() << "no AVX-512 here";
  const ConvCase cases[] = {
      {{1, 16, 24, 1, 1, 3, 3, 1, 1, 1, 1, 1}, false},  // 1 x 1 output reading one input position
      {{2, 20, 40, 3, 2, 3, 3, 1, 1, 1, 1, 1}, false},  // 2-wide rows
      {{1, 16, 32, 4, 5, 3, 3, 1, 3, 1, 0, 1}, false},  // the first output row reads only padding
      {{1, 3, 16, 6, 6, 3, 3, 2, 3, 2, 2, 2}, true},    // gathered from NCHW with a padding-only row
      {{1, 16, 32, 4, 9, 3, 3, 1, 3, 1, 0, 1}, false},  // 9-wide rows read in place, the first in padding
      {{1, 3, 16, 6, 16, 3, 3, 2, 3, 2, 2, 2}, true},   // 9-wide rows from the padded copy, the first in padding
  };
  for (const ConvCase& c : cases) {
    const NaiveConv2d& s = c.g;
    const int64_t ic = s.in_channels, oc = s.out_channels, ohw = s.out_h() * s.out_w(), hw = s.h * s.w;
    cpu::NhwcConvShape shape{s.batch,    ic,           s.h,         s.w,         oc,       s.out_h(),
                             s.out_w(),  s.kernel_h,   s.kernel_w,  s.stride,    s.stride, s.pad_top,
                             s.pad_left, s.pad_bottom, s.pad_right, c.nchw_input};
    ASSERT_TRUE(cpu::nhwc_conv_accepts(shape)) << c.name();
    const auto x = random_floats(static_cast<size_t>(s.batch * ic * hw), 1);
    const auto w = random_floats(static_cast<size_t>(oc * ic * s.kernel_h * s.kernel_w), 2, -0.5f, 0.5f);
    const std::vector<double> sums = naive_conv_sums(s, x, w);
    const KernelEpilogue epilogue(oc, s.batch * oc * ohw);
    const auto packed = packed_weights(w, {oc, ic, s.kernel_h, s.kernel_w}, cpu::nhwc_conv_weights_desc(shape));
    ASSERT_FALSE(packed.empty());
    std::vector<float> scratch(cpu::nhwc_conv_scratch_bytes(shape) / sizeof(float) + 1);
    const std::vector<float> input = c.nchw_input ? x : to_nhwc(x, s.batch, ic, hw);
    const std::vector<float> residual = to_nhwc(epilogue.residual, s.batch, oc, ohw);
    for (int threads : {1, 2}) {
      std::vector<float> y(sums.size(), NAN);
      cpu::nhwc_conv(input.data(), packed.data(), y.data(), shape, epilogue.operands(residual.data()), scratch.data(),
                     threads);
      const std::vector<float> got = from_nhwc(y, s.batch, oc, ohw);
      double worst = 0;
      for (size_t at = 0; at < sums.size(); ++at)
        worst = worse(worst, std::fabs(got[at] - epilogue.want(sums[at], static_cast<int64_t>(at) / ohw % oc, at)));
      EXPECT_LT(worst, 1e-4) << c.name() << ", threads " << threads;
    }
  }
}

}  // namespace
}  // namespace lw::test
