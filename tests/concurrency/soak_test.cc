// Soak: 4 threads infer while 1 thread alternates full and partial updates between weight
// sets; every output must be exactly one version's reference, and the version each thread
// sees never goes backwards. Bounded by LW_SOAK_SECONDS (default 15).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "concurrency/concurrency_util.h"

namespace lw {
namespace {

using test::AffineModel;

double soak_seconds() {
  const char* s = std::getenv("LW_SOAK_SECONDS");
  double v = s && *s ? std::atof(s) : 15.0;
  return v > 0 ? v : 15.0;
}

// Update k (k >= 1) uses weight set k % 3; odd k refresh W and B, even k only W.
// Init (version 1) writes set 0 for both.
struct VersionState {
  int ws, bs;
};
VersionState state_of(uint64_t version) {
  if (version <= 1) return {0, 0};
  uint64_t k = version - 1;
  uint64_t last_full = k % 2 == 1 ? k : k - 1;
  return {static_cast<int>(k % 3), last_full == 0 ? 0 : static_cast<int>(last_full % 3)};
}

void soak(const SessionOptions& options, double seconds) {
  AffineModel m = test::make_affine_model();
  ASSERT_FALSE(m.bundle.empty());
  // The references of all nine (W set, B set) states are pairwise different.
  std::vector<std::vector<float>> refs;
  for (int ws = 0; ws < 3; ++ws)
    for (int bs = 0; bs < 3; ++bs) refs.push_back(test::affine_reference(m, ws, bs));
  for (size_t i = 0; i < refs.size(); ++i)
    for (size_t j = i + 1; j < refs.size(); ++j) ASSERT_NE(refs[i], refs[j]) << i << " " << j;

  auto opened = Session::open_bytes(m.bundle.data(), m.bundle.size(), options);
  ASSERT_TRUE(opened.is_ok()) << opened.status().message();
  Session& s = **opened;
  ASSERT_TRUE(s.init().is_ok());
  ASSERT_EQ(s.version(), 1u);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::atomic<bool> stop{false};
  std::mutex fail_mu;
  std::string first_failure;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(fail_mu);
    if (first_failure.empty()) first_failure = what;
    stop = true;
  };

  std::atomic<uint64_t> updates{0};
  std::thread updater([&] {
    for (uint64_t k = 1; !stop && std::chrono::steady_clock::now() < deadline; ++k) {
      int set = static_cast<int>(k % 3);
      std::map<std::string, ArrayView> weights;
      weights["W"] = test::f32_view(m.w[static_cast<size_t>(set)], {AffineModel::kK, AffineModel::kM});
      if (k % 2 == 1) weights["B"] = test::f32_view(m.b[static_cast<size_t>(set)], {AffineModel::kM});
      Status st = s.update(weights);
      if (!st.is_ok()) return fail("update " + std::to_string(k) + ": " + st.message());
      updates = k;
    }
    stop = true;
  });

  std::atomic<uint64_t> inferences{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      uint64_t last = 0;
      while (!stop) {
        uint64_t version = 0;
        auto out = s.infer({test::f32_view(m.x, {1, AffineModel::kK})}, &version);
        if (!out.is_ok()) return fail("infer: " + out.status().message());
        std::vector<float> y = test::first_output(*out);
        int matches = 0;
        for (const auto& r : refs) matches += y == r ? 1 : 0;
        if (matches != 1)
          return fail("thread " + std::to_string(t) + ": output matches " + std::to_string(matches) + " versions");
        VersionState st = state_of(version);
        if (y != refs[static_cast<size_t>(st.ws * 3 + st.bs)])
          return fail("thread " + std::to_string(t) + ": output is not the reference of version " +
                      std::to_string(version));
        if (version < last)
          return fail("thread " + std::to_string(t) + ": version went back from " + std::to_string(last) + " to " +
                      std::to_string(version));
        last = version;
        ++inferences;
      }
    });
  }
  updater.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(first_failure, "");
  EXPECT_GT(updates.load(), 10u);
  EXPECT_GT(inferences.load(), 40u);
  EXPECT_EQ(s.version(), 1 + updates.load());
  std::printf("soak (%s): %llu updates, %llu inferences\n", options.in_place_updates ? "in place" : "copy-on-write",
              static_cast<unsigned long long>(updates.load()), static_cast<unsigned long long>(inferences.load()));
}

TEST(Soak, InferenceNeverMixesVersionsAndVersionsNeverGoBack) { soak({}, soak_seconds()); }

TEST(Soak, KeptVersionsDoNotChangeIsolation) {
  SessionOptions options;
  options.keep_versions = 3;
  soak(options, soak_seconds() / 3);
}

TEST(Soak, InPlaceUpdatesNeverMixVersionsEither) {
  SessionOptions options;
  options.in_place_updates = true;
  soak(options, soak_seconds() / 3);
}

}  // namespace
}  // namespace lw
