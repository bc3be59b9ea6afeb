// In-place update mode (an update waits for running inferences; inferences wait for an update),
// several threads on one model, and unloading a bundle while it runs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <thread>

#include "concurrency/concurrency_util.h"
#include "runtime/bundle.h"
#include "runtime/runtime.h"

namespace lw {
namespace {

using Clock = std::chrono::steady_clock;

// A slow inference: x [512, 512] through kSteps MatMuls with W [512, 512], plus Relu(Big) with
// Big [4096, 4096] (64 MB, so an update of it takes a while).
struct SlowModel {
  static constexpr int64_t kRows = 512, kN = 512, kSteps = 48, kBigRows = 4096, kBigCols = 4096;
  std::vector<float> x;
  std::vector<std::vector<float>> w, big;  // two sets each
  std::vector<uint8_t> bundle;
};

SlowModel make_slow_model() {
  SlowModel m;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int64_t i = 0; i < SlowModel::kRows * SlowModel::kN; ++i) m.x.push_back(u(rng));
  for (int s = 0; s < 2; ++s) {
    std::vector<float> w, big;
    for (int64_t i = 0; i < SlowModel::kN * SlowModel::kN; ++i) w.push_back(u(rng) / 13.f);
    big.assign(static_cast<size_t>(SlowModel::kBigRows * SlowModel::kBigCols), static_cast<float>(s + 1));
    m.w.push_back(std::move(w));
    m.big.push_back(std::move(big));
  }
  Graph g("slow");
  Tensor x = g.add_input("x", DType::kFloat32, {SlowModel::kRows, SlowModel::kN});
  Tensor w = g.add_constant("W", DType::kFloat32, {SlowModel::kN, SlowModel::kN}, m.w[0].data(), m.w[0].size() * 4);
  Tensor big = g.add_constant("Big", DType::kFloat32, {SlowModel::kBigRows, SlowModel::kBigCols}, m.big[0].data(),
                              m.big[0].size() * 4);
  Tensor y = x;
  for (int i = 0; i < SlowModel::kSteps; ++i) y = g.add_op("MatMul", {y, w})[0];
  g.set_outputs({y, g.add_op("Relu", {big})[0]});
  auto graphs = convert_to_weight_refreshable(g, {"W", "Big"});
  EXPECT_TRUE(graphs.is_ok()) << graphs.status().message();
  if (!graphs.is_ok()) return m;
  auto bytes = build_bundle({graphs->infer, graphs->init, graphs->update});
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().message();
  if (bytes.is_ok()) m.bundle = std::move(*bytes);
  return m;
}

const SlowModel& slow_model() {
  static const SlowModel m = make_slow_model();
  return m;
}

ArrayView x_view(const SlowModel& m) { return test::f32_view(m.x, {SlowModel::kRows, SlowModel::kN}); }

std::map<std::string, ArrayView> weight_set(const SlowModel& m, size_t s) {
  return {{"W", test::f32_view(m.w[s], {SlowModel::kN, SlowModel::kN})},
          {"Big", test::f32_view(m.big[s], {SlowModel::kBigRows, SlowModel::kBigCols})}};
}

std::vector<uint8_t> all_bytes(const std::vector<Array>& out) {
  std::vector<uint8_t> b;
  for (const auto& a : out) b.insert(b.end(), a.data.get(), a.data.get() + a.bytes);
  return b;
}

rt::UpdateGate& gate_of(Session& s) {
  auto bundle = rt::Runtime::instance().bundle(s.bundle_id());
  EXPECT_TRUE(bundle.is_ok());
  return (*bundle)->store()->gate();
}

std::unique_ptr<Session> open_slow(bool in_place) {
  const SlowModel& m = slow_model();
  SessionOptions options;
  options.in_place_updates = in_place;
  auto s = Session::open_bytes(m.bundle.data(), m.bundle.size(), options);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  if (!s.is_ok()) return nullptr;
  EXPECT_TRUE((*s)->init().is_ok());
  return std::move(*s);
}

bool wait_for(const std::function<bool()>& cond) {
  auto until = Clock::now() + std::chrono::seconds(30);
  while (!cond()) {
    if (Clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

// Starts a slow inference, and once it runs, an update; checks the inference used version 1's
// weights throughout. Returns how long after the inference started the update ended, as a
// fraction of that inference's duration. (The ends cannot be compared directly: the update may
// return between the inference's release of the weights and its return to the caller.)
double update_during_inference(Session& s, bool in_place) {
  const SlowModel& m = slow_model();
  const uint64_t before = s.version();
  auto expected = s.infer({x_view(m)});  // warm (the first run also touches fresh memory)
  auto t0 = Clock::now();
  expected = s.infer({x_view(m)});
  const double alone = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_TRUE(expected.is_ok());
  Clock::time_point infer_start, infer_end, update_end;
  uint64_t version = 0;
  std::atomic<bool> started{false};
  std::thread inference([&] {
    infer_start = Clock::now();
    started = true;
    auto out = s.infer({x_view(m)}, &version);
    infer_end = Clock::now();
    EXPECT_TRUE(out.is_ok());
    if (out.is_ok() && expected.is_ok()) {
      EXPECT_EQ(all_bytes(*out), all_bytes(*expected));
    }
  });
  if (in_place) {
    EXPECT_TRUE(wait_for([&] { return gate_of(s).active_executions() > 0; }));
  } else {
    EXPECT_TRUE(wait_for([&] { return started.load(); }));
    std::this_thread::sleep_for(std::chrono::duration<double>(alone / 10));  // let it get going
  }
  std::thread update([&] {
    EXPECT_TRUE(s.update({{"W", test::f32_view(m.w[1], {SlowModel::kN, SlowModel::kN})}}).is_ok());
    update_end = Clock::now();
  });
  inference.join();
  update.join();
  EXPECT_EQ(version, before);  // the inference kept the weights it started with
  EXPECT_EQ(s.version(), before + 1);
  return std::chrono::duration<double>(update_end - infer_start).count() /
         std::chrono::duration<double>(infer_end - infer_start).count();
}

TEST(InPlace, UpdateWaitsForARunningInference) {
  auto s = open_slow(true);
  ASSERT_TRUE(s);
  // It waited for (most of) the inference, which read version 1's bytes to the end.
  EXPECT_GT(update_during_inference(*s, true), 0.6);
  // The update did happen: outputs now follow W set 1.
  auto after = s->infer({x_view(slow_model())});
  ASSERT_TRUE(after.is_ok());
  auto cow = open_slow(false);
  ASSERT_TRUE(cow);
  ASSERT_TRUE(cow->update({{"W", test::f32_view(slow_model().w[1], {SlowModel::kN, SlowModel::kN})}}).is_ok());
  auto want = cow->infer({x_view(slow_model())});
  ASSERT_TRUE(want.is_ok());
  EXPECT_EQ(all_bytes(*after), all_bytes(*want));
}

TEST(InPlace, CopyOnWriteUpdateDoesNotWaitForInference) {
  // The control for the test above: the same schedule without in-place mode.
  auto s = open_slow(false);
  ASSERT_TRUE(s);
  auto t0 = Clock::now();
  ASSERT_TRUE(s->infer({x_view(slow_model())}).is_ok());
  auto one = Clock::now() - t0;
  if (one < std::chrono::milliseconds(20)) GTEST_SKIP() << "inference too fast to tell the orders apart";
  // An update that waited would end after the inference (a ratio of 1 or more) every time; one
  // that does not can still be slowed past 0.6 by other jobs on a loaded machine (it happened
  // once under ctest -j2), so the best of three tries counts.
  double best = 2.0;
  for (int attempt = 0; attempt < 3 && best >= 0.6; ++attempt) best = std::min(best, update_during_inference(*s, false));
  EXPECT_LT(best, 0.6);
}

TEST(InPlace, InferenceWaitsForARunningUpdate) {
  const SlowModel& m = slow_model();
  auto s = open_slow(true);
  ASSERT_TRUE(s);
  rt::UpdateGate& gate = gate_of(*s);
  bool observed = false;
  for (int attempt = 0; attempt < 200 && !observed; ++attempt) {
    size_t set = static_cast<size_t>(attempt % 2 == 0 ? 1 : 0);
    std::atomic<bool> done{false};
    std::thread update([&] {
      EXPECT_TRUE(s->update(weight_set(m, set)).is_ok());
      done = true;
    });
    while (!done && !gate.update_active()) {
    }
    uint64_t version = 0;
    std::vector<uint8_t> got;
    if (!done) {
      observed = true;
      auto out = s->infer({x_view(m)}, &version);
      ASSERT_TRUE(out.is_ok());
      got = all_bytes(*out);
    }
    update.join();
    if (observed) {
      // It waited: it ran on the version the update published, not the one before.
      EXPECT_EQ(version, s->version());
      auto want = s->infer({x_view(m)});
      ASSERT_TRUE(want.is_ok());
      EXPECT_EQ(got, all_bytes(*want));
      const float* big = reinterpret_cast<const float*>((*want)[1].data.get());
      EXPECT_EQ(big[0], static_cast<float>(set + 1));
    }
  }
  EXPECT_TRUE(observed) << "never caught an update in progress";
}

TEST(Concurrency, SeveralThreadsRunOneModelWithTheirOwnArenas) {
  const SlowModel& m = slow_model();
  auto s = open_slow(false);
  ASSERT_TRUE(s);
  std::vector<std::vector<float>> inputs;
  std::vector<std::vector<uint8_t>> expected;
  for (int t = 0; t < 4; ++t) {
    std::vector<float> x = m.x;
    for (auto& v : x) v *= static_cast<float>(t + 1);
    auto out = s->infer({test::f32_view(x, {SlowModel::kRows, SlowModel::kN})});
    ASSERT_TRUE(out.is_ok());
    expected.push_back(all_bytes(*out));
    inputs.push_back(std::move(x));
  }
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 3; ++r) {
        auto out = s->infer({test::f32_view(inputs[static_cast<size_t>(t)], {SlowModel::kRows, SlowModel::kN})});
        if (!out.is_ok() || all_bytes(*out) != expected[static_cast<size_t>(t)]) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

uint32_t inference_model_id(uint32_t bundle_id) {
  auto bundle = rt::Runtime::instance().bundle(bundle_id);
  EXPECT_TRUE(bundle.is_ok());
  if (!bundle.is_ok()) return 0;
  for (const auto& model : (*bundle)->models())
    if (model->info()->role == rt::GraphRole::kInference) return model->id();
  return 0;
}

TEST(Concurrency, UnloadWhileAnotherThreadExecutes) {
  test::AffineModel m = test::make_affine_model();
  auto opened = Session::open_bytes(m.bundle.data(), m.bundle.size());
  ASSERT_TRUE(opened.is_ok());
  Session& s = **opened;
  ASSERT_TRUE(s.init().is_ok());
  uint32_t model_id = inference_model_id(s.bundle_id());
  std::atomic<int> ok_runs{0};
  Status last;
  std::thread runner([&] {
    std::vector<float> y(static_cast<size_t>(test::AffineModel::kM));
    rt::IoTensor in{m.x.data(), m.x.size() * 4, false, {}};
    rt::IoTensor out{y.data(), y.size() * 4, false, {}};
    for (;;) {
      last = rt::Runtime::instance().execute(model_id, {in}, {out}, nullptr);
      if (!last.is_ok()) return;
      EXPECT_EQ(y, test::affine_reference(m, 0, 0));
      ++ok_runs;
    }
  });
  ASSERT_TRUE(wait_for([&] { return ok_runs.load() > 20; }));
  // Two threads unload at once: exactly one succeeds; the executing thread then gets an error.
  Status a, b;
  std::thread other([&] { b = rt::Runtime::instance().unload_bundle(s.bundle_id()); });
  a = rt::Runtime::instance().unload_bundle(s.bundle_id());
  other.join();
  runner.join();
  EXPECT_NE(a.is_ok(), b.is_ok()) << a.message() << " / " << b.message();
  EXPECT_EQ((a.is_ok() ? b : a).code(), StatusCode::kInvalidBundleId);
  EXPECT_EQ(last.code(), StatusCode::kInvalidModelId) << last.message();
  auto after = s.infer({test::f32_view(m.x, {1, test::AffineModel::kK})});
  EXPECT_FALSE(after.is_ok());
  EXPECT_TRUE(s.close().is_ok());
}

TEST(Concurrency, UnloadDuringALongInferenceLetsItFinish) {
  const SlowModel& m = slow_model();
  auto s = open_slow(true);  // in-place only to see, through the gate, that it is running
  ASSERT_TRUE(s);
  auto expected = s->infer({x_view(m)});
  ASSERT_TRUE(expected.is_ok());
  rt::UpdateGate& gate = gate_of(*s);
  Result<std::vector<Array>> got = make_error(StatusCode::kInternal, "not run");
  std::thread inference([&] { got = s->infer({x_view(m)}); });
  ASSERT_TRUE(wait_for([&] { return gate.active_executions() > 0; }));
  EXPECT_TRUE(rt::Runtime::instance().unload_bundle(s->bundle_id()).is_ok());
  inference.join();
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  EXPECT_EQ(all_bytes(*got), all_bytes(*expected));
  auto after = s->infer({x_view(m)});
  ASSERT_FALSE(after.is_ok());
  EXPECT_NE(after.status().message().find("not loaded"), std::string::npos) << after.status().message();
}

}  // namespace
}  // namespace lw
