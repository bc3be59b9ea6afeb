// Issue 5's "no memory allocation in the run loop": once warm, an aclmdlExecute of a static-shape
// inference allocates nothing in liveweight (the C API's lists, Model::execute, the plan and
// its kernels). The graph uses only liveweight's own kernels: oneDNN's primitives allocate
// inside every execution (their argument maps), which bench/alloc_count.cc measures per model.
// Counted through this binary's replacement of operator new (new_hook.cc) and lw::alloc_aligned,
// on every thread.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "acl/acl.h"
#include "api/acl_test_util.h"
#include "core/fault_injection.h"
#include "liveweight/build.h"
#include "liveweight/graph.h"
#include "reliability/reliability_util.h"

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

TEST(RunAllocations, AWarmInferenceAllocatesNothing) {
  (void)aclInit(nullptr);
  clear_error_text();
  ASSERT_ACL_OK(aclrtSetDevice(0));
  const std::vector<float> w = ramp(kRows * kCols, -1.f, 0.1f), b = ramp(kCols, -0.5f, 0.13f);
  const std::vector<uint8_t> bundle = elementwise_bundle(w, b);
  ASSERT_FALSE(bundle.empty());
  uint32_t bundle_id = 0, ids[3] = {};
  ASSERT_ACL_OK(aclmdlBundleLoadFromMem(bundle.data(), bundle.size(), &bundle_id));
  for (size_t i = 0; i < 3; ++i) ASSERT_ACL_OK(aclmdlBundleGetModelId(bundle_id, i, &ids[i]));
  {
    IoSet io;
    ASSERT_ACL_OK(aclmdlExecute(ids[1], io.dataset({}), io.dataset({})));
  }

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
    IoSet io;
    aclmdlDataset* in = with_desc ? io.dataset({{x.data(), x.size() * sizeof(float)}}, {{kRows, kCols}})
                                  : io.dataset({{x.data(), x.size() * sizeof(float)}});
    aclmdlDataset* out = io.dataset({{y.data(), y.size() * sizeof(float)}});
    ASSERT_NE(in, nullptr);
    ASSERT_NE(out, nullptr);
    for (int k = 0; k < 3; ++k) ASSERT_ACL_OK(aclmdlExecute(ids[0], in, out));  // warm: plan, scratch, descs

    fault::arm_allocation_failure(UINT64_MAX, fault::Scope::kAllThreads);  // counts, never fails
    aclError err = ACL_SUCCESS;
    for (int k = 0; k < 20 && err == ACL_SUCCESS; ++k) err = aclmdlExecute(ids[0], in, out);
    const uint64_t allocations = fault::disarm_allocation_failure();
    ASSERT_ACL_OK(err);
    EXPECT_EQ(allocations, 0u) << "allocations in 20 warm aclmdlExecute calls";
    for (size_t i = 0; i < y.size(); ++i) ASSERT_FLOAT_EQ(y[i], want[i]) << "at " << i;
    std::fill(y.begin(), y.end(), -1.f);
  }
  EXPECT_ACL_OK(aclmdlBundleUnload(bundle_id));
  (void)aclrtResetDevice(0);
}

}  // namespace
}  // namespace lw::test
