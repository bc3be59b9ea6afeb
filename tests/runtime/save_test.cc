// Session::save: checkpoints of the current weights, reloaded bit for bit (packed conv weights
// included), the version the file records, bundles without an init graph, errors, and saving
// while updates run.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "liveweight/build.h"
#include "liveweight/inspect.h"
#include "liveweight/session.h"
#include "runtime/bundle.h"
#include "runtime/runtime.h"
#include "support/session_io.h"
#include "support/test_support.h"

namespace lw {
namespace {

struct Model {
  std::string dir;
  test::NpyArray input;
  std::vector<std::pair<std::string, test::NpyArray>> weights_b;
};

Model load(const std::string& name) {
  Model m;
  m.dir = test::test_models_dir() + "/" + name;
  m.input = test::read_npy(m.dir + "/input.npy");
  std::ifstream f(m.dir + "/weights.json");
  for (const auto& w : nlohmann::json::parse(f))
    m.weights_b.push_back({w["name"].get<std::string>(), test::read_npy(m.dir + "/" + w["file"].get<std::string>())});
  return m;
}

std::string build(const Model& m, const std::string& name, bool init = true) {
  std::string path = test::temp_path(name);
  OnnxBuildOptions options;
  options.init = init;
  Status st = build_bundle_from_onnx(m.dir + "/model.onnx", path, options);
  EXPECT_TRUE(st.is_ok()) << st.message();
  return path;
}

using test::view;

std::map<std::string, ArrayView> all_weights(const Model& m) {
  std::map<std::string, ArrayView> w;
  for (const auto& [name, a] : m.weights_b) w[name] = view(a);
  return w;
}

std::unique_ptr<Session> open(const std::string& path, const SessionOptions& options = {}) {
  auto s = Session::open(path, options);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return s.is_ok() ? std::move(s).value() : nullptr;
}

using test::run;

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

uint64_t saved_version(const std::string& path) {
  auto s = inspect_model_file(path);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return s.is_ok() ? s->weights_version : ~uint64_t{0};
}

std::vector<std::string> roles(const std::string& path) {
  auto s = inspect_model_file(path);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  std::vector<std::string> out;
  if (s.is_ok())
    for (const auto& g : s->graphs) out.push_back(g.role);
  return out;
}

// Slots of the session's bundle held in a packed (blocked) layout.
size_t packed_slots(const Session& s) {
  auto bundle = rt::Runtime::instance().bundle(s.bundle_id());
  EXPECT_TRUE(bundle.is_ok());
  if (!bundle.is_ok()) return 0;
  size_t n = 0;
  for (size_t i = 0; i < (*bundle)->store()->slots().size(); ++i)
    if ((*bundle)->store()->layout(static_cast<int32_t>(i))) ++n;
  return n;
}

void expect_error(const Status& st, StatusCode code, const std::string& text) {
  EXPECT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), code) << st.message();
  EXPECT_NE(st.message().find(text), std::string::npos) << st.message() << "\nexpected to contain: " << text;
}

void check_round_trip(const SessionOptions& options) {
  Model m = load("cnn_bn");
  std::string original = build(m, "save_cnn.om");
  auto s = open(original, options);
  ASSERT_TRUE(s);
  // Conv weights are held in oneDNN's blocked layout: saving must convert them back.
  EXPECT_GT(packed_slots(*s), 0u);
  ASSERT_TRUE(s->init().is_ok());
  std::vector<float> y_a = run(*s, m.input);
  // Two updates: all weights, then the first one again with the other values kept.
  ASSERT_TRUE(s->update(all_weights(m)).is_ok());
  ASSERT_TRUE(s->update({{m.weights_b[0].first, view(m.weights_b[0].second)}}).is_ok());
  ASSERT_EQ(s->version(), 3u);
  std::vector<float> y = run(*s, m.input);
  ASSERT_FALSE(bit_equal(y, y_a));

  std::string saved = test::temp_path("save_cnn_v3.om");
  Status st = s->save(saved);
  ASSERT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(saved_version(saved), 3u);
  EXPECT_EQ(saved_version(original), 0u);  // as built: the reader gives 0 for the absent field
  EXPECT_EQ(roles(saved), roles(original));
  EXPECT_EQ(s->version(), 3u);  // saving publishes nothing

  auto r = open(saved, options);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->version(), 0u);  // a new session counts its own updates
  EXPECT_GT(packed_slots(*r), 0u);
  ASSERT_TRUE(r->init().is_ok());
  EXPECT_TRUE(bit_equal(run(*r, m.input), y));
  // The saved session itself is unchanged, and the original file still restores its weights.
  EXPECT_TRUE(bit_equal(run(*s, m.input), y));
  auto o = open(original, options);
  ASSERT_TRUE(o);
  ASSERT_TRUE(o->init().is_ok());
  EXPECT_TRUE(bit_equal(run(*o, m.input), y_a));
}

TEST(SessionSave, PackedConvWeightsRoundTripBitForBit) { check_round_trip({}); }

TEST(SessionSave, InPlaceModeRoundTripsToo) { check_round_trip({/*in_place_updates=*/true, 0}); }

TEST(SessionSave, BundleWithoutInitGainsOne) {
  Model m = load("cnn_bn");
  std::string original = build(m, "save_noinit.om", /*init=*/false);
  ASSERT_EQ(roles(original), (std::vector<std::string>{"inference", "weight-update"}));
  auto s = open(original);
  ASSERT_TRUE(s);
  std::string saved = test::temp_path("save_noinit_v1.om");
  // Nothing written yet: the error names a Variable, and no file appears.
  expect_error(s->save(saved), StatusCode::kInvalidArgument, m.weights_b[0].first + "_var");
  EXPECT_FALSE(std::filesystem::exists(saved));

  ASSERT_TRUE(s->update(all_weights(m)).is_ok());
  std::vector<float> y = run(*s, m.input);
  Status st = s->save(saved);
  ASSERT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(roles(saved), (std::vector<std::string>{"inference", "weight-init", "weight-update"}));
  EXPECT_EQ(saved_version(saved), 1u);
  auto r = open(saved);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->init().is_ok());
  EXPECT_TRUE(bit_equal(run(*r, m.input), y));
}

TEST(SessionSave, ErrorsNameThePath) {
  Model m = load("mlp");
  auto s = open(build(m, "save_err.om"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->init().is_ok());
  std::string bad = test::temp_path("no_such_dir") + "/x.om";
  expect_error(s->save(bad), StatusCode::kWriteFile, bad);
  ASSERT_TRUE(s->close().is_ok());
  expect_error(s->save(test::temp_path("closed.om")), StatusCode::kInvalidBundleId, "closed");
}

TEST(SessionSave, OverTheFileItWasOpenedFrom) {
  // The session keeps reading its (mapped) original; the rename gives the path a new file.
  Model m = load("mlp");
  std::string path = build(m, "save_over.om");
  auto s = open(path);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->init().is_ok());
  ASSERT_TRUE(s->update(all_weights(m)).is_ok());
  std::vector<float> y = run(*s, m.input);
  Status st = s->save(path);
  ASSERT_TRUE(st.is_ok()) << st.message();
  ASSERT_TRUE(s->init().is_ok());  // re-runs the original init graph from the old mapping
  std::vector<float> y_a = run(*s, m.input);
  EXPECT_FALSE(bit_equal(y_a, y));
  auto r = open(path);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->init().is_ok());
  EXPECT_TRUE(bit_equal(run(*r, m.input), y));
  EXPECT_EQ(saved_version(path), 2u);
}

// Saving while another thread keeps updating: every file holds exactly the version it records.
void check_concurrent(const SessionOptions& options, const std::string& tag) {
  Model m = load("mlp");
  auto s = open(build(m, "save_conc_" + tag + ".om"), options);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->init().is_ok());
  // Weight sets B and C = B / 2: updates alternate B (even versions), C (odd versions >= 3).
  std::vector<std::vector<float>> halves;
  std::map<std::string, ArrayView> set_b = all_weights(m), set_c;
  for (const auto& [name, a] : m.weights_b) {
    std::vector<float> h(a.f32(), a.f32() + a.numel());
    for (float& x : h) x *= 0.5f;
    halves.push_back(std::move(h));
    set_c[name] = {halves.back().data(), DType::kFloat32, a.shape, halves.back().size() * sizeof(float)};
  }
  ASSERT_TRUE(s->update(set_c).is_ok());  // version 2 (C), so the references can be taken
  std::vector<float> y_c = run(*s, m.input);
  ASSERT_TRUE(s->update(set_b).is_ok());  // version 3 (B)
  std::vector<float> y_b = run(*s, m.input);
  ASSERT_FALSE(bit_equal(y_b, y_c));

  std::atomic<bool> stop{false};
  std::atomic<int> update_failures{0};
  std::thread updater([&] {
    while (!stop.load()) {
      // Version v+1 gets B when v+1 is odd, else C: odd versions hold B.
      bool next_odd = (s->version() + 1) % 2 == 1;
      if (!s->update(next_odd ? set_b : set_c).is_ok()) ++update_failures;
    }
  });
  std::string path = test::temp_path("save_conc_" + tag + "_ckpt.om");
  std::set<uint64_t> seen;
  for (int i = 0; i < 12; ++i) {
    Status st = s->save(path);
    ASSERT_TRUE(st.is_ok()) << st.message();
    uint64_t v = saved_version(path);
    seen.insert(v);
    auto r = open(path);
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->init().is_ok());
    std::vector<float> y = run(*r, m.input);
    EXPECT_TRUE(bit_equal(y, v % 2 == 1 ? y_b : y_c)) << "saved version " << v;
  }
  stop = true;
  updater.join();
  EXPECT_EQ(update_failures.load(), 0);
  EXPECT_GE(seen.size(), 2u);  // the updates really ran between the saves
}

TEST(SessionSave, ConcurrentUpdatesCopyOnWrite) { check_concurrent({}, "cow"); }

TEST(SessionSave, ConcurrentUpdatesInPlace) { check_concurrent({/*in_place_updates=*/true, 0}, "inplace"); }

}  // namespace
}  // namespace lw
