// Once warm, updates and inferences reuse the intra-op threads instead of starting new ones.
// libgomp pools the threads of outermost parallel regions only: a parallel region nested in
// another, even in a one-thread one (what an `if` clause that fails makes), starts its threads
// afresh every time. That once made every one-tensor update at two threads start a thread
// (70 us of a 4 us update). Counted through this binary's pthread_create (thread_start_hook.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "liveweight/build.h"
#include "liveweight/graph.h"
#include "liveweight/session.h"
#include "reliability/reliability_util.h"

namespace lw::test {
namespace {

std::vector<float> ramp(size_t n, float start, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i % 29);
  return v;
}

std::unique_ptr<Session> open_refreshable(Graph& g, const std::vector<std::string>& weights) {
  auto conv = convert_to_weight_refreshable(g, weights);
  if (!conv.is_ok()) {
    ADD_FAILURE() << conv.status().message();
    return nullptr;
  }
  auto bundle = build_bundle({conv->infer, conv->init, conv->update});
  if (!bundle.is_ok()) {
    ADD_FAILURE() << bundle.status().message();
    return nullptr;
  }
  auto s = Session::open_bytes(bundle->data(), bundle->size());
  if (!s.is_ok()) {
    ADD_FAILURE() << s.status().message();
    return nullptr;
  }
  Status st = (*s)->init();
  if (!st.is_ok()) {
    ADD_FAILURE() << st.message();
    return nullptr;
  }
  return std::move(s).value();
}

// Updates `weight` to values[k % 2] `rounds` times, inferring after each; returns the threads
// started meanwhile and leaves the last output in *y.
uint64_t threads_started_by(Session& s, const std::string& weight, const std::vector<int64_t>& wdims,
                            const std::vector<std::vector<float>>& values, const ArrayView& x, int rounds,
                            std::vector<float>* y) {
  const uint64_t before = threads_started();
  for (int k = 0; k < rounds; ++k) {
    const std::vector<float>& v = values[static_cast<size_t>(k % 2)];
    Status st = s.update({{weight, ArrayView{v.data(), DType::kFloat32, wdims, v.size() * sizeof(float)}}});
    EXPECT_TRUE(st.is_ok()) << st.message();
    auto out = s.infer({x});
    EXPECT_TRUE(out.is_ok()) << out.status().message();
    if (!out.is_ok()) break;
    const auto* p = reinterpret_cast<const float*>((*out)[0].data.get());
    y->assign(p, p + (*out)[0].bytes / sizeof(float));
  }
  return threads_started() - before;
}

// A plain weight of 3 MB (copied by the parallel copy) and a packed 1 x 1 convolution weight
// (written by the tile copy into oneDNN's layout), each refreshed alone.
TEST(RunThreads, OneTensorUpdatesAndInferencesStartNoThreads) {
  constexpr int64_t kRows = 768, kCols = 1024;  // 3 MB: parallel-copied, not a "large" update
  const std::vector<float> x = ramp(kRows * kCols, -1.f, 0.01f);
  std::vector<std::vector<float>> w = {ramp(kRows * kCols, 0.5f, 0.02f), ramp(kRows * kCols, -0.3f, 0.05f)};
  {
    Graph g("add");
    Tensor xt = g.add_input("x", DType::kFloat32, {kRows, kCols});
    Tensor wt = g.add_constant("W", DType::kFloat32, {kRows, kCols}, w[1].data(), w[1].size() * sizeof(float));
    g.set_outputs({g.add_op("Add", {xt, wt}, {}, 1, "add")[0]});
    std::unique_ptr<Session> s = open_refreshable(g, {"W"});
    ASSERT_NE(s, nullptr);
    const ArrayView xv{x.data(), DType::kFloat32, {kRows, kCols}, x.size() * sizeof(float)};
    std::vector<float> y;
    threads_started_by(*s, "W", {kRows, kCols}, w, xv, 2, &y);  // warm: the thread pool starts
    EXPECT_EQ(threads_started_by(*s, "W", {kRows, kCols}, w, xv, 10, &y), 0u)
        << "threads started by 10 one-tensor updates and inferences";
    ASSERT_EQ(y.size(), x.size());
    for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], x[i] + w[1][i]) << "at " << i;
  }
  {
    constexpr int64_t kIn = 64, kOut = 128, kPix = 8 * 8;
    const std::vector<float> xc = ramp(kIn * kPix, -0.5f, 0.04f);
    std::vector<std::vector<float>> wc = {ramp(kOut * kIn, 0.2f, -0.03f), ramp(kOut * kIn, -0.1f, 0.02f)};
    Graph g("conv");
    Tensor xt = g.add_input("x", DType::kFloat32, {1, kIn, 8, 8});
    Tensor wt = g.add_constant("W", DType::kFloat32, {kOut, kIn, 1, 1}, wc[1].data(), wc[1].size() * sizeof(float));
    g.set_outputs({g.add_op("Conv", {xt, wt}, {}, 1, "conv")[0]});
    std::unique_ptr<Session> s = open_refreshable(g, {"W"});
    ASSERT_NE(s, nullptr);
    const ArrayView xv{xc.data(), DType::kFloat32, {1, kIn, 8, 8}, xc.size() * sizeof(float)};
    std::vector<float> y;
    threads_started_by(*s, "W", {kOut, kIn, 1, 1}, wc, xv, 2, &y);
    EXPECT_EQ(threads_started_by(*s, "W", {kOut, kIn, 1, 1}, wc, xv, 10, &y), 0u)
        << "threads started by 10 one-tensor updates and inferences";
    // A 1 x 1 convolution is W [out, in] times x [in, pixels].
    ASSERT_EQ(y.size(), static_cast<size_t>(kOut * kPix));
    for (int64_t o = 0; o < kOut; ++o)
      for (int64_t p = 0; p < kPix; ++p) {
        double want = 0;
        for (int64_t i = 0; i < kIn; ++i)
          want += static_cast<double>(wc[1][static_cast<size_t>(o * kIn + i)]) * xc[static_cast<size_t>(i * kPix + p)];
        ASSERT_NEAR(y[static_cast<size_t>(o * kPix + p)], want, 1e-4 * (1 + std::fabs(want))) << o << ", " << p;
      }
  }
}

}  // namespace
}  // namespace lw::test
