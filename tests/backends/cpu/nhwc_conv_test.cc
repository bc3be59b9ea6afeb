// 2-D convolutions of group 1 with a channels-last output that are not 1 x 1 and stride 1, which
// on AVX-512 machines run nhwc_conv.h: through the kernel registry (3 x 3 at strides 1 and 2,
// rows of one block, of a block and a shorter one and of several, output channels past a whole
// panel, a strided 1 x 1 projection, asymmetric pads with output rows whose kernel rows reach
// the padding, a 5 x 5 kernel padded wider than its stride and a 7 x 7 stem on a plain NCHW input
// (both read from the padded copy), a batch of 2; a fused epilogue each way; one and two threads)
// and the kernel itself on shapes the registry leaves to oneDNN (output rows 1 and 2 wide, an
// output row entirely in the padding), against a naive loop in double. Elsewhere the registry's
// convolutions run on oneDNN and must match just as well.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/channels_last_conv.h"
#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/nhwc_conv.h"
#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

struct ConvCase {
  int64_t batch, ic, oc, h, w, kh, kw, stride, pad_top, pad_left, pad_bottom, pad_right;
  bool nchw_input;
  int64_t out_h() const { return (h + pad_top + pad_bottom - kh) / stride + 1; }
  int64_t out_w() const { return (w + pad_left + pad_right - kw) / stride + 1; }
  std::string name() const {
    return "batch " + std::to_string(batch) + " " + std::to_string(ic) + "->" + std::to_string(oc) + " " +
           std::to_string(h) + "x" + std::to_string(w) + " kernel " + std::to_string(kh) + "x" + std::to_string(kw) +
           " stride " + std::to_string(stride) + " pads " + std::to_string(pad_top) + "," + std::to_string(pad_left) +
           "," + std::to_string(pad_bottom) + "," + std::to_string(pad_right) + (nchw_input ? " nchw" : "");
  }
};

// The convolution's sums (NCHW, no bias) from x and w in ONNX's NCHW and OIHW.
std::vector<double> naive_conv(const ConvCase& s, const std::vector<float>& x, const std::vector<float>& w) {
  const int64_t oh = s.out_h(), ow = s.out_w();
  std::vector<double> sums(static_cast<size_t>(s.batch * s.oc * oh * ow));
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t o = 0; o < s.oc; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = 0;
          for (int64_t c = 0; c < s.ic; ++c)
            for (int64_t ki = 0; ki < s.kh; ++ki)
              for (int64_t kj = 0; kj < s.kw; ++kj) {
                const int64_t ih = i * s.stride + ki - s.pad_top, iw = j * s.stride + kj - s.pad_left;
                if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
                acc += double(w[static_cast<size_t>(((o * s.ic + c) * s.kh + ki) * s.kw + kj)]) *
                       x[static_cast<size_t>(((n * s.ic + c) * s.h + ih) * s.w + iw)];
              }
          sums[static_cast<size_t>(((n * s.oc + o) * oh + i) * ow + j)] = acc;
        }
  return sums;
}

TEST(NhwcConv, MatchesNaiveLoopThroughTheRegistry) {
  const char* expected = cpu::nhwc_conv_supported() ? "lw:nhwc_conv_avx512" : nullptr;
  const ConvCase cases[] = {
      {1, 16, 32, 14, 14, 3, 3, 1, 1, 1, 1, 1, false},  // one block of 14 a row
      {1, 24, 40, 9, 27, 3, 3, 1, 1, 1, 1, 1, false},   // 14 + 13 a row; 40 channels: a partial panel
      {2, 20, 64, 15, 15, 3, 3, 2, 1, 1, 1, 1, false},  // stride 2, a batch of 2
      {1, 32, 48, 16, 30, 1, 1, 2, 0, 0, 0, 0, false},  // a strided projection, 15 = 8 + 7 a row
      {1, 16, 32, 10, 9, 3, 3, 1, 0, 1, 2, 0, false},   // asymmetric pads
      {1, 8, 16, 12, 12, 5, 5, 1, 2, 2, 2, 2, false},   // pads wider than the stride: the padded copy
      {1, 3, 64, 40, 44, 7, 7, 2, 3, 3, 3, 3, true},    // a stem on the plain input
      {1, 64, 32, 7, 56, 3, 3, 1, 1, 1, 1, 1, false},   // four blocks of 14 a row (one call)
  };
  int checked = 0;
  for (const ConvCase& s : cases) {
    const int64_t oh = s.out_h(), ow = s.out_w(), hw = s.h * s.w, ohw = oh * ow;
    const auto x = random_floats(static_cast<size_t>(s.batch * s.ic * hw), 1);
    const auto w = random_floats(static_cast<size_t>(s.oc * s.ic * s.kh * s.kw), 2, -0.5f, 0.5f);
    const std::vector<double> sums = naive_conv(s, x, w);
    const ConvEpilogue epilogue(s.oc, s.batch * s.oc * ohw);
    const Dims out_dims = {s.batch, s.oc, oh, ow};
    for (const EpilogueCase& e : kEpilogueCases) {
      std::vector<float> want(sums.size());
      for (size_t at = 0; at < sums.size(); ++at)
        want[at] = epilogue.apply(e, static_cast<int64_t>(at) / ohw % s.oc, at, sums[at]);
      std::vector<TensorIn> in = {f32({s.batch, s.ic, s.h, s.w}, s.nchw_input ? x : to_nhwc(x, s.batch, s.ic, hw)),
                                  f32({s.oc, s.ic, s.kh, s.kw}, w, true), f32({s.oc}, epilogue.bias)};
      std::vector<cpu::Layout> layouts = {s.nchw_input ? cpu::Layout::kPlain : cpu::Layout::kChannelsLast,
                                          cpu::Layout::kPlain, cpu::Layout::kPlain};
      Attrs attrs = {{"pads", std::vector<int64_t>{s.pad_top, s.pad_left, s.pad_bottom, s.pad_right}},
                     {"strides", std::vector<int64_t>{s.stride, s.stride}}};
      epilogue.add_to(e, out_dims, in, attrs, layouts);
      checked += check_channels_last_conv(in, attrs, layouts, out_dims, want, expected,
                                          s.name() + " bn " + std::to_string(e.batchnorm) + " residual " +
                                              std::to_string(e.residual) + " clip " + std::to_string(e.clip));
    }
  }
  EXPECT_EQ(checked, 8 * 4 * 2);
}

// Shapes the registry leaves to oneDNN (rows narrower than 7), run on the kernel directly with a
// bias and Relu: rows of 1 and 2 positions, whose first position is also their last, and an
// output row that reads only padding (its value is the bias).
TEST(NhwcConv, NarrowRowsAndPaddingOnlyRowsOnTheKernel) {
  if (!cpu::nhwc_conv_supported()) GTEST_SKIP() << "no AVX-512 here";
  const ConvCase cases[] = {
      {1, 16, 24, 1, 1, 3, 3, 1, 1, 1, 1, 1, false},  // 1 x 1 output reading one input position
      {2, 20, 40, 3, 2, 3, 3, 1, 1, 1, 1, 1, false},  // 2-wide rows
      {1, 16, 32, 4, 5, 3, 3, 1, 3, 1, 0, 1, false},  // the first output row reads only padding
      {1, 3, 16, 6, 6, 3, 3, 2, 3, 2, 2, 2, true},    // the padded copy with a padding-only row
  };
  for (const ConvCase& s : cases) {
    cpu::NhwcConvShape shape{s.batch,    s.ic,         s.h,         s.w,         s.oc,     s.out_h(),
                             s.out_w(),  s.kh,         s.kw,        s.stride,    s.stride, s.pad_top,
                             s.pad_left, s.pad_bottom, s.pad_right, s.nchw_input};
    ASSERT_TRUE(cpu::nhwc_conv_accepts(shape)) << s.name();
    const int64_t ohw = s.out_h() * s.out_w(), hw = s.h * s.w;
    const auto x = random_floats(static_cast<size_t>(s.batch * s.ic * hw), 1);
    const auto w = random_floats(static_cast<size_t>(s.oc * s.ic * s.kh * s.kw), 2, -0.5f, 0.5f);
    const auto bias = random_floats(static_cast<size_t>(s.oc), 3);
    const std::vector<double> sums = naive_conv(s, x, w);
    auto packing =
        cpu::make_weight_packing(cpu::plain_desc({s.oc, s.ic, s.kh, s.kw}), cpu::nhwc_conv_weights_desc(shape));
    std::vector<float> packed(packing->bytes / sizeof(float) + 1);
    ASSERT_TRUE(packing->pack(w.data(), packed.data(), StoreMode::kCached).is_ok());
    std::vector<float> scratch(cpu::nhwc_conv_scratch_bytes(shape) / sizeof(float) + 1);
    const std::vector<float> input = s.nchw_input ? x : to_nhwc(x, s.batch, s.ic, hw);
    for (int threads : {1, 2}) {
      std::vector<float> y(sums.size(), NAN);
      cpu::GemmEpilogue e;
      e.bias = bias.data();
      e.lo = 0.0f;
      cpu::nhwc_conv(input.data(), packed.data(), y.data(), shape, e, scratch.data(), threads);
      const std::vector<float> got = from_nhwc(y, s.batch, s.oc, ohw);
      double worst = 0;
      for (size_t at = 0; at < sums.size(); ++at) {
        const double want = std::max(sums[at] + bias[static_cast<size_t>(at) / ohw % s.oc], 0.0);
        worst = worse(worst, std::fabs(got[at] - want));
      }
      EXPECT_LT(worst, 1e-4) << s.name() << ", threads " << threads;
    }
  }
}

}  // namespace
}  // namespace lw::test
