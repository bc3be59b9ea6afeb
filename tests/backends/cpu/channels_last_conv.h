// What the tests of liveweight's channels-last and nChw8c convolution kernels share
// (conv1x1_gemm_test, depthwise_conv_test, plain_conv_test, nhwc_conv_test and the blocked_*
// ones): a fused epilogue's operands with its naive arithmetic, and running a fused Conv through
// the registry with a channels-last (or nChw8c) output against a naive loop.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/kernel.h"
#include "backends/kernel_harness.h"
#include "compiler/passes/epilogue_fusion.h"
#include "support/blocked_layout.h"

namespace lw::test {

// The larger of two differences, NaN over any number (std::max would drop a NaN in its second
// argument, and a value the kernel never wrote is NaN in these tests).
inline double worse(double worst, double diff) { return diff <= worst ? worst : diff; }

// Which steps a fused epilogue takes (the bias always): a BatchNorm, a residual, Clip (else Relu).
// The activation: Relu, or Clip (`clip`), or SiLU (`silu`, x * sigmoid(x); never with a
// residual: passes/epilogue_fusion.h).
struct EpilogueCase {
  bool batchnorm, residual, clip, silu = false;
};
inline constexpr EpilogueCase kEpilogueCases[] = {
    {false, false, false}, {true, true, false}, {false, true, true}, {true, false, true}, {true, false, false, true}};

// Random operands of a fused epilogue over `channels` output channels (a BatchNorm with a pruned
// channel) and an output of `out_elements` values (the residual, NCHW).
class ConvEpilogue {
 public:
  ConvEpilogue(int64_t channels, int64_t out_elements)
      : bias(random_floats(static_cast<size_t>(channels), 3)),
        scale_(random_floats(static_cast<size_t>(channels), 4, -1.5f, 1.5f)),
        shift_(random_floats(static_cast<size_t>(channels), 5)),
        mean_(random_floats(static_cast<size_t>(channels), 6)),
        var_(random_floats(static_cast<size_t>(channels), 7, 0.2f, 2.0f)),
        residual_(random_floats(static_cast<size_t>(out_elements), 8, -2.0f, 2.0f)) {
    scale_[1] = 0.0f;
  }

  // The output value of channel o at NCHW element `at`, from the convolution's sum `acc`
  // (the bias not yet added).
  float apply(const EpilogueCase& e, int64_t o, size_t at, double acc) const {
    const auto ch = static_cast<size_t>(o);
    acc += bias[ch];
    if (e.batchnorm) {
      const double mul = scale_[ch] / std::sqrt(double(var_[ch]) + kEps);
      acc = acc * mul + (shift_[ch] - mean_[ch] * mul);
    }
    if (e.residual) acc += residual_[at];
    if (e.silu) return static_cast<float>(acc / (1.0 + std::exp(-acc)));
    return static_cast<float>(std::min(std::max(acc, double(lo(e))), double(hi(e))));
  }

  // The output (NCHW) from a convolution's sums (NCHW, no bias) over hw positions a channel.
  std::vector<float> apply_to(const EpilogueCase& e, const std::vector<double>& sums, int64_t hw) const {
    const auto channels = static_cast<int64_t>(bias.size());
    std::vector<float> out(sums.size());
    for (size_t at = 0; at < sums.size(); ++at)
      out[at] = apply(e, static_cast<int64_t>(at) / hw % channels, at, sums[at]);
    return out;
  }

  // Appends the epilogue's inputs to a Conv's x, w and b (with their layouts) and its attributes;
  // the residual in the output's layout, `out` (channels-last or nChw8c).
  void add_to(const EpilogueCase& e, const Dims& out_dims, std::vector<TensorIn>& in, Attrs& attrs,
              std::vector<cpu::Layout>& layouts, cpu::Layout out = cpu::Layout::kChannelsLast) const {
    const int64_t channels = static_cast<int64_t>(bias.size());
    attrs[passes::kAttrActivation] = std::string(e.silu ? "SiLU" : e.clip ? "Clip" : "Relu");
    if (e.clip) {
      attrs[passes::kAttrClipMin] = lo(e);
      attrs[passes::kAttrClipMax] = hi(e);
    }
    if (e.batchnorm) {
      for (const auto* v : {&scale_, &shift_, &mean_, &var_}) {
        in.push_back(f32({channels}, *v));
        layouts.push_back(cpu::Layout::kPlain);
      }
      attrs[passes::kAttrBatchNorm] = int64_t{1};
      attrs[passes::kAttrBnEpsilon] = kEps;
    }
    if (e.residual) {
      const int64_t hw = out_dims[2] * out_dims[3];
      in.push_back(f32(out_dims, out == cpu::Layout::kBlocked8 ? to_blocked(residual_, out_dims[0], out_dims[1], hw)
                                                               : to_nhwc(residual_, out_dims[0], out_dims[1], hw)));
      layouts.push_back(out);
      attrs[passes::kAttrResidual] = int64_t{1};
    }
  }

  std::vector<float> bias;

 private:
  static constexpr float kEps = 1e-3f;
  static float lo(const EpilogueCase& e) { return e.clip ? -0.5f : 0.0f; }
  static float hi(const EpilogueCase& e) { return e.clip ? 0.7f : INFINITY; }
  std::vector<float> scale_, shift_, mean_, var_, residual_;
};

// Prepares the fused Conv (inputs and layouts as given, output in `out`: channels-last or
// nChw8c) on one and on two threads, checks its kernel is `expected` where that is not null, and
// its output against `want` (NCHW). Returns how many runs it checked.
inline int check_conv_output(const std::vector<TensorIn>& in, const Attrs& attrs,
                             const std::vector<cpu::Layout>& layouts, const Dims& out_dims, cpu::Layout out,
                             const std::vector<float>& want, const char* expected, const std::string& what) {
  int checked = 0;
  for (int threads : {1, 2}) {
    auto prepared = prepare_fused_op("Conv", in, attrs, DType::kFloat32, out_dims, threads, layouts, out);
    EXPECT_TRUE(prepared.is_ok()) << prepared.status().message();
    if (!prepared.is_ok()) return checked;
    const std::string impl = prepared->kernel->implementation();
    if (expected) {
      EXPECT_EQ(impl, expected) << what;
    }
    auto ran = execute(*prepared, in);
    EXPECT_TRUE(ran.is_ok()) << ran.status().message();
    if (!ran.is_ok()) return checked;
    const int64_t hw = out_dims[2] * out_dims[3];
    const auto got = out == cpu::Layout::kBlocked8 ? from_blocked((*ran)[0].f(), out_dims[0], out_dims[1], hw)
                                                   : from_nhwc((*ran)[0].f(), out_dims[0], out_dims[1], hw);
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) worst = worse(worst, std::fabs(double(got[i]) - want[i]));
    EXPECT_LT(worst, 1e-4) << impl << ": " << what << ", threads " << threads;
    ++checked;
  }
  return checked;
}

// check_conv_output with a channels-last output.
inline int check_channels_last_conv(const std::vector<TensorIn>& in, const Attrs& attrs,
                                    const std::vector<cpu::Layout>& layouts, const Dims& out_dims,
                                    const std::vector<float>& want, const char* expected, const std::string& what) {
  return check_conv_output(in, attrs, layouts, out_dims, cpu::Layout::kChannelsLast, want, expected, what);
}

}  // namespace lw::test
