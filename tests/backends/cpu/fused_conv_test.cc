// Conv with the epilogue compiler/passes/epilogue_fusion.h fuses into it (an inference
// BatchNormalization, a residual Add, Relu or Clip) against a naive loop, and the check that it
// never runs on oneDNN's reference code where a fast convolution exists: the epilogue's end
// moves to a loop after the primitive instead (CTest also runs this file with oneDNN limited to
// AVX2, whose kernels take a residual only before a BatchNorm's multiply).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "backends/kernel_harness.h"
#include "compiler/passes/epilogue_fusion.h"

namespace lw::test {
namespace {

constexpr int64_t kIn = 16, kOut = 20, kH = 9;  // 20 output channels: not a multiple of a vector
constexpr float kEps = 1e-3f, kClipLo = -0.2f, kClipHi = 0.5f;

struct Epilogue {
  bool batchnorm, residual;
  std::string activation;  // "", "Relu" or "Clip"
};

std::string name_of(const ::testing::TestParamInfo<Epilogue>& info) {
  const Epilogue& e = info.param;
  std::string n = std::string(e.batchnorm ? "Bn" : "") + (e.residual ? "Residual" : "") + e.activation;
  return n.empty() ? "Plain" : n;
}

class FusedConv : public ::testing::TestWithParam<Epilogue> {};

TEST_P(FusedConv, MatchesNaiveLoopsOnAFastImplementation) {
  const Epilogue& e = GetParam();
  auto x = random_floats(kIn * kH * kH, 1);
  auto w = random_floats(kOut * kIn * 9, 2, -0.2f, 0.2f);
  auto b = random_floats(kOut, 3);
  auto scale = random_floats(kOut, 4, -1.5f, 1.5f);  // negative scales flip the sign
  auto shift = random_floats(kOut, 5);
  auto mean = random_floats(kOut, 6);
  auto var = random_floats(kOut, 7, 0.2f, 2.0f);
  auto residual = random_floats(kOut * kH * kH, 8, -2.0f, 2.0f);

  std::vector<TensorIn> inputs = {f32({1, kIn, kH, kH}, x), f32({kOut, kIn, 3, 3}, w), f32({kOut}, b)};
  Attrs attrs = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  if (e.batchnorm) {
    for (const auto* v : {&scale, &shift, &mean, &var}) inputs.push_back(f32({kOut}, *v));
    attrs[passes::kAttrBatchNorm] = int64_t{1};
    attrs[passes::kAttrBnEpsilon] = kEps;
  }
  if (e.residual) {
    inputs.push_back(f32({1, kOut, kH, kH}, residual));
    attrs[passes::kAttrResidual] = int64_t{1};
  }
  if (!e.activation.empty()) attrs[passes::kAttrActivation] = e.activation;
  if (e.activation == "Clip") {
    attrs[passes::kAttrClipMin] = kClipLo;
    attrs[passes::kAttrClipMax] = kClipHi;
  }
  auto prepared = prepare_fused_op("Conv", inputs, attrs, DType::kFloat32, {1, kOut, kH, kH});
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  const std::string impl = prepared->kernel->implementation();
  EXPECT_FALSE(impl.empty());
  EXPECT_NE(impl.rfind("ref", 0), 0u) << "the convolution runs on oneDNN's reference code (" << impl << ")";

  for (int round = 0; round < 2; ++round) {  // a second run reuses the kernel's scratch
    auto out = execute(*prepared, inputs);
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    std::vector<float> got = (*out)[0].f();
    ASSERT_EQ(got.size(), static_cast<size_t>(kOut * kH * kH));
    double worst = 0;
    for (int64_t o = 0; o < kOut; ++o)
      for (int64_t i = 0; i < kH; ++i)
        for (int64_t j = 0; j < kH; ++j) {
          double acc = b[static_cast<size_t>(o)];
          for (int64_t c = 0; c < kIn; ++c)
            for (int64_t u = 0; u < 3; ++u)
              for (int64_t v = 0; v < 3; ++v) {
                int64_t ii = i + u - 1, jj = j + v - 1;
                if (ii < 0 || jj < 0 || ii >= kH || jj >= kH) continue;
                acc += double(x[static_cast<size_t>((c * kH + ii) * kH + jj)]) *
                       w[static_cast<size_t>(((o * kIn + c) * 3 + u) * 3 + v)];
              }
          const auto k = static_cast<size_t>(o);
          if (e.batchnorm) acc = (acc - mean[k]) / std::sqrt(double(var[k]) + kEps) * scale[k] + shift[k];
          const auto at = static_cast<size_t>((o * kH + i) * kH + j);
          if (e.residual) acc += residual[at];
          if (e.activation == "Relu") acc = std::max(acc, 0.0);
          if (e.activation == "Clip") acc = std::clamp(acc, double(kClipLo), double(kClipHi));
          worst = std::max(worst, std::fabs(acc - got[at]));
        }
    EXPECT_LT(worst, 1e-4) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Epilogues, FusedConv,
                         ::testing::Values(Epilogue{false, false, ""}, Epilogue{false, false, "Relu"},
                                           Epilogue{false, true, "Relu"}, Epilogue{true, false, ""},
                                           Epilogue{true, false, "Clip"}, Epilogue{true, true, ""},
                                           Epilogue{true, true, "Relu"}, Epilogue{true, true, "Clip"}),
                         name_of);

}  // namespace
}  // namespace lw::test
