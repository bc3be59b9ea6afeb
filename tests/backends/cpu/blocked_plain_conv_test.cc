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
#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

struct StemCase {
  int64_t batch, ic, oc, h, w, k, stride, pad_top, pad_left, pad_bottom, pad_right;
  int64_t out_h() const { return (h + pad_top + pad_bottom - k) / stride + 1; }
  int64_t out_w() const { return (w + pad_left + pad_right - k) / stride + 1; }
  std::string name() const {
    return "batch " + std::to_string(batch) + " " + std::to_string(ic) + "->" + std::to_string(oc) + " " +
           std::to_string(h) + "x" + std::to_string(w) + " kernel " + std::to_string(k) + " stride " +
           std::to_string(stride) + " pads " + std::to_string(pad_top) + "," + std::to_string(pad_left) + "," +
           std::to_string(pad_bottom) + "," + std::to_string(pad_right);
  }
};

// The sums (NCHW) of x (NCHW) and w (OIHW).
std::vector<double> naive_conv(const StemCase& s, const std::vector<float>& x, const std::vector<float>& w) {
  const int64_t oh = s.out_h(), ow = s.out_w();
  std::vector<double> sums(static_cast<size_t>(s.batch * s.oc * oh * ow));
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t o = 0; o < s.oc; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = 0;
          for (int64_t c = 0; c < s.ic; ++c)
            for (int64_t ki = 0; ki < s.k; ++ki)
              for (int64_t kj = 0; kj < s.k; ++kj) {
                const int64_t ih = i * s.stride + ki - s.pad_top, iw = j * s.stride + kj - s.pad_left;
                if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
                acc += double(w[static_cast<size_t>(((o * s.ic + c) * s.k + ki) * s.k + kj)]) *
                       x[static_cast<size_t>(((n * s.ic + c) * s.h + ih) * s.w + iw)];
              }
          sums[static_cast<size_t>(((n * s.oc + o) * oh + i) * ow + j)] = acc;
        }
  return sums;
}

constexpr StemCase kCases[] = {
    {1, 3, 64, 30, 30, 7, 2, 3, 3, 3, 3},  // ResNet's stem, rows of 15: 2 blocks of 6 and one of 3
    {2, 3, 24, 17, 20, 3, 2, 1, 1, 1, 1},  // MobileNet's, a half panel, a batch of 2
    {1, 1, 16, 9, 14, 5, 1, 2, 2, 0, 1},   // asymmetric pads
    {1, 2, 32, 12, 12, 3, 2, 3, 1, 1, 1},  // the first output row reads only padding
};

TEST(BlockedPlainConv, KernelMatchesNaiveLoop) {
  if (!cpu::blocked_plain_conv_supported()) GTEST_SKIP() << "no AVX2 here";
  for (const StemCase& s : kCases) {
    const int64_t oh = s.out_h(), ow = s.out_w(), ohw = oh * ow;
    cpu::BlockedPlainConvShape shape{s.batch, s.ic,     s.h,      s.w,       s.oc,       oh,           ow,         s.k,
                                     s.k,     s.stride, s.stride, s.pad_top, s.pad_left, s.pad_bottom, s.pad_right};
    ASSERT_TRUE(cpu::blocked_plain_conv_accepts(shape)) << s.name();
    const auto x = random_floats(static_cast<size_t>(s.batch * s.ic * s.h * s.w), 1);
    const auto w = random_floats(static_cast<size_t>(s.oc * s.ic * s.k * s.k), 2, -0.5f, 0.5f);
    const auto bias = random_floats(static_cast<size_t>(s.oc), 3);
    const auto mul = random_floats(static_cast<size_t>(s.oc), 4, -1.5f, 1.5f);
    const auto add = random_floats(static_cast<size_t>(s.oc), 5);
    const auto residual = random_floats(static_cast<size_t>(s.batch * s.oc * ohw), 6, -2.0f, 2.0f);
    const std::vector<double> sums = naive_conv(s, x, w);
    auto packing =
        cpu::make_weight_packing(cpu::plain_desc({s.oc, s.ic, s.k, s.k}), cpu::blocked_plain_conv_weights_desc(shape));
    std::vector<float> packed(packing->bytes / sizeof(float) + 1);
    ASSERT_TRUE(packing->pack(w.data(), packed.data(), StoreMode::kCached).is_ok());
    std::vector<float> scratch(cpu::blocked_plain_conv_scratch_bytes(shape) / sizeof(float) + 1);
    const std::vector<float> res = to_blocked(residual, s.batch, s.oc, ohw);
    for (int threads : {1, 2}) {
      std::vector<float> y(sums.size(), NAN);
      cpu::GemmEpilogue e;
      e.bias = bias.data();
      e.mul = mul.data();
      e.add = add.data();
      e.residual = res.data();
      e.lo = 0.0f;
      cpu::blocked_plain_conv(x.data(), packed.data(), y.data(), shape, e, scratch.data(), threads);
      const std::vector<float> got = from_blocked(y, s.batch, s.oc, ohw);
      double worst = 0;
      for (size_t at = 0; at < sums.size(); ++at) {
        const auto o = static_cast<size_t>(static_cast<int64_t>(at) / ohw % s.oc);
        const double want = std::max((sums[at] + bias[o]) * mul[o] + add[o] + residual[at], 0.0);
        worst = worse(worst, std::fabs(got[at] - want));
      }
      EXPECT_LT(worst, 1e-4) << s.name() << ", threads " << threads;
    }
  }
}

TEST(BlockedPlainConv, FusedConvThroughTheRegistry) {
  const bool avx2_machine =
      cpu::blocked_plain_conv_supported() && cpu::preferred_conv_activation_layout() == cpu::Layout::kBlocked8;
  const char* expected = avx2_machine ? "lw:blocked_plain_conv_avx2" : nullptr;
  int checked = 0;
  for (const StemCase& s : {kCases[0], kCases[1]}) {
    const int64_t oh = s.out_h(), ow = s.out_w(), ohw = oh * ow;
    const auto x = random_floats(static_cast<size_t>(s.batch * s.ic * s.h * s.w), 11);
    const auto w = random_floats(static_cast<size_t>(s.oc * s.ic * s.k * s.k), 12, -0.5f, 0.5f);
    const std::vector<double> sums = naive_conv(s, x, w);
    const ConvEpilogue epilogue(s.oc, s.batch * s.oc * ohw);
    const Dims out_dims = {s.batch, s.oc, oh, ow};
    for (const EpilogueCase& e : kEpilogueCases) {
      std::vector<float> want(sums.size());
      for (size_t at = 0; at < sums.size(); ++at)
        want[at] = epilogue.apply(e, static_cast<int64_t>(at) / ohw % s.oc, at, sums[at]);
      std::vector<TensorIn> in = {f32({s.batch, s.ic, s.h, s.w}, x), f32({s.oc, s.ic, s.k, s.k}, w, true),
                                  f32({s.oc}, epilogue.bias)};
      std::vector<cpu::Layout> layouts = {cpu::Layout::kPlain, cpu::Layout::kPlain, cpu::Layout::kPlain};
      Attrs attrs = {{"pads", std::vector<int64_t>{s.pad_top, s.pad_left, s.pad_bottom, s.pad_right}},
                     {"strides", std::vector<int64_t>{s.stride, s.stride}}};
      epilogue.add_to(e, out_dims, in, attrs, layouts, cpu::Layout::kBlocked8);
      checked += check_conv_output(in, attrs, layouts, out_dims, cpu::Layout::kBlocked8, want, expected,
                                   s.name() + " bn " + std::to_string(e.batchnorm) + " residual " +
                                       std::to_string(e.residual) + " clip " + std::to_string(e.clip));
    }
  }
  EXPECT_EQ(checked, 2 * 4 * 2);
}

}  // namespace
}  // namespace lw::test
