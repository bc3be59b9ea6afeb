// Convolutions of a few input channels on a plain NCHW input with a channels-last output (an
// image network's stem) through the kernel registry, which on AVX-512 machines run plain_conv.h
// up to 32 taps: 1-4 input channels, 3 x 3 and 5 x 5 (here with 1 channel) kernels, strides 1 and
// 2, one-sided padding, output channel counts that pick different register blocks, rows of
// several full blocks (run in one call), a batch of 2,
// a fused epilogue each way, one and two threads, against a naive loop in double. Elsewhere they
// run on oneDNN and must match just as well.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/cpu/channels_last_conv.h"
#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/cpu/naive_conv.h"
#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

struct StemCase {
  int64_t batch, ic, oc, h, w, k, stride, pad_begin, pad_end;
  int64_t out_h() const { return (h + pad_begin + pad_end - k) / stride + 1; }
  int64_t out_w() const { return (w + pad_begin + pad_end - k) / stride + 1; }
};

TEST(PlainConv, MatchesNaiveLoopOnAPlainInput) {
  const char* expected = cpu::packed_gemm_supported(cpu::GemmPath::kAvx512x64) ? "lw:plain_conv_avx512" : nullptr;
  int checked = 0;
  for (const StemCase& s : {StemCase{1, 3, 32, 15, 15, 3, 2, 1, 1}, StemCase{2, 3, 16, 9, 11, 3, 1, 1, 1},
                            StemCase{1, 1, 64, 13, 8, 5, 2, 2, 1}, StemCase{1, 2, 40, 7, 20, 3, 2, 0, 1},
                            StemCase{1, 3, 96, 30, 30, 3, 2, 1, 1}, StemCase{1, 3, 24, 5, 80, 3, 2, 1, 1}}) {
    const int64_t oh = s.out_h(), ow = s.out_w(), ohw = oh * ow;
    auto x = random_floats(static_cast<size_t>(s.batch * s.ic * s.h * s.w), 1);
    auto w = random_floats(static_cast<size_t>(s.oc * s.ic * s.k * s.k), 2, -0.5f, 0.5f);
    const std::vector<double> sums = naive_conv_sums(
        {s.batch, s.ic, s.oc, s.h, s.w, s.k, s.k, s.stride, s.pad_begin, s.pad_begin, s.pad_end, s.pad_end}, x, w);
    const ConvEpilogue epilogue(s.oc, s.batch * s.oc * ohw);
    const Dims out_dims = {s.batch, s.oc, oh, ow};
    for (const EpilogueCase& e : kEpilogueCases) {
      const std::vector<float> want = epilogue.apply_to(e, sums, ohw);
      std::vector<TensorIn> in = {f32({s.batch, s.ic, s.h, s.w}, x), f32({s.oc, s.ic, s.k, s.k}, w, true),
                                  f32({s.oc}, epilogue.bias)};
      std::vector<cpu::Layout> layouts = {cpu::Layout::kPlain, cpu::Layout::kPlain, cpu::Layout::kPlain};
      Attrs attrs = {{"pads", std::vector<int64_t>{s.pad_begin, s.pad_begin, s.pad_end, s.pad_end}},
                     {"strides", std::vector<int64_t>{s.stride, s.stride}}};
      epilogue.add_to(e, out_dims, in, attrs, layouts);
      checked += check_channels_last_conv(
          in, attrs, layouts, out_dims, want, expected,
          "batch " + std::to_string(s.batch) + " " + std::to_string(s.ic) + "->" + std::to_string(s.oc) + " " +
              std::to_string(s.h) + "x" + std::to_string(s.w) + " kernel " + std::to_string(s.k) + " stride " +
              std::to_string(s.stride) + " bn " + std::to_string(e.batchnorm) + " residual " +
              std::to_string(e.residual) + " clip " + std::to_string(e.clip));
    }
  }
  EXPECT_EQ(checked, 6 * 5 * 2);
}

}  // namespace
}  // namespace lw::test
