// BatchNormalization, Softmax and ReduceMean against naive loops.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rel = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], rel * std::max(1.0, std::fabs(want[i]))) << "at " << i;
}

TEST(BatchNorm, InferenceMatchesFormula) {
  for (Dims x : {Dims{2, 3, 4, 5}, Dims{4, 6}, Dims{1, 2, 3, 2, 2}}) {
    int64_t c = x[1];
    int64_t spatial = count(x) / (x[0] * c);
    auto xv = random_floats(static_cast<size_t>(count(x)), 61);
    auto scale = random_floats(static_cast<size_t>(c), 62);
    auto bias = random_floats(static_cast<size_t>(c), 63);
    auto mean = random_floats(static_cast<size_t>(c), 64);
    auto var = random_floats(static_cast<size_t>(c), 65, 0.1f, 2.0f);
    float eps = 1e-3f;
    auto r = run_op("BatchNormalization",
                    {f32(x, xv), f32({c}, scale), f32({c}, bias), f32({c}, mean), f32({c}, var)}, {{"epsilon", eps}});
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    std::vector<double> want;
    for (int64_t i = 0; i < count(x); ++i) {
      size_t ch = static_cast<size_t>((i / spatial) % c);
      want.push_back((xv[static_cast<size_t>(i)] - mean[ch]) / std::sqrt(static_cast<double>(var[ch]) + eps) *
                         scale[ch] + bias[ch]);
    }
    expect_close((*r)[0].f(), want);
  }
}

TEST(BatchNorm, TrainingModeIsRejected) {
  auto r = run_op("BatchNormalization", {f32({1, 1}, {1}), f32({1}, {1}), f32({1}, {0}), f32({1}, {0}), f32({1}, {1})},
                  {{"training_mode", int64_t{1}}});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("training_mode"), std::string::npos);
}

TEST(Softmax, EveryAxis) {
  Dims x = {2, 3, 4, 5};
  auto xv = random_floats(static_cast<size_t>(count(x)), 71, -5.0f, 5.0f);
  for (int64_t axis : {-1, 0, 1, 2, 3, -3}) {
    auto r = run_op("Softmax", {f32(x, xv)}, {{"axis", axis}});
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    size_t a = static_cast<size_t>(axis < 0 ? axis + 4 : axis);
    std::vector<double> want(xv.size());
    for (int64_t i = 0; i < count(x); ++i) {
      Dims idx = unravel(i, x);
      double mx = -1e30, sum = 0;
      for (int64_t k = 0; k < x[a]; ++k) {
        Dims j = idx;
        j[a] = k;
        mx = std::max(mx, static_cast<double>(xv[static_cast<size_t>(broadcast_offset(j, x))]));
      }
      for (int64_t k = 0; k < x[a]; ++k) {
        Dims j = idx;
        j[a] = k;
        sum += std::exp(xv[static_cast<size_t>(broadcast_offset(j, x))] - mx);
      }
      want[static_cast<size_t>(i)] = std::exp(xv[static_cast<size_t>(i)] - mx) / sum;
    }
    SCOPED_TRACE(axis);
    expect_close((*r)[0].f(), want);
  }
  // Large logits must not overflow.
  auto r = run_op("Softmax", {f32({3}, {1000, 1001, 1002})});
  ASSERT_TRUE(r.is_ok());
  double e0 = std::exp(-2.0), e1 = std::exp(-1.0), s = e0 + e1 + 1;
  expect_close((*r)[0].f(), {e0 / s, e1 / s, 1 / s});
}

struct ReduceCase {
  Dims x, axes;
  int64_t keepdims;
  Dims out;
};

class ReduceMeanCases : public ::testing::TestWithParam<ReduceCase> {};

TEST_P(ReduceMeanCases, MatchesNaiveLoop) {
  const ReduceCase& c = GetParam();
  auto xv = random_floats(static_cast<size_t>(count(c.x)), 81);
  Attrs attrs = {{"keepdims", c.keepdims}};
  if (!c.axes.empty()) attrs["axes"] = c.axes;
  auto r = run_op("ReduceMean", {f32(c.x, xv)}, attrs);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ((*r)[0].dims, c.out);
  size_t rank = c.x.size();
  std::vector<bool> reduced(rank, c.axes.empty());
  for (int64_t a : c.axes) reduced[static_cast<size_t>(a < 0 ? a + static_cast<int64_t>(rank) : a)] = true;
  Dims kept;  // output dims with keepdims, for indexing
  for (size_t k = 0; k < rank; ++k) kept.push_back(reduced[k] ? 1 : c.x[k]);
  std::vector<double> sum(static_cast<size_t>(count(kept)), 0.0);
  for (int64_t i = 0; i < count(c.x); ++i) {
    Dims idx = unravel(i, c.x);
    for (size_t k = 0; k < rank; ++k)
      if (reduced[k]) idx[k] = 0;
    sum[static_cast<size_t>(broadcast_offset(idx, kept))] += xv[static_cast<size_t>(i)];
  }
  double n = static_cast<double>(count(c.x)) / static_cast<double>(count(kept));
  for (double& s : sum) s /= n;
  expect_close((*r)[0].f(), sum);
}

INSTANTIATE_TEST_SUITE_P(Cases, ReduceMeanCases,
                         ::testing::Values(ReduceCase{{2, 3, 4}, {-1}, 1, {2, 3, 1}},
                                           ReduceCase{{2, 3, 4}, {0}, 0, {3, 4}},
                                           ReduceCase{{2, 3, 4, 5}, {2, 3}, 1, {2, 3, 1, 1}},
                                           ReduceCase{{2, 3, 4, 5}, {1, 3}, 0, {2, 4}},
                                           ReduceCase{{2, 3, 4}, {}, 0, {}},
                                           ReduceCase{{2, 3, 4}, {}, 1, {1, 1, 1}},
                                           ReduceCase{{8, 5000}, {1}, 1, {8, 1}}));

}  // namespace
}  // namespace lw::test
