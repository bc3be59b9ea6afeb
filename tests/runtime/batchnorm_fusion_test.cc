// Conv/Gemm -> BatchNormalization fusion (EpilogueOptions::batchnorm): the pass's rewrite and
// what it refuses, and fused plans against naive loops, with the BatchNorm parameters as
// Variables refreshed between runs (the fused kernel must read them on every run) and as Consts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "compiler/passes/epilogue_fusion.h"
#include "graph/op_registry.h"
#include "runtime/plan.h"
#include "support/float_data.h"
#include "support/graph_builder.h"
#include "support/naive_conv.h"

namespace lw::rt {
namespace {

using test::add_op;
using test::max_diff;
using test::naive_conv;
using test::random_vec;
using test::tensor;

constexpr int64_t kC = 16, kH = 8;
constexpr float kEps1 = 1e-5f, kEps2 = 1e-3f;

struct BnParams {
  std::vector<float> scale, shift, mean, var;
};

BnParams random_bn(uint32_t seed) {
  return {random_vec(kC, seed, 0.5f, 1.0f), random_vec(kC, seed + 1, 0.3f), random_vec(kC, seed + 2, 0.5f),
          random_vec(kC, seed + 3, 0.4f, 1.0f)};
}

// In place over a [C, n] block: (v - mean) / sqrt(var + eps) * scale + shift, in double.
void naive_bn(std::vector<float>& v, const BnParams& p, float eps, int64_t n) {
  for (int64_t c = 0; c < kC; ++c)
    for (int64_t i = 0; i < n; ++i) {
      float& x = v[static_cast<size_t>(c * n + i)];
      auto k = static_cast<size_t>(c);
      x = static_cast<float>((double(x) - p.mean[k]) / std::sqrt(double(p.var[k]) + eps) * p.scale[k] + p.shift[k]);
    }
}

void relu(std::vector<float>& v) {
  for (float& x : v) x = std::max(x, 0.0f);
}

struct Weights {
  std::vector<float> w1 = random_vec(kC * kC * 9, 1, 0.1f);  // conv1 has no bias
  std::vector<float> w2 = random_vec(kC * kC * 9, 2, 0.1f), b2 = random_vec(kC, 3, 0.1f);
  BnParams bn1 = random_bn(10), bn2 = random_bn(20);
};

// x -> Conv1 -> BN1 -> Relu -> Conv2(+b2) -> BN2 -> Add(x) -> Relu -> y
std::vector<float> reference(const std::vector<float>& x, const Weights& w) {
  auto a = naive_conv(x, w.w1, {}, kC, kC, kH, 3);
  naive_bn(a, w.bn1, kEps1, kH * kH);
  relu(a);
  auto y = naive_conv(a, w.w2, w.b2, kC, kC, kH, 3);
  naive_bn(y, w.bn2, kEps2, kH * kH);
  for (size_t i = 0; i < y.size(); ++i) y[i] += x[i];
  relu(y);
  return y;
}

const char* const kBn1Names[4] = {"bn1_scale", "bn1_shift", "bn1_mean", "bn1_var"};

// The block above. BN1's parameters are Variables (kBn1Names); BN2's are Consts.
ir::Graph bn_block(const Weights& w) {
  ir::Graph g;
  g.name = "bn_block";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
  std::map<std::string, ir::Attribute> pads = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  ir::ValueId c1 = add_op(g, "Conv", {x, g.add_const("w1", tensor(w.w1, {kC, kC, 3, 3}))}, "c1", pads);
  std::vector<ir::ValueId> bn1 = {c1};
  for (const char* n : kBn1Names) bn1.push_back(g.add_variable(n, DType::kFloat32, {kC}));
  ir::ValueId n1 = add_op(g, "BatchNormalization", bn1, "n1", {{"epsilon", kEps1}});
  ir::ValueId r1 = add_op(g, "Relu", {n1}, "r1");
  ir::ValueId c2 = add_op(
      g, "Conv", {r1, g.add_const("w2", tensor(w.w2, {kC, kC, 3, 3})), g.add_const("b2", tensor(w.b2, {kC}))}, "c2", pads);
  ir::ValueId n2 = add_op(g, "BatchNormalization",
                          {c2, g.add_const("s2", tensor(w.bn2.scale, {kC})), g.add_const("t2", tensor(w.bn2.shift, {kC})),
                           g.add_const("m2", tensor(w.bn2.mean, {kC})), g.add_const("v2", tensor(w.bn2.var, {kC}))},
                          "n2", {{"epsilon", kEps2}});
  ir::ValueId s = add_op(g, "Add", {n2, x}, "s");
  g.outputs = {add_op(g, "Relu", {s}, "y")};
  return g;
}

int count_op(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == op;
  return n;
}

TEST(BatchNormFusion, FoldsIntoTheConvBeforeIt) {
  ir::Graph g = bn_block(Weights{});
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  ir::Graph without = g;
  // Without the option the BatchNorms stay, and with them in the way nothing else fuses.
  EXPECT_EQ(passes::fuse_epilogues(without), 0);
  EXPECT_EQ(count_op(without, "BatchNormalization"), 2);

  EXPECT_EQ(passes::fuse_epilogues(g, {.batchnorm = true}), 5);  // BN1+Relu; BN2+Add+Relu
  EXPECT_EQ(count_op(g, "BatchNormalization"), 0);
  EXPECT_EQ(count_op(g, "Conv"), 2);
  const ir::Node& c1 = g.nodes[static_cast<size_t>(g.value(g.find_value("r1")).producer)];
  ASSERT_EQ(c1.op, "Conv");
  ASSERT_EQ(c1.inputs.size(), 7u);  // X, W, no bias, then scale, B, mean, var
  EXPECT_EQ(c1.inputs[2], ir::kNoValue);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(g.value(c1.inputs[static_cast<size_t>(3 + k)]).name, kBn1Names[k]);
  EXPECT_EQ(c1.attr_int(passes::kAttrBatchNorm, 0), 1);
  EXPECT_FLOAT_EQ(c1.attr_float(passes::kAttrBnEpsilon, 0), kEps1);
  EXPECT_EQ(c1.attr_string(passes::kAttrActivation, ""), "Relu");

  const ir::Node& c2 = g.nodes[static_cast<size_t>(g.value(g.outputs[0]).producer)];
  ASSERT_EQ(c2.op, "Conv");
  ASSERT_EQ(c2.inputs.size(), 8u);  // ... and the residual last
  EXPECT_EQ(g.value(c2.inputs[2]).name, "b2");
  EXPECT_EQ(g.value(c2.inputs.back()).name, "x");
  EXPECT_EQ(c2.attr_int(passes::kAttrResidual, 0), 1);
  EXPECT_FLOAT_EQ(c2.attr_float(passes::kAttrBnEpsilon, 0), kEps2);
}

// A BatchNormalization that must keep its own node: training mode, a Conv output read twice,
// parameters that are not one value per channel.
TEST(BatchNormFusion, LeavesOtherBatchNormsAlone) {
  auto build = [](const std::string& variant) {
    ir::Graph g;
    ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, 4, 5, 5}));
    ir::ValueId c = add_op(g, "Conv", {x, g.add_const("w", tensor(random_vec(16, 1), {4, 4, 1, 1}))}, "c");
    int64_t n = variant == "broadcast" ? 1 : 4;
    std::vector<ir::ValueId> in = {c};
    for (const char* p : {"s", "b", "m", "v"}) in.push_back(g.add_const(p, tensor(random_vec(n, 2, 0.2f, 1.0f), {n})));
    std::map<std::string, ir::Attribute> attrs;
    if (variant == "training") attrs["training_mode"] = int64_t{1};
    ir::ValueId y = add_op(g, "BatchNormalization", in, "y", attrs);
    g.outputs = {y};
    if (variant == "shared") g.outputs.push_back(add_op(g, "Relu", {c}, "r"));
    return g;
  };
  for (const char* variant : {"training", "shared", "broadcast"}) {
    ir::Graph g = build(variant);
    (void)ir::infer_graph_types(g);  // a [1] parameter need not type-check; the pass must refuse it anyway
    EXPECT_EQ(passes::fuse_epilogues(g, {.batchnorm = true}), 0) << variant;
    EXPECT_EQ(count_op(g, "BatchNormalization"), 1) << variant;
  }
}

class FusedBatchNormPlan : public ::testing::Test {
 protected:
  FusedBatchNormPlan() : store_(slots()) {}

  static std::vector<VariableSlot> slots() {
    std::vector<VariableSlot> s;
    for (const char* n : kBn1Names) s.push_back({n, DType::kFloat32, {kC}, static_cast<uint64_t>(kC * 4)});
    return s;
  }

  // Publishes a new version with BN1's parameters set to `p`.
  void write_bn1(const BnParams& p) {
    auto update = store_.begin_update();
    const std::vector<float>* values[4] = {&p.scale, &p.shift, &p.mean, &p.var};
    for (int k = 0; k < 4; ++k) {
      auto buffer = update->stage(store_.find(kBn1Names[k]));
      ASSERT_TRUE(buffer.is_ok()) << buffer.status().message();
      std::memcpy((*buffer)->data(), values[k]->data(), kC * sizeof(float));
    }
    store_.commit(std::move(update));
  }

  std::vector<float> run(const Plan& plan, const WeightSnapshot& weights, const std::vector<float>& x) {
    std::vector<float> y(x.size());
    Status s = plan.run(weights, {x.data()}, {y.data()}, nullptr);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return y;
  }

  VariableStore store_;
};

TEST_F(FusedBatchNormPlan, MatchesNaiveLoopsAcrossARefreshOfTheParameters) {
  Weights w;
  ir::Graph g = bn_block(w);
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    auto plan = Plan::create(g, store_, threads);
    ASSERT_TRUE(plan.is_ok()) << plan.status().message();
    w.bn1 = random_bn(10);
    write_bn1(w.bn1);
    auto x = random_vec(static_cast<size_t>(kC * kH * kH), 30);
    std::vector<float> want = reference(x, w);
    EXPECT_LT(max_diff(run(**plan, *store_.current(), x), want), 1e-4f);

    // New statistics reach the next run; a snapshot pinned before still computes with the old.
    auto pinned = store_.current();
    Weights w_new = w;
    w_new.bn1 = random_bn(40);
    write_bn1(w_new.bn1);
    std::vector<float> want_new = reference(x, w_new);
    ASSERT_GT(max_diff(want, want_new), 0.05f) << "the refresh should change the output";
    EXPECT_LT(max_diff(run(**plan, *store_.current(), x), want_new), 1e-4f);
    EXPECT_LT(max_diff(run(**plan, *pinned, x), want), 1e-4f);
  }
}

// The conv kernel takes the shift in its bias (add / mul) and applies the scale as one post-op;
// a channel whose scale is 0, or so small that add / mul overflows, makes the run use its
// multiply-and-add primitive instead, and the next refresh with ordinary values goes back.
TEST_F(FusedBatchNormPlan, ParametersTheShiftInBiasCannotExpress) {
  Weights w;
  ir::Graph g = bn_block(w);
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  auto plan = Plan::create(g, store_, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  auto x = random_vec(static_cast<size_t>(kC * kH * kH), 31);

  BnParams zero_scale = random_bn(11);
  zero_scale.scale[3] = 0.0f;  // a pruned channel: y = shift - 0 for every pixel
  zero_scale.shift[3] = 0.7f;
  BnParams overflow = random_bn(12);
  overflow.scale[5] = 1e-38f;  // add / mul is about 1e39
  overflow.shift[5] = 10.0f;
  BnParams negative_scale = random_bn(13);
  for (float& s : negative_scale.scale) s = -s;
  int step = 0;
  for (const BnParams* p : {&w.bn1, &zero_scale, &overflow, &negative_scale, &zero_scale, &w.bn1}) {
    SCOPED_TRACE(step++);
    Weights now = w;
    now.bn1 = *p;
    write_bn1(now.bn1);
    std::vector<float> want = reference(x, now);
    std::vector<float> got = run(**plan, *store_.current(), x);
    EXPECT_LT(max_diff(got, want), 1e-4f);
    for (float v : got) ASSERT_TRUE(std::isfinite(v));
  }
}

// A 1-D convolution ([N, C, L]) with a BatchNorm of Consts: the per-channel post-ops in rank 3.
TEST_F(FusedBatchNormPlan, OneDimensionalConvolution) {
  constexpr int64_t len = 10;
  auto w = random_vec(kC * kC, 50, 0.3f);
  BnParams p = random_bn(60);
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, len}));
  ir::ValueId c = add_op(g, "Conv", {x, g.add_const("w", tensor(w, {kC, kC, 1}))}, "c");
  g.outputs = {add_op(g, "BatchNormalization",
                      {c, g.add_const("s", tensor(p.scale, {kC})), g.add_const("b", tensor(p.shift, {kC})),
                       g.add_const("m", tensor(p.mean, {kC})), g.add_const("v", tensor(p.var, {kC}))},
                      "y")};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  auto plan = Plan::create(g, store_, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  auto xv = random_vec(static_cast<size_t>(kC * len), 61);
  std::vector<float> want(xv.size());
  for (int64_t o = 0; o < kC; ++o)
    for (int64_t t = 0; t < len; ++t) {
      double acc = 0;
      for (int64_t i = 0; i < kC; ++i) acc += double(w[static_cast<size_t>(o * kC + i)]) * xv[static_cast<size_t>(i * len + t)];
      want[static_cast<size_t>(o * len + t)] = static_cast<float>(acc);
    }
  naive_bn(want, p, 1e-5f, len);
  EXPECT_LT(max_diff(run(**plan, *store_.current(), xv), want), 1e-4f);
}

// Gemm -> BatchNormalization -> Relu (BatchNorm1d after a Linear layer): the bias path
// (alpha = beta = 1), the C-summed path (alpha, beta != 1, the BatchNorm after the sum post-op)
// and an empty reduction (K = 0: the kernel applies the BatchNorm to beta * C itself).
TEST_F(FusedBatchNormPlan, GemmBatchNormRelu) {
  struct Case {
    int64_t m, k;
    float alpha, beta;
  };
  for (const Case& c : {Case{6, 20, 1.0f, 1.0f}, Case{6, 20, 0.5f, 2.0f}, Case{3, 0, 1.0f, 1.5f}}) {
    SCOPED_TRACE(testing::Message() << "k " << c.k << " alpha " << c.alpha << " beta " << c.beta);
    auto a = random_vec(static_cast<size_t>(c.m * c.k), 70, 1.0f);
    auto b = random_vec(static_cast<size_t>(kC * c.k), 71, 0.3f);  // [N = kC, K], transB
    auto bias = random_vec(kC, 72, 0.5f);
    ir::Graph g;
    ir::ValueId x = g.add_data("a", DType::kFloat32, Shape(Dims{c.m, c.k}));
    ir::ValueId gemm = add_op(g, "Gemm", {x, g.add_const("b", tensor(b, {kC, c.k})), g.add_const("c", tensor(bias, {kC}))},
                              "gemm", {{"transB", int64_t{1}}, {"alpha", c.alpha}, {"beta", c.beta}});
    std::vector<ir::ValueId> bn = {gemm};
    for (const char* n : kBn1Names) bn.push_back(g.add_variable(n, DType::kFloat32, {kC}));
    ir::ValueId y = add_op(g, "BatchNormalization", bn, "bn", {{"epsilon", kEps1}});
    g.outputs = {add_op(g, "Relu", {y}, "y")};
    ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
    ir::Graph fused = g;
    ASSERT_EQ(passes::fuse_epilogues(fused, {.batchnorm = true}), 2);
    const ir::Node& node = fused.nodes[static_cast<size_t>(fused.value(fused.outputs[0]).producer)];
    EXPECT_EQ(node.op, "Gemm");
    EXPECT_EQ(node.inputs.size(), 7u);

    auto plan = Plan::create(g, store_, 2);
    ASSERT_TRUE(plan.is_ok()) << plan.status().message();
    for (uint32_t seed : {80u, 90u}) {  // two parameter sets: the second is a refresh
      BnParams p = random_bn(seed);
      write_bn1(p);
      std::vector<float> want(static_cast<size_t>(c.m * kC));
      for (int64_t i = 0; i < c.m; ++i)
        for (int64_t j = 0; j < kC; ++j) {
          double acc = 0;
          for (int64_t q = 0; q < c.k; ++q) acc += double(a[static_cast<size_t>(i * c.k + q)]) * b[static_cast<size_t>(j * c.k + q)];
          const auto col = static_cast<size_t>(j);
          double v = c.alpha * acc + c.beta * bias[col];
          v = (v - p.mean[col]) / std::sqrt(double(p.var[col]) + kEps1) * p.scale[col] + p.shift[col];
          want[static_cast<size_t>(i * kC + j)] = static_cast<float>(std::max(v, 0.0));
        }
      std::vector<float> got(want.size());
      Status st = (*plan)->run(*store_.current(), {a.data()}, {got.data()}, nullptr);
      ASSERT_TRUE(st.is_ok()) << st.message();
      EXPECT_LT(max_diff(got, want), 1e-4f) << "seed " << seed;
    }
  }
}

// MatMul keeps its BatchNorm: only Conv and Gemm kernels apply one.
TEST(BatchNormFusion, LeavesMatMulAlone) {
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{4, 8}));
  ir::ValueId mm = add_op(g, "MatMul", {x, g.add_const("w", tensor(random_vec(8 * 6, 1), {8, 6}))}, "mm");
  std::vector<ir::ValueId> in = {mm};
  for (const char* p : {"s", "b", "m", "v"}) in.push_back(g.add_const(p, tensor(random_vec(6, 2, 0.2f, 1.0f), {6})));
  g.outputs = {add_op(g, "BatchNormalization", in, "y")};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  EXPECT_EQ(passes::fuse_epilogues(g, {.matmul_bias = true, .batchnorm = true}), 0);
}

}  // namespace
}  // namespace lw::rt
