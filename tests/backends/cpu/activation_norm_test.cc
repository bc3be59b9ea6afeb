// HardSigmoid, HardSwish, comparisons, variadic Max/Sum, LayerNormalization, LogSoftmax, the
// reductions added for encoders (ReduceSum with an axes input, ReduceMax/Min/Prod/L2/LogSumExp)
// and float16 Cast, against naive loops.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

TEST(Activations, HardSigmoidHardSwishMatchFormulas) {
  auto xv = random_floats(100, 5, -5.0f, 5.0f);
  auto r = run_op("HardSigmoid", {f32({100}, xv)}, {{"alpha", 0.25f}, {"beta", 0.4f}});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  auto hs = run_op("HardSwish", {f32({100}, xv)});
  ASSERT_TRUE(hs.is_ok());
  for (size_t i = 0; i < xv.size(); ++i) {
    double x = xv[i];
    EXPECT_NEAR((*r)[0].f()[i], std::min(1.0, std::max(0.0, 0.25 * x + 0.4)), 1e-6);
    EXPECT_NEAR((*hs)[0].f()[i], x * std::min(1.0, std::max(0.0, x / 6 + 0.5)), 1e-6);
  }
}

TEST(Compare, LessGreaterWithBroadcastAndWhere) {
  auto a = random_floats(12, 1);
  auto b = random_floats(4, 2);
  auto lt = run_op("Less", {f32({3, 4}, a), f32({4}, b)});
  auto ge = run_op("GreaterOrEqual", {f32({3, 4}, a), f32({4}, b)});
  ASSERT_TRUE(lt.is_ok() && ge.is_ok());
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ((*lt)[0].as<uint8_t>()[i], a[i] < b[i % 4] ? 1 : 0);
    EXPECT_EQ((*ge)[0].as<uint8_t>()[i], a[i] >= b[i % 4] ? 1 : 0);
  }
}

TEST(Variadic, MaxAndSumOfThreeBroadcastInputs) {
  auto a = random_floats(6, 3), b = random_floats(3, 4), c = random_floats(1, 5);
  auto mx = run_op("Max", {f32({2, 3}, a), f32({3}, b), f32({1}, c)});
  auto sm = run_op("Sum", {f32({2, 3}, a), f32({3}, b), f32({1}, c)});
  ASSERT_TRUE(mx.is_ok() && sm.is_ok()) << mx.status().message();
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ((*mx)[0].f()[i], std::max({a[i], b[i % 3], c[0]}));
    EXPECT_NEAR((*sm)[0].f()[i], a[i] + b[i % 3] + c[0], 1e-6);
  }
}

TEST(LayerNorm, NormalizesTrailingDimsWithStats) {
  Dims x = {2, 3, 4};
  auto xv = random_floats(24, 7, -3.0f, 3.0f);
  for (int64_t axis : {-1, 1}) {
    int64_t cols = axis == -1 ? 4 : 12, rows = 24 / cols;
    Dims pd = axis == -1 ? Dims{4} : Dims{3, 4};
    auto scale = random_floats(static_cast<size_t>(cols), 8);
    auto bias = random_floats(static_cast<size_t>(cols), 9);
    auto r = run_op("LayerNormalization", {f32(x, xv), f32(pd, scale), f32(pd, bias)},
                    {{"axis", axis}, {"epsilon", 1e-3f}}, 3);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    Dims stat_dims = axis == -1 ? Dims{2, 3, 1} : Dims{2, 1, 1};
    EXPECT_EQ((*r)[1].dims, stat_dims);
    for (int64_t row = 0; row < rows; ++row) {
      double mean = 0, var = 0;
      for (int64_t k = 0; k < cols; ++k) mean += xv[static_cast<size_t>(row * cols + k)];
      mean /= static_cast<double>(cols);
      for (int64_t k = 0; k < cols; ++k) var += std::pow(xv[static_cast<size_t>(row * cols + k)] - mean, 2);
      var /= static_cast<double>(cols);
      double inv = 1 / std::sqrt(var + 1e-3);
      for (int64_t k = 0; k < cols; ++k) {
        size_t i = static_cast<size_t>(row * cols + k);
        EXPECT_NEAR((*r)[0].f()[i], (xv[i] - mean) * inv * scale[static_cast<size_t>(k)] + bias[static_cast<size_t>(k)],
                    1e-5);
      }
      EXPECT_NEAR((*r)[1].f()[static_cast<size_t>(row)], mean, 1e-6);
      EXPECT_NEAR((*r)[2].f()[static_cast<size_t>(row)], inv, 1e-4 * inv);
    }
  }
}

TEST(LogSoftmax, MatchesLogOfSoftmaxForLargeInputs) {
  std::vector<float> xv = {10000.0f, 10001.0f, 10002.0f, -1.0f, 0.0f, 1.0f};
  auto r = run_op("LogSoftmax", {f32({2, 3}, xv)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  for (size_t row = 0; row < 2; ++row) {
    double mx = xv[row * 3 + 2], sum = 0;
    for (size_t k = 0; k < 3; ++k) sum += std::exp(static_cast<double>(xv[row * 3 + k]) - mx);
    for (size_t k = 0; k < 3; ++k)
      EXPECT_NEAR((*r)[0].f()[row * 3 + k], static_cast<double>(xv[row * 3 + k]) - mx - std::log(sum), 1e-5);
  }
}

TEST(Reduce, SumAxesInputMaxProdL2LogSumExp) {
  Dims x = {2, 3, 4};
  auto xv = random_floats(24, 11, 0.5f, 1.5f);
  auto naive = [&](const std::string& op, size_t a) {
    // Reduce axis a, keepdims=1.
    std::vector<double> out;
    for (int64_t i = 0; i < 24; ++i) {
      Dims idx = unravel(i, x);
      if (idx[a] != 0) continue;
      std::vector<double> v;
      for (int64_t k = 0; k < x[a]; ++k) {
        Dims j = idx;
        j[a] = k;
        v.push_back(xv[static_cast<size_t>((j[0] * 3 + j[1]) * 4 + j[2])]);
      }
      double acc = op == "ReduceProd" ? 1 : op == "ReduceMax" ? -1e30 : 0;
      for (double e : v) {
        if (op == "ReduceSum") acc += e;
        if (op == "ReduceProd") acc *= e;
        if (op == "ReduceMax") acc = std::max(acc, e);
        if (op == "ReduceL2" || op == "ReduceSumSquare") acc += e * e;
        if (op == "ReduceLogSumExp") acc += std::exp(e);
      }
      if (op == "ReduceL2") acc = std::sqrt(acc);
      if (op == "ReduceLogSumExp") acc = std::log(acc);
      out.push_back(acc);
    }
    return out;
  };
  for (size_t a = 0; a < 3; ++a) {
    auto r = run_op("ReduceSum", {f32(x, xv), i64({1}, {static_cast<int64_t>(a)}, true)});
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    auto want = naive("ReduceSum", a);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR((*r)[0].f()[i], want[i], 1e-5);
    for (std::string op : {"ReduceMax", "ReduceProd", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"}) {
      r = run_op(op, {f32(x, xv)}, {{"axes", Dims{static_cast<int64_t>(a)}}});
      ASSERT_TRUE(r.is_ok()) << op << ": " << r.status().message();
      want = naive(op, a);
      for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR((*r)[0].f()[i], want[i], 1e-5 * std::max(1.0, std::fabs(want[i]))) << op;
    }
  }
  // noop_with_empty_axes keeps the input as it is.
  auto r = run_op("ReduceSum", {f32(x, xv)}, {{"noop_with_empty_axes", int64_t{1}}});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].f(), xv);
}

TEST(Cast, Float16RoundTripAndRounding) {
  // 1 + 2^-11 is halfway between two halves: ties to even gives 1.0; 65520 overflows to inf.
  std::vector<float> xv = {0.0f, -2.5f, 1.0f + 1.0f / 2048, 65504.0f, 65520.0f, 5.96046448e-08f, 1e-9f, NAN};
  auto r = run_op("Cast", {f32({8}, xv)}, {{"to", int64_t{10}}});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  auto h = (*r)[0].as<uint16_t>();
  std::vector<uint16_t> want = {0x0000, 0xc100, 0x3c00, 0x7bff, 0x7c00, 0x0001, 0x0000};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(h[i], want[i]) << i;
  EXPECT_EQ(h[7] & 0x7c00, 0x7c00);
  EXPECT_NE(h[7] & 0x03ff, 0);
  TensorIn half_in;
  half_in.dtype = DType::kFloat16;
  half_in.dims = {8};
  half_in.bytes.resize(16);
  std::memcpy(half_in.bytes.data(), h.data(), 16);
  auto back = run_op("Cast", {half_in}, {{"to", int64_t{1}}});
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  auto f = (*back)[0].f();
  EXPECT_EQ(f[1], -2.5f);
  EXPECT_EQ(f[2], 1.0f);
  EXPECT_EQ(f[3], 65504.0f);
  EXPECT_TRUE(std::isinf(f[4]));
  EXPECT_FLOAT_EQ(f[5], 5.96046448e-08f);
  EXPECT_TRUE(std::isnan(f[7]));
}

TEST(IntegerArithmetic, WrapsInsteadOfOverflowing) {
  auto r = run_op("Add", {i64({2}, {INT64_MAX, 5}), i64({2}, {1, -7})});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{INT64_MIN, -2}));
  r = run_op("Mul", {i64({1}, {INT64_MAX}), i64({1}, {2})});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{-2}));
}

}  // namespace
}  // namespace lw::test
