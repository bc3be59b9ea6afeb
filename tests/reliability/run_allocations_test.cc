// Issue 5's "no memory allocation in the run loop": once warm, an aclmdlExecute of a static-shape
// inference allocates nothing in liveweight (the C API's lists, Model::execute, the plan and
// its kernels). The graphs use only liveweight's own kernels: oneDNN's primitives allocate
// inside every execution (their argument maps), which bench/alloc_count.cc measures per model.
// The others hold convolutions of a ResNet's last layers on a small input (rows narrower than
// 7), which went to oneDNN on AVX-512 machines before nhwc_conv gathered them, and a convolution
// writing a graph output, whose conversion to the plain layout was a oneDNN reorder.
// Counted through this binary's replacement of operator new (new_hook.cc) and lw::alloc_aligned,
// on every thread.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "acl/acl.h"
#include "backends/cpu/kernels/nhwc_conv.h"
#include "api/acl_test_util.h"
#include "core/fault_injection.h"
#include "liveweight/build.h"
#include "liveweight/graph.h"
#include "reliability/reliability_util.h"
#include "support/naive_conv.h"

namespace lw::test {
namespace {

constexpr int64_t kRows = 8, kCols = 16;

// y = Transpose(Relu((x + W) * b)), W [8,16] and b [16] refreshable.
std::vector<uint8_t> elementwise_bundle(const std::vector<float>& w, const std::vector<float>& b) {
  Graph g("elementwise");
  Tensor x = g.add_input("x", DType::kFloat32, {kRows, kCols});
  Tensor wt = g.add_constant("W", DType::kFloat32, {kRows, kCols}, w.data(), w.size() * sizeof(float));
  Tensor bt = g.add_constant("b", DType::kFloat32, {kCols}, b.data(), b.size() * sizeof(float));
  Tensor s = g.add_op("Add", {x, wt}, {}, 1, "add")[0];
  Tensor m = g.add_op("Mul", {s, bt}, {}, 1, "mul")[0];
  Tensor r = g.add_op("Relu", {m}, {}, 1, "relu")[0];
  Tensor y = g.add_op("Transpose", {r}, {{"perm", std::vector<int64_t>{1, 0}}}, 1, "transpose")[0];
  g.set_outputs({y});
  auto conv = convert_to_weight_refreshable(g, {"W", "b"});
  if (!conv.is_ok()) return {};
  auto bundle = build_bundle({conv->infer, conv->init, conv->update});
  return bundle.is_ok() ? std::move(bundle).value() : std::vector<uint8_t>{};
}

std::vector<float> ramp(size_t n, float start, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i % 23);
  return v;
}

// y = Conv1x1/stride 2(Relu(Conv3x3/pad 1(x, W1) + b1), W2): x [1, 32, 4, 4], y [1, 64, 2, 2],
// then, when `pooled`, GlobalAveragePool(y) [1, 64, 1, 1] as the output (as a ResNet ends: every
// value between the convolutions and the pool stays in the convolutions' layout). W1, b1 and W2
// refreshable.
constexpr int64_t kIn = 32, kMid = 32, kOut = 64, kSide = 4;
std::vector<uint8_t> conv_bundle(const std::vector<float>& w1, const std::vector<float>& b1,
                                 const std::vector<float>& w2, bool pooled) {
  Graph g("convolutions");
  Tensor x = g.add_input("x", DType::kFloat32, {1, kIn, kSide, kSide});
  Tensor w1t = g.add_constant("W1", DType::kFloat32, {kMid, kIn, 3, 3}, w1.data(), w1.size() * sizeof(float));
  Tensor b1t = g.add_constant("b1", DType::kFloat32, {kMid}, b1.data(), b1.size() * sizeof(float));
  Tensor w2t = g.add_constant("W2", DType::kFloat32, {kOut, kMid, 1, 1}, w2.data(), w2.size() * sizeof(float));
  Tensor c1 = g.add_op("Conv", {x, w1t, b1t}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}, 1, "conv3x3")[0];
  Tensor r = g.add_op("Relu", {c1}, {}, 1, "relu")[0];
  Tensor y = g.add_op("Conv", {r, w2t}, {{"strides", std::vector<int64_t>{2, 2}}}, 1, "projection")[0];
  if (pooled) y = g.add_op("GlobalAveragePool", {y}, {}, 1, "pool")[0];
  g.set_outputs({y});
  auto conv = convert_to_weight_refreshable(g, {"W1", "b1", "W2"});
  if (!conv.is_ok()) return {};
  auto bundle = build_bundle({conv->infer, conv->init, conv->update});
  return bundle.is_ok() ? std::move(bundle).value() : std::vector<uint8_t>{};
}

// conv_bundle's y [64, 2, 2] by naive loops (support/naive_conv.h): the 3 x 3 convolution
// (padding 1) with its bias and Relu, then the 1 x 1 one at stride 1, of whose output the
// strided convolution keeps positions (0, 0), (0, 2), (2, 0) and (2, 2).
std::vector<double> naive_conv_net(const std::vector<float>& x, const std::vector<float>& w1,
                                   const std::vector<float>& b1, const std::vector<float>& w2) {
  std::vector<float> mid = test::naive_conv(x, w1, b1, kIn, kMid, kSide, 3);
  for (float& v : mid) v = std::max(v, 0.0f);
  const std::vector<float> dense = test::naive_conv(mid, w2, {}, kMid, kOut, kSide, 1);
  std::vector<double> y;
  for (int64_t o = 0; o < kOut; ++o)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t w = 0; w < 2; ++w) y.push_back(dense[static_cast<size_t>((o * kSide + 2 * h) * kSide + 2 * w)]);
  return y;
}

// Loads `bundle`, runs its init graph, warms its inference up on `x` (3 runs; with a tensor desc
// of `x_dims` unless empty) and returns the allocations of 20 more, with the output of the last
// in `y`.
uint64_t warm_run_allocations(const std::vector<uint8_t>& bundle, std::vector<float>& x, std::vector<float>& y,
                              const std::vector<int64_t>& x_dims = {}) {
  uint32_t bundle_id = 0, ids[3] = {};
  EXPECT_ACL_OK(aclmdlBundleLoadFromMem(bundle.data(), bundle.size(), &bundle_id));
  for (size_t i = 0; i < 3; ++i) EXPECT_ACL_OK(aclmdlBundleGetModelId(bundle_id, i, &ids[i]));
  IoSet io;
  EXPECT_ACL_OK(aclmdlExecute(ids[1], io.dataset({}), io.dataset({})));
  aclmdlDataset* in = x_dims.empty() ? io.dataset({{x.data(), x.size() * sizeof(float)}})
                                     : io.dataset({{x.data(), x.size() * sizeof(float)}}, {x_dims});
  aclmdlDataset* out = io.dataset({{y.data(), y.size() * sizeof(float)}});
  EXPECT_NE(in, nullptr);
  EXPECT_NE(out, nullptr);
  for (int k = 0; k < 3; ++k) EXPECT_ACL_OK(aclmdlExecute(ids[0], in, out));  // warm: plan, scratch, descs
  fault::arm_allocation_failure(UINT64_MAX, fault::Scope::kAllThreads);  // counts, never fails
  aclError err = ACL_SUCCESS;
  for (int k = 0; k < 20 && err == ACL_SUCCESS; ++k) err = aclmdlExecute(ids[0], in, out);
  const uint64_t allocations = fault::disarm_allocation_failure();
  EXPECT_ACL_OK(err);
  EXPECT_ACL_OK(aclmdlBundleUnload(bundle_id));
  return allocations;
}

TEST(RunAllocations, AWarmInferenceAllocatesNothing) {
  (void)aclInit(nullptr);
  clear_error_text();
  ASSERT_ACL_OK(aclrtSetDevice(0));
  const std::vector<float> w = ramp(kRows * kCols, -1.f, 0.1f), b = ramp(kCols, -0.5f, 0.13f);
  const std::vector<uint8_t> bundle = elementwise_bundle(w, b);
  ASSERT_FALSE(bundle.empty());
  std::vector<float> x = ramp(kRows * kCols, -2.f, 0.2f), y(kRows * kCols, -1.f);
  std::vector<float> want(y.size());
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t c = 0; c < kCols; ++c) {
      size_t i = static_cast<size_t>(r * kCols + c);
      want[static_cast<size_t>(c * kRows + r)] = std::max((x[i] + w[i]) * b[static_cast<size_t>(c)], 0.f);
    }

  // Both ways a caller may present the input: bare, and with a tensor desc giving its dims.
  for (bool with_desc : {false, true}) {
    SCOPED_TRACE(with_desc ? "input with a tensor desc" : "bare input");
    const std::vector<int64_t> dims = with_desc ? std::vector<int64_t>{kRows, kCols} : std::vector<int64_t>{};
    EXPECT_EQ(warm_run_allocations(bundle, x, y, dims), 0u) << "allocations in 20 warm aclmdlExecute calls";
    for (size_t i = 0; i < y.size(); ++i) ASSERT_FLOAT_EQ(y[i], want[i]) << "at " << i;
    std::fill(y.begin(), y.end(), -1.f);
  }
  (void)aclrtResetDevice(0);
}

// A ResNet's last layers on a small input: rows narrower than 7 (nhwc_conv's gathered positions
// on AVX-512 machines; blocked_conv and pointwise_conv on nChw8c on AVX2 ones), pooled.
TEST(RunAllocations, ConvolutionsOnNarrowRowsAllocateNothing) {
  (void)aclInit(nullptr);
  clear_error_text();
  ASSERT_ACL_OK(aclrtSetDevice(0));
  const std::vector<float> w1 = ramp(kMid * kIn * 9, -0.3f, 0.027f), b1 = ramp(kMid, -0.2f, 0.019f);
  const std::vector<float> w2 = ramp(kOut * kMid, -0.25f, 0.021f);
  const std::vector<uint8_t> bundle = conv_bundle(w1, b1, w2, true);
  ASSERT_FALSE(bundle.empty());
  std::vector<float> x = ramp(kIn * kSide * kSide, -1.f, 0.09f), y(kOut, NAN);

  EXPECT_EQ(warm_run_allocations(bundle, x, y), 0u) << "allocations in 20 warm aclmdlExecute calls";
  const std::vector<double> full = naive_conv_net(x, w1, b1, w2);
  for (int64_t o = 0; o < kOut; ++o) {
    const double want = (full[static_cast<size_t>(4 * o)] + full[static_cast<size_t>(4 * o + 1)] +
                         full[static_cast<size_t>(4 * o + 2)] + full[static_cast<size_t>(4 * o + 3)]) / 4;
    ASSERT_NEAR(y[static_cast<size_t>(o)], want, 1e-4 * std::max(1.0, std::fabs(want))) << "output channel " << o;
  }
  (void)aclrtResetDevice(0);
}

// A convolution whose output is a graph output (plain NCHW) on AVX-512 machines: it runs on
// channels-last and converts its output with activation_reorder.h, not a oneDNN reorder. (On
// AVX2 machines such a convolution runs on oneDNN's primitive, which allocates.)
TEST(RunAllocations, AConvolutionWritingAGraphOutputAllocatesNothing) {
  if (!cpu::nhwc_conv_supported()) GTEST_SKIP() << "no AVX-512 here: the convolution runs on oneDNN";
  (void)aclInit(nullptr);
  clear_error_text();
  ASSERT_ACL_OK(aclrtSetDevice(0));
  const std::vector<float> w1 = ramp(kMid * kIn * 9, -0.3f, 0.031f), b1 = ramp(kMid, -0.2f, 0.017f);
  const std::vector<float> w2 = ramp(kOut * kMid, -0.25f, 0.023f);
  const std::vector<uint8_t> bundle = conv_bundle(w1, b1, w2, false);
  ASSERT_FALSE(bundle.empty());
  std::vector<float> x = ramp(kIn * kSide * kSide, -1.f, 0.07f), y(kOut * 4, NAN);

  EXPECT_EQ(warm_run_allocations(bundle, x, y), 0u) << "allocations in 20 warm aclmdlExecute calls";
  const std::vector<double> want = naive_conv_net(x, w1, b1, w2);
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(y[i], want[i], 1e-4 * std::max(1.0, std::fabs(want[i]))) << "output element " << i;
  (void)aclrtResetDevice(0);
}

}  // namespace
}  // namespace lw::test
