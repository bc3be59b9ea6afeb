// blocked_conv and winograd_conv (liveweight's AVX2 convolutions over 8-channel blocks) against a
// naive loop over plain NCHW data: shapes that take every tile width and edge case (1, 2 and 4
// output blocks per tile, strides, asymmetric pads, kernels from 1 x 1 to 7 x 7, outputs that
// read only padding, input channels in several chunks and rows in several passes; Winograd's
// 3 x 3 stride-1 ones, odd output sizes, several steps of tiles), each epilogue (bias, a
// BatchNorm's multiply and add, a residual, also as the output itself, Relu and Clip), 1, 2, 3
// and 5 threads. Then a fused Conv through the kernel registry on blocked activations, which takes
// them on AVX2 machines as LW_CPU_CONV says.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "backends/cpu/kernels/blocked_conv.h"
#include "backends/cpu/kernels/pointwise_conv.h"
#include "backends/cpu/kernels/winograd_conv.h"
#include "backends/kernel_harness.h"
#include "compiler/passes/epilogue_fusion.h"
#include "support/blocked_layout.h"

namespace lw::test {
namespace {

struct Case {
  int64_t batch, ic, oc, h, w, kh, kw, sh, sw, pt, pl, pb, pr;
  int64_t out_h() const { return (h + pt + pb - kh) / sh + 1; }
  int64_t out_w() const { return (w + pl + pr - kw) / sw + 1; }
};

std::string describe(const Case& c) {
  return "batch " + std::to_string(c.batch) + " " + std::to_string(c.ic) + "->" + std::to_string(c.oc) + " " +
         std::to_string(c.h) + "x" + std::to_string(c.w) + " kernel " + std::to_string(c.kh) + "x" + std::to_string(c.kw) +
         " stride " + std::to_string(c.sh) + "," + std::to_string(c.sw) + " pads " + std::to_string(c.pt) + "," +
         std::to_string(c.pl) + "," + std::to_string(c.pb) + "," + std::to_string(c.pr);
}

// OIHW -> ABcd8b8a: [o / 8, i / 8, kh, kw, 8 inputs, 8 outputs].
std::vector<float> weights_blocked(const std::vector<float>& w, int64_t o, int64_t i, int64_t kh, int64_t kw) {
  std::vector<float> out(w.size());
  for (int64_t a = 0; a < o; ++a)
    for (int64_t b = 0; b < i; ++b)
      for (int64_t u = 0; u < kh; ++u)
        for (int64_t v = 0; v < kw; ++v)
          out[static_cast<size_t>(((((a / 8) * (i / 8) + b / 8) * kh + u) * kw + v) * 64 + (b % 8) * 8 + a % 8)] =
              w[static_cast<size_t>(((a * i + b) * kh + u) * kw + v)];
  return out;
}

struct Epilogue {
  bool bias = false, batchnorm = false, residual = false, residual_is_output = false;
  float lo = -INFINITY, hi = INFINITY;
};

// y = clamp((conv + bias) * mul + add + residual, lo, hi) in double, plain NCHW.
std::vector<float> naive(const Case& c, const std::vector<float>& x, const std::vector<float>& w,
                         const std::vector<float>* bias, const std::vector<float>* mul, const std::vector<float>* add,
                         const std::vector<float>* residual, float lo, float hi) {
  const int64_t oh = c.out_h(), ow = c.out_w();
  std::vector<float> y(static_cast<size_t>(c.batch * c.oc * oh * ow));
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t o = 0; o < c.oc; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = bias ? (*bias)[static_cast<size_t>(o)] : 0.0;
          for (int64_t ch = 0; ch < c.ic; ++ch)
            for (int64_t u = 0; u < c.kh; ++u)
              for (int64_t v = 0; v < c.kw; ++v) {
                const int64_t ii = i * c.sh - c.pt + u, jj = j * c.sw - c.pl + v;
                if (ii < 0 || jj < 0 || ii >= c.h || jj >= c.w) continue;
                acc += double(x[static_cast<size_t>(((n * c.ic + ch) * c.h + ii) * c.w + jj)]) *
                       w[static_cast<size_t>(((o * c.ic + ch) * c.kh + u) * c.kw + v)];
              }
          if (mul) acc = acc * (*mul)[static_cast<size_t>(o)] + (*add)[static_cast<size_t>(o)];
          const auto at = static_cast<size_t>(((n * c.oc + o) * oh + i) * ow + j);
          if (residual) acc += (*residual)[at];
          y[at] = std::min(std::max(static_cast<float>(acc), lo), hi);
        }
  return y;
}

const Case kCases[] = {
    {1, 16, 32, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1},      // 4 output blocks per tile (3 positions)
    {2, 8, 8, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1},        // 1 block per tile (6 positions), 2 images
    {1, 24, 48, 12, 10, 3, 3, 2, 2, 1, 1, 1, 1},    // 2 blocks per tile, stride 2
    {1, 16, 40, 7, 7, 1, 1, 1, 1, 0, 0, 0, 0},      // 1 x 1
    {1, 128, 32, 10, 70, 3, 3, 1, 1, 1, 1, 1, 1},   // 2 chunks of input channels, 4 passes over the rows
    {1, 16, 32, 11, 11, 7, 7, 2, 2, 3, 3, 3, 3},    // 7 x 7 in chunks of one input block
    {1, 8, 16, 6, 5, 3, 5, 1, 2, 2, 1, 0, 2},       // 3 x 5, asymmetric pads and strides
    {1, 8, 32, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1},       // one pixel: every tap but the centre is padding
    {1, 16, 32, 4, 4, 3, 3, 1, 1, 3, 3, 3, 3},      // outputs that read nothing but padding
    {3, 32, 64, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1},    // 3 images
    {1, 64, 64, 20, 20, 3, 3, 1, 1, 1, 1, 1, 1},    // rows of whole tiles inside the image
    // Outputs of up to 64 positions read a padded copy of the input; these larger ones take the
    // edge tiles instead, with the pads and strides of two of the cases above.
    {1, 8, 16, 20, 11, 3, 5, 1, 2, 2, 1, 0, 2},     // 3 x 5, asymmetric pads and strides
    {1, 16, 32, 4, 12, 3, 3, 1, 1, 3, 3, 3, 3},     // outputs that read nothing but padding
    {2, 96, 32, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},      // 7 x 7 of 2 images in 2 chunks (padded copies)
};

using ConvFn = void (*)(const float*, const float*, float*, const cpu::BlockedConvShape&, const cpu::BlockedConvEpilogue&,
                        void*, int);
using ScratchFn = size_t (*)(const cpu::BlockedConvShape&, int);

// `conv` over every case it accepts (at least `min_cases` of them) against the naive loop.
void check_against_naive_loop(ConvFn conv, ScratchFn scratch_bytes, bool (*accepts)(const cpu::BlockedConvShape&),
                              const std::vector<Case>& cases, size_t min_cases) {
  const Epilogue epilogues[] = {
      {true, false, false, false},
      {true, true, true, false, 0.0f},
      {false, true, true, true, -0.3f, 0.4f},
      {false, false, false, false, 0.0f},
  };
  uint32_t seed = 1;
  size_t ran = 0;
  for (const Case& c : cases) {
    cpu::BlockedConvShape s{c.batch, c.ic, c.h, c.w, c.oc, c.out_h(), c.out_w(), c.kh, c.kw, c.sh, c.sw, c.pt, c.pl};
    if (!accepts(s)) continue;
    ++ran;
    const int64_t out_hw = c.out_h() * c.out_w();
    auto x = random_floats(static_cast<size_t>(c.batch * c.ic * c.h * c.w), seed++);
    auto w = random_floats(static_cast<size_t>(c.oc * c.ic * c.kh * c.kw), seed++, -0.3f, 0.3f);
    auto bias = random_floats(static_cast<size_t>(c.oc), seed++);
    auto mul = random_floats(static_cast<size_t>(c.oc), seed++, -1.5f, 1.5f);
    auto add = random_floats(static_cast<size_t>(c.oc), seed++);
    auto residual = random_floats(static_cast<size_t>(c.batch * c.oc * out_hw), seed++, -2.0f, 2.0f);
    const auto xb = to_blocked(x, c.batch, c.ic, c.h * c.w);
    const auto wb = weights_blocked(w, c.oc, c.ic, c.kh, c.kw);
    const auto rb = to_blocked(residual, c.batch, c.oc, out_hw);
    for (const Epilogue& e : epilogues) {
      const auto want = naive(c, x, w, e.bias ? &bias : nullptr, e.batchnorm ? &mul : nullptr, &add,
                              e.residual ? &residual : nullptr, e.lo, e.hi);
      // 5 threads on fewer cores: some are descheduled mid-convolution, and the others take
      // their steps (work_shares.h).
      for (int threads : {1, 2, 3, 5}) {
        std::vector<float> y(want.size(), -777.0f);
        if (e.residual_is_output) y = rb;
        // Not zeros: a kernel must write what it reads there (the padding of a copied input).
        std::vector<float> scratch(scratch_bytes(s, threads) / sizeof(float) + 1, 1234.5f);
        cpu::BlockedConvEpilogue ep;
        ep.bias = e.bias ? bias.data() : nullptr;
        ep.mul = e.batchnorm ? mul.data() : nullptr;
        ep.add = e.batchnorm ? add.data() : nullptr;
        ep.residual = e.residual ? (e.residual_is_output ? y.data() : rb.data()) : nullptr;
        ep.lo = e.lo;
        ep.hi = e.hi;
        conv(xb.data(), wb.data(), y.data(), s, ep, scratch.data(), threads);
        const auto got = from_blocked(y, c.batch, c.oc, out_hw);
        double worst = 0;
        for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, double(std::fabs(got[i] - want[i])));
        EXPECT_LT(worst, 1e-4) << describe(c) << ", " << threads << " threads, bias " << e.bias << " batchnorm "
                               << e.batchnorm << " residual " << e.residual << (e.residual_is_output ? " (the output)" : "")
                               << " clamp [" << e.lo << ", " << e.hi << "]";
      }
    }
  }
  EXPECT_GE(ran, min_cases);
}

TEST(BlockedConv, MatchesNaiveLoop) {
  if (!cpu::blocked_conv_supported()) GTEST_SKIP() << "no AVX2 + FMA";
  check_against_naive_loop(cpu::blocked_conv, cpu::blocked_conv_scratch_bytes, cpu::blocked_conv_accepts,
                           std::vector<Case>(std::begin(kCases), std::end(kCases)), std::size(kCases));
}

TEST(WinogradConv, MatchesNaiveLoop) {
  if (!cpu::blocked_conv_supported()) GTEST_SKIP() << "no AVX2 + FMA";
  std::vector<Case> cases(std::begin(kCases), std::end(kCases));
  cases.push_back({1, 32, 16, 9, 7, 3, 3, 1, 1, 1, 1, 1, 1});   // odd output sizes: partial tiles
  cases.push_back({2, 16, 24, 30, 30, 3, 3, 1, 1, 1, 1, 1, 1});  // 450 tiles: several steps a thread
  cases.push_back({1, 8, 8, 6, 6, 3, 3, 1, 1, 2, 2, 0, 0});     // pads of 2 on one side only
  check_against_naive_loop(cpu::winograd_conv, cpu::winograd_conv_scratch_bytes, cpu::winograd_conv_accepts, cases, 8);
}

// The 1 x 1 shapes of ResNets and MobileNets: a half panel (24 and 40 channels), several
// passes over the input channels (600: 2 passes of 304 and 296; 1040: 3), strided
// downsampling, outputs in several bands (3136 positions), several images, and outputs of
// fewer positions than threads. The 3 x 3 cases above are refused.
TEST(PointwiseConv, MatchesNaiveLoop) {
  if (!cpu::blocked_conv_supported()) GTEST_SKIP() << "no AVX2 + FMA";
  std::vector<Case> cases(std::begin(kCases), std::end(kCases));
  cases.push_back({1, 64, 256, 56, 56, 1, 1, 1, 1, 0, 0, 0, 0});   // 3136 positions: bands
  cases.push_back({1, 600, 24, 9, 11, 1, 1, 1, 1, 0, 0, 0, 0});    // 2 passes, a half panel
  cases.push_back({2, 1040, 40, 5, 5, 1, 1, 2, 2, 0, 0, 0, 0});    // 3 passes, stride 2, 2 images
  cases.push_back({1, 256, 512, 14, 13, 1, 1, 2, 2, 0, 0, 0, 0});  // stride 2 from an odd width
  cases.push_back({1, 32, 16, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0});      // one position
  cases.push_back({1, 8, 8, 3, 7, 1, 1, 3, 2, 0, 0, 0, 0});        // strides 3 and 2
  check_against_naive_loop(cpu::pointwise_conv, cpu::pointwise_conv_scratch_bytes, cpu::pointwise_conv_accepts,
                           cases, 7);
}

// A NaN passes Relu's clamp, as it does through oneDNN's; on the one-pass path and the one of
// several passes over the input channels.
TEST(PointwiseConv, NanPassesTheClamp) {
  if (!cpu::blocked_conv_supported()) GTEST_SKIP() << "no AVX2 + FMA";
  for (int64_t channels : {16, 1040}) {
    cpu::BlockedConvShape s{1, channels, 3, 3, 16, 3, 3, 1, 1, 1, 1, 0, 0};
    std::vector<float> x(static_cast<size_t>(channels * 9), 1.0f), w(static_cast<size_t>(channels * 16), 0.1f);
    std::vector<float> bias(16, 0.0f), y(16 * 9, 0.0f);
    bias[3] = NAN;
    cpu::BlockedConvEpilogue ep;
    ep.bias = bias.data();
    ep.lo = 0.0f;
    std::vector<float> scratch(cpu::pointwise_conv_scratch_bytes(s, 2) / sizeof(float) + 1);
    cpu::pointwise_conv(x.data(), w.data(), y.data(), s, ep, scratch.data(), 2);
    for (int64_t p = 0; p < 9; ++p) {
      EXPECT_TRUE(std::isnan(y[static_cast<size_t>(p * 8 + 3)])) << channels << " channels, position " << p;
      EXPECT_FALSE(std::isnan(y[static_cast<size_t>(p * 8 + 2)])) << channels << " channels, position " << p;
    }
  }
}

TEST(PointwiseConv, RejectsWhatItCannotRun) {
  cpu::BlockedConvShape s{1, 16, 6, 6, 8, 6, 6, 1, 1, 1, 1, 0, 0};
  EXPECT_TRUE(cpu::pointwise_conv_accepts(s));
  s.kernel_w = 3;
  s.out_w = 4;
  EXPECT_FALSE(cpu::pointwise_conv_accepts(s)) << "1 x 3";
  s = {1, 16, 6, 6, 8, 8, 8, 1, 1, 1, 1, 1, 1};
  EXPECT_FALSE(cpu::pointwise_conv_accepts(s)) << "padded";
  s = {1, 16, 6, 6, 8, 5, 6, 1, 1, 1, 1, 0, 0};
  EXPECT_FALSE(cpu::pointwise_conv_accepts(s)) << "an output row that skips the last input row";
  s = {1, 12, 6, 6, 8, 6, 6, 1, 1, 1, 1, 0, 0};
  EXPECT_FALSE(cpu::pointwise_conv_accepts(s)) << "12 input channels";
}

// Where Winograd is chosen: enough output tiles, or filters small enough.
TEST(WinogradConv, PaysWhereWeightsAreSmallNextToTheOutput) {
  auto shape = [](int64_t channels, int64_t hw) {
    return cpu::BlockedConvShape{1, channels, hw, hw, channels, hw, hw, 3, 3, 1, 1, 1, 1};
  };
  EXPECT_TRUE(cpu::winograd_conv_pays(shape(64, 56)));
  EXPECT_TRUE(cpu::winograd_conv_pays(shape(256, 14)));
  EXPECT_TRUE(cpu::winograd_conv_pays(shape(512, 10))) << "25 tiles";
  EXPECT_TRUE(cpu::winograd_conv_pays(shape(128, 7))) << "16 tiles, 1 MB of filters";
  EXPECT_FALSE(cpu::winograd_conv_pays(shape(256, 7))) << "16 tiles, 4 MB of filters";
  EXPECT_FALSE(cpu::winograd_conv_pays(shape(512, 7)));
  cpu::BlockedConvShape batch = shape(512, 7);
  batch.batch = 2;
  EXPECT_TRUE(cpu::winograd_conv_pays(batch)) << "32 tiles over two images";
  EXPECT_FALSE(cpu::winograd_conv_pays(shape(16, 56))) << "16 input channels";
  cpu::BlockedConvShape strided = shape(64, 56);
  strided.stride_h = strided.stride_w = 2;
  strided.out_h = strided.out_w = 28;
  EXPECT_FALSE(cpu::winograd_conv_pays(strided));
}

// A NaN passes Relu's clamp, as it does through oneDNN's.
TEST(BlockedConv, NanPassesTheClamp) {
  if (!cpu::blocked_conv_supported()) GTEST_SKIP() << "no AVX2 + FMA";
  const Case c{1, 8, 8, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1};
  cpu::BlockedConvShape s{c.batch, c.ic, c.h, c.w, c.oc, c.out_h(), c.out_w(), c.kh, c.kw, c.sh, c.sw, c.pt, c.pl};
  std::vector<float> x(128, 1.0f), w(576, 0.1f), bias(8, 0.0f), y(128, 0.0f);
  bias[3] = NAN;
  cpu::BlockedConvEpilogue ep;
  ep.bias = bias.data();
  ep.lo = 0.0f;
  std::vector<float> scratch(cpu::blocked_conv_scratch_bytes(s, 2) / sizeof(float) + 1);
  cpu::blocked_conv(x.data(), w.data(), y.data(), s, ep, scratch.data(), 2);
  for (int64_t p = 0; p < 16; ++p) {
    EXPECT_TRUE(std::isnan(y[static_cast<size_t>(p * 8 + 3)])) << p;
    EXPECT_FALSE(std::isnan(y[static_cast<size_t>(p * 8 + 2)])) << p;
  }
}

TEST(BlockedConv, RejectsWhatItCannotRun) {
  cpu::BlockedConvShape s{1, 12, 5, 5, 8, 3, 3, 3, 3, 1, 1, 0, 0};
  EXPECT_FALSE(cpu::blocked_conv_accepts(s)) << "12 input channels: not whole blocks";
  s.in_channels = 16;
  EXPECT_TRUE(cpu::blocked_conv_accepts(s));
  s.out_channels = 20;
  EXPECT_FALSE(cpu::blocked_conv_accepts(s)) << "20 output channels";
  s.out_channels = 8;
  s.pad_left = -1;
  EXPECT_FALSE(cpu::blocked_conv_accepts(s)) << "negative pad";
}

// Sets LW_CPU_CONV for one scope.
class ConvChoice {
 public:
  explicit ConvChoice(const char* value) {
    const char* old = std::getenv("LW_CPU_CONV");
    had_ = old != nullptr;
    if (old) old_ = old;
    if (value) {
      setenv("LW_CPU_CONV", value, 1);
    } else {
      unsetenv("LW_CPU_CONV");
    }
  }
  ~ConvChoice() {
    if (had_) {
      setenv("LW_CPU_CONV", old_.c_str(), 1);
    } else {
      unsetenv("LW_CPU_CONV");
    }
  }

 private:
  bool had_ = false;
  std::string old_;
};

// A fused Conv for case c through the registry's eyes (a BatchNorm with a pruned channel, a
// residual, Relu; activations and residual on 8-channel blocks) and the naive loop's output.
struct FusedConvCase {
  std::vector<TensorIn> inputs;
  std::vector<cpu::Layout> layouts;
  Attrs attrs;
  Dims out_dims;
  std::vector<float> want;  // plain NCHW
};
FusedConvCase fused_conv_case(const Case& c, uint32_t seed) {
  const int64_t in_hw = c.h * c.w, out_hw = c.out_h() * c.out_w();
  auto x = random_floats(static_cast<size_t>(c.ic * in_hw), seed);
  auto w = random_floats(static_cast<size_t>(c.oc * c.ic * c.kh * c.kw), seed + 1, -0.3f, 0.3f);
  auto b = random_floats(static_cast<size_t>(c.oc), seed + 2);
  auto scale = random_floats(static_cast<size_t>(c.oc), seed + 3, -1.5f, 1.5f);
  auto shift = random_floats(static_cast<size_t>(c.oc), seed + 4);
  auto mean = random_floats(static_cast<size_t>(c.oc), seed + 5);
  auto var = random_floats(static_cast<size_t>(c.oc), seed + 6, 0.2f, 2.0f);
  auto residual = random_floats(static_cast<size_t>(c.oc * out_hw), seed + 7, -2.0f, 2.0f);
  constexpr float kEps = 1e-3f;
  scale[5] = 0.0f;  // a pruned channel
  std::vector<float> mul(static_cast<size_t>(c.oc)), add(static_cast<size_t>(c.oc));
  for (size_t k = 0; k < mul.size(); ++k) {
    mul[k] = static_cast<float>(scale[k] / std::sqrt(double(var[k]) + kEps));
    add[k] = static_cast<float>(shift[k] - double(mean[k]) * mul[k]);
  }
  FusedConvCase f;
  f.want = naive(c, x, w, &b, &mul, &add, &residual, 0.0f, INFINITY);
  f.out_dims = {1, c.oc, c.out_h(), c.out_w()};
  f.inputs = {f32({1, c.ic, c.h, c.w}, to_blocked(x, 1, c.ic, in_hw)), f32({c.oc, c.ic, c.kh, c.kw}, w), f32({c.oc}, b)};
  for (const auto* v : {&scale, &shift, &mean, &var}) f.inputs.push_back(f32({c.oc}, *v));
  f.inputs.push_back(f32(f.out_dims, to_blocked(residual, 1, c.oc, out_hw)));
  f.attrs = {{"pads", std::vector<int64_t>{c.pt, c.pl, c.pb, c.pr}},
             {"strides", std::vector<int64_t>{c.sh, c.sw}},
             {passes::kAttrBatchNorm, int64_t{1}},
             {passes::kAttrBnEpsilon, kEps},
             {passes::kAttrResidual, int64_t{1}},
             {passes::kAttrActivation, std::string("Relu")}};
  f.layouts.assign(f.inputs.size(), cpu::Layout::kPlain);
  f.layouts[0] = f.layouts.back() = cpu::Layout::kBlocked8;
  return f;
}

// Runs f's Conv twice on `threads` threads and checks it against the naive loop; the kernel's name.
std::string run_fused_conv(const FusedConvCase& f, int threads) {
  auto prepared = prepare_fused_op("Conv", f.inputs, f.attrs, DType::kFloat32, f.out_dims, threads, f.layouts,
                                   cpu::Layout::kBlocked8);
  EXPECT_TRUE(prepared.is_ok()) << prepared.status().message();
  if (!prepared.is_ok()) return "";
  const std::string impl = prepared->kernel->implementation();
  for (int round = 0; round < 2; ++round) {
    auto out = execute(*prepared, f.inputs);
    EXPECT_TRUE(out.is_ok()) << out.status().message();
    if (!out.is_ok()) return impl;
    const auto got = from_blocked((*out)[0].f(), 1, f.out_dims[1], f.out_dims[2] * f.out_dims[3]);
    double worst = 0;
    for (size_t i = 0; i < f.want.size(); ++i) worst = std::max(worst, double(std::fabs(got[i] - f.want[i])));
    EXPECT_LT(worst, 1e-4) << impl << ", round " << round;
  }
  return impl;
}

// A fused Conv (BatchNorm, residual, Relu) on 8-channel blocks through the registry, and the
// kernel each LW_CPU_CONV choice gives it on AVX2 machines (oneDNN's elsewhere): 16 -> 24
// channels on 9 x 9 take the direct kernel under auto (too few channels for Winograd), 32 -> 32
// on 20 x 20 Winograd's; direct never takes Winograd's, onednn neither of ours. The numbers are
// the same each way.
TEST(BlockedConv, FusedConvOnBlockedActivations) {
  const bool avx2_machine = cpu::blocked_conv_supported() &&
                            cpu::preferred_conv_activation_layout() == cpu::Layout::kBlocked8;
  const std::string kDirect = "lw:blocked_conv_avx2", kWinograd = "lw:winograd_conv_avx2";
  struct Expect {
    Case c;
    std::string under_auto;
  };
  for (const Expect& ex : {Expect{{1, 16, 24, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1}, kDirect},
                           Expect{{1, 32, 32, 20, 20, 3, 3, 1, 1, 1, 1, 1, 1}, kWinograd}}) {
    const FusedConvCase f = fused_conv_case(ex.c, 41);
    for (const char* choice : {static_cast<const char*>(nullptr), "auto", "direct", "onednn"}) {
      ConvChoice set(choice);
      const std::string name = choice ? choice : "auto";
      const std::string impl = run_fused_conv(f, 2);
      if (name == "onednn") {
        EXPECT_NE(impl.rfind("lw:", 0), 0u) << impl;
      } else if (avx2_machine) {
        EXPECT_EQ(impl, name == "direct" ? kDirect : ex.under_auto) << describe(ex.c) << " under " << name;
      }
    }
  }
}

// A fused 1 x 1 Conv (BatchNorm, residual, Relu) on 8-channel blocks through the registry, and
// the kernel it gets on AVX2 machines: pointwise_conv under auto and direct on any thread count,
// output size and channel count (a half panel too), oneDNN's under onednn. The numbers are the
// same each way.
TEST(PointwiseConv, FusedConvOnBlockedActivations) {
  const bool avx2_machine = cpu::blocked_conv_supported() &&
                            cpu::preferred_conv_activation_layout() == cpu::Layout::kBlocked8;
  const std::string kPointwise = "lw:pointwise_conv_avx2";
  struct Expect {
    Case c;
    int threads;
  };
  for (const Expect& ex : {Expect{{1, 24, 32, 9, 9, 1, 1, 1, 1, 0, 0, 0, 0}, 2},
                           Expect{{1, 64, 48, 14, 14, 1, 1, 2, 2, 0, 0, 0, 0}, 3},   // strided
                           Expect{{1, 24, 32, 9, 9, 1, 1, 1, 1, 0, 0, 0, 0}, 1},     // one thread
                           Expect{{1, 16, 24, 9, 9, 1, 1, 1, 1, 0, 0, 0, 0}, 2},     // a half panel
                           Expect{{1, 16, 32, 21, 21, 1, 1, 1, 1, 0, 0, 0, 0}, 2}}) {  // 441 positions
    const FusedConvCase f = fused_conv_case(ex.c, 61);
    for (const char* choice : {static_cast<const char*>(nullptr), "direct", "onednn"}) {
      ConvChoice set(choice);
      const std::string name = choice ? choice : "auto";
      const std::string impl = run_fused_conv(f, ex.threads);
      const bool expect_pointwise = avx2_machine && name != "onednn";
      EXPECT_EQ(impl == kPointwise, expect_pointwise)
          << describe(ex.c) << ", " << ex.threads << " threads, under " << name << ": " << impl;
    }
  }
}

TEST(BlockedConv, UnknownChoiceIsAnError) {
  ConvChoice set("fastest");
  std::vector<TensorIn> inputs = {f32({1, 8, 5, 5}, random_floats(200, 51)), f32({8, 8, 3, 3}, random_floats(576, 52))};
  auto prepared = prepare_fused_op("Conv", inputs, {}, DType::kFloat32, {1, 8, 3, 3}, 1);
  ASSERT_FALSE(prepared.is_ok());
  EXPECT_EQ(prepared.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(prepared.status().message().find("fastest"), std::string::npos) << prepared.status().message();
}

}  // namespace
}  // namespace lw::test
