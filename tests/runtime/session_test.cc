// The native Session API against the PyTorch references of the test models.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "liveweight/build.h"
#include "liveweight/graph.h"
#include "liveweight/session.h"
#include "runtime/runtime.h"
#include "support/session_io.h"
#include "support/test_support.h"

namespace lw {
namespace {

struct Model {
  std::string bundle;
  test::NpyArray input, out_a, out_b, out_b_skip0;
  std::vector<std::pair<std::string, test::NpyArray>> weights_b;
};

Model load(const std::string& name) {
  Model m;
  std::string dir = test::test_models_dir() + "/" + name;
  m.bundle = test::temp_path(name + ".om");
  Status st = build_bundle_from_onnx(dir + "/model.onnx", m.bundle);
  EXPECT_TRUE(st.is_ok()) << st.message();
  m.input = test::read_npy(dir + "/input.npy");
  m.out_a = test::read_npy(dir + "/out_a.npy");
  m.out_b = test::read_npy(dir + "/out_b.npy");
  m.out_b_skip0 = test::read_npy(dir + "/out_b_skip0.npy");
  std::ifstream f(dir + "/weights.json");
  for (const auto& w : nlohmann::json::parse(f))
    m.weights_b.push_back({w["name"].get<std::string>(), test::read_npy(dir + "/" + w["file"].get<std::string>())});
  return m;
}

using test::view;

using test::run;

double error(const std::vector<float>& got, const test::NpyArray& want) {
  EXPECT_EQ(got.size(), want.numel());
  return test::max_scaled_error(got.data(), want.f32(), std::min(got.size(), want.numel()));
}

TEST(Session, InitUpdateByNameAndVersions) {
  Model m = load("cnn_bn");
  auto s = Session::open(m.bundle);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  Session& session = **s;
  EXPECT_EQ(session.version(), 0u);
  ASSERT_TRUE(session.init().is_ok());
  EXPECT_EQ(session.version(), 1u);
  EXPECT_LT(error(run(session, m.input), m.out_a), 1e-4);

  // Update all but the first weight, by initializer name.
  std::map<std::string, ArrayView> partial;
  for (size_t i = 1; i < m.weights_b.size(); ++i) partial[m.weights_b[i].first] = view(m.weights_b[i].second);
  ASSERT_TRUE(session.update(partial).is_ok());
  EXPECT_EQ(session.version(), 2u);
  EXPECT_LT(error(run(session, m.input), m.out_b_skip0), 1e-4);

  // The first one by its Variable name.
  Status st = session.update({{m.weights_b[0].first + "_var", view(m.weights_b[0].second)}});
  ASSERT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(session.version(), 3u);
  EXPECT_LT(error(run(session, m.input), m.out_b), 1e-4);
}

TEST(Session, RejectedUpdateChangesNothing) {
  Model m = load("mlp");
  auto s = Session::open(m.bundle);
  ASSERT_TRUE(s.is_ok());
  Session& session = **s;
  ASSERT_TRUE(session.init().is_ok());
  std::vector<float> before = run(session, m.input);

  // One good weight and one unknown name: nothing changes.
  Status unknown = session.update({{m.weights_b[0].first, view(m.weights_b[0].second)}, {"no_such_weight", view(m.input)}});
  EXPECT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.message().find("no_such_weight"), std::string::npos);
  // One good weight and one of the wrong dims: nothing changes, the error names the input.
  ArrayView wrong = view(m.weights_b[1].second);
  wrong.dims.push_back(1);
  Status bad_dims = session.update({{m.weights_b[0].first, view(m.weights_b[0].second)}, {m.weights_b[1].first, wrong}});
  EXPECT_FALSE(bad_dims.is_ok());
  EXPECT_NE(bad_dims.message().find(m.weights_b[1].first + "_var_data"), std::string::npos) << bad_dims.message();
  // One weight under both of its names (the initializer's and the Variable's): refused.
  Status twice = session.update({{m.weights_b[0].first, view(m.weights_b[0].second)},
                                 {m.weights_b[0].first + "_var", view(m.weights_b[0].second)}});
  EXPECT_FALSE(twice.is_ok());
  EXPECT_NE(twice.message().find("given twice"), std::string::npos) << twice.message();

  EXPECT_EQ(session.version(), 1u);
  std::vector<float> after = run(session, m.input);
  ASSERT_EQ(before.size(), after.size());
  EXPECT_EQ(std::memcmp(before.data(), after.data(), before.size() * sizeof(float)), 0);
}

// A model whose inputs are all static keeps only its input and output values once planned; its
// errors still name them.
TEST(Session, AStaticModelStillNamesItsInputsInErrors) {
  Model m = load("mlp");
  auto s = Session::open(m.bundle);
  ASSERT_TRUE(s.is_ok());
  Session& session = **s;
  ASSERT_TRUE(session.init().is_ok());
  ArrayView x = view(m.input);
  x.dims.push_back(1);
  auto r = session.infer({x});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("input 0 '" + session.inputs()[0].name + "'"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("do not match the model's"), std::string::npos) << r.status().message();
  auto two = session.infer({view(m.input), view(m.input)});
  ASSERT_FALSE(two.is_ok());
  EXPECT_NE(two.status().message().find("has 1 inputs"), std::string::npos) << two.status().message();
  EXPECT_LT(error(run(session, m.input), m.out_a), 1e-4) << "and it still runs";
}

TEST(Session, OpenBytesAndClose) {
  Model m = load("mlp");
  std::vector<uint8_t> bytes = test::read_file_bytes(m.bundle);
  auto s = Session::open_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  Session& session = **s;
  EXPECT_EQ(session.weights().size(), m.weights_b.size());
  EXPECT_EQ(session.weights()[0].source, m.weights_b[0].first);
  EXPECT_EQ(session.inputs().size(), 1u);
  auto before_init = session.infer({view(m.input)});
  ASSERT_FALSE(before_init.is_ok());
  EXPECT_NE(before_init.status().message().find("never been written"), std::string::npos);
  ASSERT_TRUE(session.init().is_ok());
  EXPECT_LT(error(run(session, m.input), m.out_a), 1e-4);
  EXPECT_TRUE(session.close().is_ok());
  EXPECT_TRUE(session.close().is_ok());
  EXPECT_FALSE(session.infer({view(m.input)}).is_ok());
  EXPECT_FALSE(session.update({}).is_ok());
}

TEST(Session, OpenFailsOnMissingOrCorruptFiles) {
  auto missing = Session::open("/nonexistent/bundle.om");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidFile);
  uint8_t junk[100] = {1, 2, 3};
  auto corrupt = Session::open_bytes(junk, sizeof(junk));
  ASSERT_FALSE(corrupt.is_ok());
}

}  // namespace
}  // namespace lw

namespace lw {
namespace {

TEST(Session, DynamicInputDimsGiveOutputsOfTheRealDims) {
  // y = x + W with x [-1, 3]: output dims follow the batch of each call.
  std::vector<float> w = {1.f, 2.f, 3.f};
  Graph g("dyn");
  Tensor x = g.add_input("x", DType::kFloat32, {-1, 3});
  Tensor wt = g.add_constant("W", DType::kFloat32, {3}, w.data(), w.size() * sizeof(float));
  g.set_outputs({g.add_op("Add", {x, wt})[0]});
  auto graphs = convert_to_weight_refreshable(g, {"W"});
  ASSERT_TRUE(graphs.is_ok()) << graphs.status().message();
  auto bytes = build_bundle({graphs->infer, graphs->init, graphs->update});
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  auto s = Session::open_bytes(bytes->data(), bytes->size());
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  ASSERT_TRUE((*s)->init().is_ok());
  EXPECT_EQ((*s)->outputs()[0].dims, (std::vector<int64_t>{-1, 3}));
  for (int64_t batch : {2, 5, 1}) {
    std::vector<float> in(static_cast<size_t>(batch) * 3);
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i);
    auto out = (*s)->infer({{in.data(), DType::kFloat32, {batch, 3}, in.size() * sizeof(float)}});
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    ASSERT_EQ((*out)[0].dims, (std::vector<int64_t>{batch, 3}));
    ASSERT_EQ((*out)[0].bytes, in.size() * sizeof(float));
    const float* y = reinterpret_cast<const float*>((*out)[0].data.get());
    for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(y[i], in[i] + w[i % 3]) << batch << " " << i;
  }
  // A batch whose dims disagree with the model's rank is refused with a message.
  std::vector<float> flat(6);
  auto bad = (*s)->infer({{flat.data(), DType::kFloat32, {6}, flat.size() * sizeof(float)}});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("'x'"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace lw

namespace lw {
namespace {

// A Gemm weight that another graph of the bundle also reads (an update graph computing
// W + delta, as an optimizer step would): the runtime keeps it in the plain layout for both
// readers instead of packing it for the Gemm, and both graphs compute with it.
TEST(Session, WeightReadByTwoGraphsStaysUsableByBoth) {
  constexpr int64_t k = 32, n = 24;
  std::vector<float> w0(k * n), delta(k * n), xv(2 * k);
  for (int64_t i = 0; i < k * n; ++i) {
    w0[static_cast<size_t>(i)] = 0.01f * static_cast<float>(i % 17) - 0.08f;
    delta[static_cast<size_t>(i)] = 0.002f * static_cast<float>(i % 5);
  }
  for (int64_t i = 0; i < 2 * k; ++i) xv[static_cast<size_t>(i)] = 0.1f * static_cast<float>(i % 7) - 0.3f;

  Graph infer("infer");
  Tensor x = infer.add_input("x", DType::kFloat32, {2, k});
  infer.set_outputs({infer.add_op("Gemm", {x, infer.add_variable("W", DType::kFloat32, {k, n})})[0]});
  Graph init("init");
  init.add_assign(init.add_variable("W", DType::kFloat32, {k, n}),
                  init.add_constant("W0", DType::kFloat32, {k, n}, w0.data(), w0.size() * sizeof(float)), false);
  Graph step("step");  // W <- W + delta
  Tensor d = step.add_input("delta", DType::kFloat32, {k, n});
  Tensor wv = step.add_variable("W", DType::kFloat32, {k, n});
  step.add_assign(wv, step.add_op("Add", {wv, d})[0], false);
  auto bytes = build_bundle({infer, init, step});
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  auto session = Session::open_bytes(bytes->data(), bytes->size());
  ASSERT_TRUE(session.is_ok()) << session.status().message();
  ASSERT_TRUE((*session)->init().is_ok());

  auto gemm = [&](const std::vector<float>& w) {
    std::vector<float> y(2 * n);
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double acc = 0;
        for (int64_t q = 0; q < k; ++q) acc += double(xv[static_cast<size_t>(r * k + q)]) * w[static_cast<size_t>(q * n + c)];
        y[static_cast<size_t>(r * n + c)] = static_cast<float>(acc);
      }
    return y;
  };
  auto run = [&] {
    auto out = (*session)->infer({ArrayView{xv.data(), DType::kFloat32, {2, k}, xv.size() * sizeof(float)}});
    EXPECT_TRUE(out.is_ok()) << out.status().message();
    std::vector<float> y(2 * n);
    if (out.is_ok()) std::memcpy(y.data(), (*out)[0].data.get(), y.size() * sizeof(float));
    return y;
  };
  auto close = [](const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
  };
  EXPECT_LT(close(run(), gemm(w0)), 1e-5f);
  // Run the step graph (the bundle's graph 2) through the runtime: W becomes w0 + delta.
  rt::Runtime& runtime = rt::Runtime::instance();
  auto step_id = runtime.bundle_model_id((*session)->bundle_id(), 2);
  ASSERT_TRUE(step_id.is_ok()) << step_id.status().message();
  Status st = runtime.execute(*step_id, {rt::IoTensor{delta.data(), delta.size() * sizeof(float), false, {}}}, {}, nullptr);
  ASSERT_TRUE(st.is_ok()) << st.message();
  std::vector<float> w1 = w0;
  for (size_t i = 0; i < w1.size(); ++i) w1[i] += delta[i];
  EXPECT_LT(close(run(), gemm(w1)), 1e-5f);
}

}  // namespace
}  // namespace lw
