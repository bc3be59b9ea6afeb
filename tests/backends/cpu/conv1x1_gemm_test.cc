// 1 x 1 convolutions on channels-last activations through the kernel registry, which on AVX-512
// machines run as packed_gemm products (conv.cc): output channel counts that pick each AVX-512
// register block (16, 24 -> 32, 48, 64 and more columns), positions around the blocks' row
// counts and more rows than columns or fewer, a batch of 2, a fused epilogue each way (bias, a
// BatchNorm with a pruned channel, a residual, Relu or Clip), one and two threads, against a
// naive loop in double. Elsewhere the same convolutions run on oneDNN and must match just as well.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/kernel.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/kernel_harness.h"
#include "compiler/passes/epilogue_fusion.h"

namespace lw::test {
namespace {

struct Shape1x1 {
  int64_t batch, ic, oc, h, w;
};

// NCHW -> NHWC, and back.
std::vector<float> to_nhwc(const std::vector<float>& v, int64_t n, int64_t c, int64_t hw) {
  std::vector<float> out(v.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p)
        out[static_cast<size_t>((b * hw + p) * c + ch)] = v[static_cast<size_t>((b * c + ch) * hw + p)];
  return out;
}
std::vector<float> from_nhwc(const std::vector<float>& v, int64_t n, int64_t c, int64_t hw) {
  std::vector<float> out(v.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p)
        out[static_cast<size_t>((b * c + ch) * hw + p)] = v[static_cast<size_t>((b * hw + p) * c + ch)];
  return out;
}

struct Epilogue {
  bool batchnorm, residual, clip;
};

TEST(Conv1x1Gemm, MatchesNaiveLoopOnChannelsLast) {
  const bool avx512 = cpu::packed_gemm_supported(cpu::GemmPath::kAvx512x64);
  int checked = 0;
  for (const Shape1x1& s :
       {Shape1x1{1, 16, 16, 9, 9}, Shape1x1{1, 24, 24, 5, 7}, Shape1x1{2, 32, 48, 3, 3}, Shape1x1{1, 40, 96, 8, 8},
        Shape1x1{1, 96, 160, 7, 7}, Shape1x1{1, 70, 200, 2, 2}, Shape1x1{1, 130, 64, 1, 1}}) {
    const int64_t hw = s.h * s.w;
    auto x = random_floats(static_cast<size_t>(s.batch * s.ic * hw), 1);
    auto w = random_floats(static_cast<size_t>(s.oc * s.ic), 2, -0.3f, 0.3f);
    auto b = random_floats(static_cast<size_t>(s.oc), 3);
    auto scale = random_floats(static_cast<size_t>(s.oc), 4, -1.5f, 1.5f);
    auto shift = random_floats(static_cast<size_t>(s.oc), 5);
    auto mean = random_floats(static_cast<size_t>(s.oc), 6);
    auto var = random_floats(static_cast<size_t>(s.oc), 7, 0.2f, 2.0f);
    auto residual = random_floats(static_cast<size_t>(s.batch * s.oc * hw), 8, -2.0f, 2.0f);
    constexpr float kEps = 1e-3f;
    scale[1] = 0.0f;  // a pruned channel
    const Dims out_dims = {s.batch, s.oc, s.h, s.w};
    for (Epilogue e : {Epilogue{false, false, false}, Epilogue{true, true, false}, Epilogue{false, true, true},
                       Epilogue{true, false, true}}) {
      const float lo = e.clip ? -0.5f : 0.0f, hi = e.clip ? 0.7f : INFINITY;
      std::vector<float> want(static_cast<size_t>(s.batch * s.oc * hw));
      for (int64_t n = 0; n < s.batch; ++n)
        for (int64_t o = 0; o < s.oc; ++o)
          for (int64_t p = 0; p < hw; ++p) {
            double acc = b[static_cast<size_t>(o)];
            for (int64_t c = 0; c < s.ic; ++c)
              acc += double(w[static_cast<size_t>(o * s.ic + c)]) * x[static_cast<size_t>((n * s.ic + c) * hw + p)];
            if (e.batchnorm) {
              const double mul = scale[static_cast<size_t>(o)] / std::sqrt(double(var[static_cast<size_t>(o)]) + kEps);
              acc = acc * mul + (shift[static_cast<size_t>(o)] - mean[static_cast<size_t>(o)] * mul);
            }
            const size_t at = static_cast<size_t>((n * s.oc + o) * hw + p);
            if (e.residual) acc += residual[at];
            want[at] = static_cast<float>(std::min(std::max(acc, double(lo)), double(hi)));
          }
      std::vector<TensorIn> in = {f32({s.batch, s.ic, s.h, s.w}, to_nhwc(x, s.batch, s.ic, hw)),
                                  f32({s.oc, s.ic, 1, 1}, w, true), f32({s.oc}, b)};
      Attrs attrs = {{passes::kAttrActivation, std::string(e.clip ? "Clip" : "Relu")}};
      if (e.clip) {
        attrs[passes::kAttrClipMin] = lo;
        attrs[passes::kAttrClipMax] = hi;
      }
      if (e.batchnorm) {
        for (const auto* v : {&scale, &shift, &mean, &var}) in.push_back(f32({s.oc}, *v));
        attrs[passes::kAttrBatchNorm] = int64_t{1};
        attrs[passes::kAttrBnEpsilon] = kEps;
      }
      if (e.residual) {
        in.push_back(f32(out_dims, to_nhwc(residual, s.batch, s.oc, hw)));
        attrs[passes::kAttrResidual] = int64_t{1};
      }
      std::vector<cpu::Layout> layouts(in.size(), cpu::Layout::kPlain);
      layouts[0] = cpu::Layout::kChannelsLast;
      if (e.residual) layouts.back() = cpu::Layout::kChannelsLast;
      for (int threads : {1, 2}) {
        auto prepared = prepare_fused_op("Conv", in, attrs, DType::kFloat32, out_dims, threads, layouts,
                                         cpu::Layout::kChannelsLast);
        ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
        const std::string impl = prepared->kernel->implementation();
        if (avx512) {
          EXPECT_EQ(impl, "lw:conv1x1_packed_gemm_avx512");
        }
        auto out = execute(*prepared, in);
        ASSERT_TRUE(out.is_ok()) << out.status().message();
        const auto got = from_nhwc((*out)[0].f(), s.batch, s.oc, hw);
        double worst = 0;
        for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, double(std::fabs(got[i] - want[i])));
        EXPECT_LT(worst, 1e-4) << impl << ": batch " << s.batch << " " << s.ic << "->" << s.oc << " " << s.h << "x"
                               << s.w << " bn " << e.batchnorm << " residual " << e.residual << " clip " << e.clip
                               << " threads " << threads;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 7 * 4 * 2);
}

// The path each output width takes on AVX-512 for many rows: the block that pads the fewest
// columns, the wider on a tie; up to 8 rows, 8 x 48 (a batch streams each panel once).
TEST(Conv1x1Gemm, PathFollowsTheWidth) {
  if (!cpu::packed_gemm_supported(cpu::GemmPath::kAvx512x64)) GTEST_SKIP() << "this CPU runs no AVX-512 code";
  using cpu::GemmPath;
  EXPECT_EQ(cpu::packed_gemm_weight_path(3136, 16), GemmPath::kAvx512x16);
  EXPECT_EQ(cpu::packed_gemm_weight_path(3136, 24), GemmPath::kAvx512x32);
  EXPECT_EQ(cpu::packed_gemm_weight_path(3136, 96), GemmPath::kAvx512x48);
  EXPECT_EQ(cpu::packed_gemm_weight_path(3136, 160), GemmPath::kAvx512x32);
  EXPECT_EQ(cpu::packed_gemm_weight_path(3136, 256), GemmPath::kAvx512x64);
  EXPECT_EQ(cpu::packed_gemm_weight_path(128, 2048), GemmPath::kAvx512x64);
  EXPECT_EQ(cpu::packed_gemm_weight_path(8, 4096), GemmPath::kAvx512x48);
  EXPECT_EQ(cpu::packed_gemm_weight_path(1, 1000), GemmPath::kAvx512x48);
}

}  // namespace
}  // namespace lw::test
