// Elementwise kernels against naive loops: broadcasting binary ops, Where, unary ops, Clip.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "backends/kernel_harness.h"

namespace lw::test {
namespace {

Dims broadcast_dims(const Dims& a, const Dims& b) {
  size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (size_t k = 0; k < r; ++k) {
    int64_t da = k + a.size() >= r ? a[k + a.size() - r] : 1;
    int64_t db = k + b.size() >= r ? b[k + b.size() - r] : 1;
    out[k] = da == 1 ? db : da;
  }
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "at " << i;
      continue;
    }
    double tol = rel * std::max(1.0, static_cast<double>(std::fabs(want[i])));
    ASSERT_NEAR(got[i], want[i], tol) << "at " << i;
  }
}

struct BinaryCase {
  Dims a, b;
};

class BinaryBroadcast : public ::testing::TestWithParam<BinaryCase> {};

TEST_P(BinaryBroadcast, FloatOpsMatchNaiveLoop) {
  const BinaryCase& c = GetParam();
  Dims out = broadcast_dims(c.a, c.b);
  auto av = random_floats(static_cast<size_t>(count(c.a)), 1);
  auto bv = random_floats(static_cast<size_t>(count(c.b)), 2, 0.5f, 2.0f);
  struct Op {
    const char* name;
    std::function<float(float, float)> f;
  };
  std::vector<Op> ops = {{"Add", std::plus<float>()},
                         {"Sub", std::minus<float>()},
                         {"Mul", std::multiplies<float>()},
                         {"Div", std::divides<float>()},
                         {"Pow", [](float x, float y) { return std::pow(std::fabs(x), y); }}};
  for (const Op& op : ops) {
    std::vector<float> a = av;
    if (std::string(op.name) == "Pow")
      for (float& x : a) x = std::fabs(x);
    auto r = run_op(op.name, {f32(c.a, a), f32(c.b, bv)});
    ASSERT_TRUE(r.is_ok()) << op.name << ": " << r.status().message();
    ASSERT_EQ((*r)[0].dims, out) << op.name;
    std::vector<float> want(static_cast<size_t>(count(out)));
    for (int64_t i = 0; i < count(out); ++i) {
      Dims idx = unravel(i, out);
      want[static_cast<size_t>(i)] =
          op.f(a[static_cast<size_t>(broadcast_offset(idx, c.a))], bv[static_cast<size_t>(broadcast_offset(idx, c.b))]);
    }
    SCOPED_TRACE(op.name);
    expect_close((*r)[0].f(), want);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, BinaryBroadcast,
                         ::testing::Values(BinaryCase{{2, 3, 4}, {2, 3, 4}},           // same shape
                                           BinaryCase{{2, 3, 4}, {}},                  // scalar
                                           BinaryCase{{}, {5, 2}},                     // scalar first
                                           BinaryCase{{2, 3, 4, 5}, {3, 1, 1}},        // per channel
                                           BinaryCase{{4, 1}, {3}},                    // outer product
                                           BinaryCase{{2, 1, 4}, {3, 1}},              // both broadcast
                                           BinaryCase{{1, 6}, {5, 1}},                 // row x column
                                           BinaryCase{{3, 1, 5}, {3, 7, 5}},           // middle
                                           BinaryCase{{2, 300, 70}, {70}},             // large, parallel
                                           BinaryCase{{70000}, {70000}}));             // chunked rows

// Pow with a constant exponent of 2 or 3 takes a multiply kernel: same values as std::pow in
// double (negative bases included: integral exponents keep their sign), and an exponent that
// broadcasts the base to a larger shape still goes through the general kernel.
TEST(Elementwise, PowByConstantTwoOrThreeMatchesStdPow) {
  auto xv = random_floats(4 * 70, 3, -3.0f, 3.0f);
  for (float e : {2.0f, 3.0f, 2.5f}) {
    for (Dims ed : {Dims{}, Dims{1}}) {
      std::vector<float> xs = xv;
      if (e == 2.5f)
        for (float& x : xs) x = std::fabs(x);
      auto r = run_op("Pow", {f32({4, 70}, xs), f32(ed, {e}, /*is_const=*/true)});
      ASSERT_TRUE(r.is_ok()) << r.status().message();
      std::vector<float> want(xs.size());
      for (size_t i = 0; i < xs.size(); ++i) want[i] = static_cast<float>(std::pow(double(xs[i]), double(e)));
      SCOPED_TRACE(e);
      expect_close((*r)[0].f(), want, 1e-6);
    }
  }
  auto r = run_op("Pow", {f32({3}, {1.0f, -2.0f, 3.0f}), f32({2, 1}, {2.0f, 2.0f}, true)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].dims, (Dims{2, 3}));
  expect_close((*r)[0].f(), {1.0f, 4.0f, 9.0f, 1.0f, 4.0f, 9.0f});
}

TEST(Elementwise, IntegerArithmeticAndDivision) {
  auto r = run_op("Add", {i64({2, 3}, {1, 2, 3, 4, 5, 6}), i64({3}, {10, 20, 30})});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{11, 22, 33, 14, 25, 36}));
  r = run_op("Div", {i64({4}, {7, -7, 9, INT64_MIN}), i64({4}, {2, 2, -3, -1})});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{3, -3, -3, INT64_MIN}));
  r = run_op("Mul", {i32({2}, {3, -4}), i32({}, {5})});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].as<int32_t>(), (std::vector<int32_t>{15, -20}));
}

TEST(Elementwise, IntegerDivisionByZeroIsAnError) {
  auto r = run_op("Div", {i64({2}, {1, 2}), i64({2}, {1, 0})});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("node_under_test"), std::string::npos);
  EXPECT_NE(r.status().message().find("division by zero"), std::string::npos);
}

TEST(Elementwise, UnsupportedDtypeIsRejected) {
  TensorIn a = f32({2}, {1, 2});
  a.dtype = DType::kFloat16;  // float16 arithmetic has no CPU kernel
  a.bytes.resize(4);
  TensorIn b = a;
  auto r = run_op("Add", {a, b});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupportedDtype);
  a.dtype = DType::kInt64;
  r = run_op("Sigmoid", {a});
  ASSERT_FALSE(r.is_ok());
}

TEST(Elementwise, EqualAndWhere) {
  auto r = run_op("Equal", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {1, 5, 6})});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].dtype, DType::kBool);
  EXPECT_EQ((*r)[0].as<uint8_t>(), (std::vector<uint8_t>{1, 0, 0, 0, 1, 1}));
  r = run_op("Equal", {i64({3}, {4, 5, 6}), i64({}, {5})});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<uint8_t>(), (std::vector<uint8_t>{0, 1, 0}));

  Dims cd = {2, 1, 4}, xd = {3, 1}, yd = {1};
  std::vector<uint8_t> cond = {1, 0, 0, 1, 0, 1, 1, 0};
  auto x = random_floats(3, 7), y = random_floats(1, 8);
  r = run_op("Where", {boolean(cd, cond), f32(xd, x), f32(yd, y)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  Dims out = {2, 3, 4};
  ASSERT_EQ((*r)[0].dims, out);
  auto got = (*r)[0].f();
  for (int64_t i = 0; i < count(out); ++i) {
    Dims idx = unravel(i, out);
    float want = cond[static_cast<size_t>(broadcast_offset(idx, cd))] ? x[static_cast<size_t>(broadcast_offset(idx, xd))]
                                                                      : y[0];
    EXPECT_EQ(got[static_cast<size_t>(i)], want) << i;
  }
  r = run_op("Where", {boolean({2}, {0, 1}), i64({2}, {1, 2}), i64({2}, {3, 4})});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{3, 2}));
}

TEST(Elementwise, UnaryOpsMatchStdMath) {
  auto x = random_floats(100003, 3, -3.0f, 3.0f);
  auto pos = random_floats(1000, 4, 0.01f, 5.0f);
  struct Op {
    const char* name;
    std::function<float(float)> f;
    bool positive;
  };
  std::vector<Op> ops = {
      {"Relu", [](float v) { return v > 0 ? v : 0.0f; }, false},
      {"Sigmoid", [](float v) { return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(v)))); }, false},
      {"Tanh", [](float v) { return static_cast<float>(std::tanh(static_cast<double>(v))); }, false},
      {"Exp", [](float v) { return static_cast<float>(std::exp(static_cast<double>(v))); }, false},
      {"Neg", [](float v) { return -v; }, false},
      {"Abs", [](float v) { return std::fabs(v); }, false},
      {"Erf", [](float v) { return static_cast<float>(std::erf(static_cast<double>(v))); }, false},
      {"Log", [](float v) { return static_cast<float>(std::log(static_cast<double>(v))); }, true},
      {"Sqrt", [](float v) { return static_cast<float>(std::sqrt(static_cast<double>(v))); }, true},
      {"Identity", [](float v) { return v; }, false},
  };
  for (const Op& op : ops) {
    const auto& in = op.positive ? pos : x;
    Dims dims = op.positive ? Dims{10, 100} : Dims{100003};
    auto r = run_op(op.name, {f32(dims, in)});
    ASSERT_TRUE(r.is_ok()) << op.name << ": " << r.status().message();
    std::vector<float> want;
    for (float v : in) want.push_back(op.f(v));
    SCOPED_TRACE(op.name);
    expect_close((*r)[0].f(), want);
  }
  auto r = run_op("LeakyRelu", {f32({4}, {-2, -0.5f, 0, 3})}, {{"alpha", 0.2f}});
  ASSERT_TRUE(r.is_ok());
  expect_close((*r)[0].f(), {-0.4f, -0.1f, 0, 3});
  r = run_op("LeakyRelu", {f32({2}, {-1, 1})});
  ASSERT_TRUE(r.is_ok());
  expect_close((*r)[0].f(), {-0.01f, 1});
  r = run_op("Relu", {i64({3}, {-1, 0, 5})});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].as<int64_t>(), (std::vector<int64_t>{0, 0, 5}));
}

// Sigmoid runs 8 lanes at a time on AVX2 machines (vector_math.h), the last few elements by
// std::exp: across its whole range, where it saturates, and at the special values, against
// double arithmetic to 1e-6 relative (below -87.3 the lanes give 0 for a denormal).
TEST(Elementwise, SigmoidAcrossItsRange) {
  std::vector<float> x;
  for (int i = 0; i <= 24000; ++i) x.push_back(-120.0f + 0.01f * static_cast<float>(i));
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 87.0f, -87.0f, -87.4f, 88.7f, -88.7f, -104.0f, 1e30f, -1e30f})
    x.push_back(v);
  x.push_back(INFINITY);
  x.push_back(-INFINITY);
  x.push_back(-3.0f);
  x.push_back(NAN);  // x.size() = 8 * 3002 + 1: the last element takes the scalar code
  auto r = run_op("Sigmoid", {f32({static_cast<int64_t>(x.size())}, x)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const std::vector<float> y = (*r)[0].f();
  ASSERT_EQ(y.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(y[i])) << "sigmoid(NaN) = " << y[i];
      continue;
    }
    const double want = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
    EXPECT_LE(std::fabs(y[i] - want), std::max(1e-6 * want, 1.2e-38)) << "sigmoid(" << x[i] << ")";
  }
}

TEST(Elementwise, ClipWithOptionalBounds) {
  std::vector<float> x = {-3, -1, 0, 0.5f, 2, 7};
  auto r = run_op("Clip", {f32({6}, x), f32({}, {-1.5f}), f32({}, {1.0f})});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  expect_close((*r)[0].f(), {-1.5f, -1, 0, 0.5f, 1, 1});
  r = run_op("Clip", {f32({6}, x), omitted(), f32({}, {0.0f}, true)});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  expect_close((*r)[0].f(), {-3, -1, 0, 0, 0, 0});
  r = run_op("Clip", {f32({2, 3}, x)});
  ASSERT_TRUE(r.is_ok());
  expect_close((*r)[0].f(), x);
  r = run_op("Clip", {f32({6}, x), f32({2}, {0, 1})});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("scalar"), std::string::npos);
}

TEST(Elementwise, DropoutCopiesAndMaskIsTrue) {
  auto x = random_floats(50, 9);
  auto r = run_op("Dropout", {f32({5, 10}, x), f32({}, {0.5f})}, {}, 2);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)[0].f(), x);
  EXPECT_EQ((*r)[1].dtype, DType::kBool);
  EXPECT_EQ((*r)[1].as<uint8_t>(), std::vector<uint8_t>(50, 1));
  r = run_op("Dropout", {f32({5, 10}, x), f32({}, {0.5f}), boolean({}, {1}, true)});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("training_mode"), std::string::npos);
  r = run_op("Dropout", {f32({5, 10}, x), f32({}, {0.5f}), boolean({}, {1})});
  ASSERT_FALSE(r.is_ok());
}

}  // namespace
}  // namespace lw::test
