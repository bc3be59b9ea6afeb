// Activation fusion: Mul(x, Sigmoid(x)) -> SiLU and Mul(x, HardSigmoid(x; 1/6, 1/2)) ->
// HardSwish, either operand order, and the graphs that only look like it (another HardSigmoid,
// a gate read twice or a graph output, a gate of another value) left alone. The fused graph
// runs through a Plan against a double loop over the two-node forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "compiler/passes/activation_fusion.h"
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
using test::random_vec;

constexpr int64_t kN = 1003;  // 8 * 125 + 3: the 8-lane code and its scalar tail

// The op that produces `v` in `g`.
const std::string& producer_op(const ir::Graph& g, ir::ValueId v) {
  return g.nodes[static_cast<size_t>(g.value(v).producer)].op;
}

TEST(ActivationFusion, SiLUAndHardSwishPairsBecomeOneNodeAndMatchTheirParts) {
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{kN}));
  ir::ValueId silu = add_op(g, "Mul", {x, add_op(g, "Sigmoid", {x}, "sig")}, "silu");
  ir::ValueId silu2 = add_op(g, "Mul", {add_op(g, "Sigmoid", {silu}, "sig2"), silu}, "silu2");  // gate first
  ir::ValueId hs = add_op(
      g, "Mul", {silu2, add_op(g, "HardSigmoid", {silu2}, "hsig", {{"alpha", 1.0f / 6.0f}, {"beta", 0.5f}})}, "hswish");
  g.outputs = {hs};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  ir::Graph fused = g;
  EXPECT_EQ(passes::fuse_activations(fused), 3);
  EXPECT_EQ(producer_op(fused, silu), passes::kOpSiLU);
  EXPECT_EQ(producer_op(fused, silu2), passes::kOpSiLU);
  EXPECT_EQ(producer_op(fused, hs), "HardSwish");
  for (const ir::Node& n : fused.nodes)
    EXPECT_TRUE(n.op != "Sigmoid" && n.op != "HardSigmoid" && n.op != "Mul") << n.op << " left";

  VariableStore store({});
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  std::vector<float> xv = random_vec(kN, 5, 8.0f);
  xv[0] = NAN;
  xv[1] = -INFINITY;
  xv[2] = 100.0f;
  std::vector<float> got(kN);
  ASSERT_TRUE((*plan)->run(*store.current(), {xv.data()}, {got.data()}, nullptr).is_ok());
  for (int64_t i = 0; i < kN; ++i) {
    const size_t k = static_cast<size_t>(i);
    const double v = xv[k];
    const double a = v / (1.0 + std::exp(-v));
    const double b = a / (1.0 + std::exp(-a));
    const double want = b * std::min(1.0, std::max(0.0, b / 6.0 + 0.5));
    if (std::isnan(want)) {  // x NaN, and -inf * sigmoid(-inf) = -inf * 0
      EXPECT_TRUE(std::isnan(got[k])) << "x = " << v << ": " << got[k] << " where NaN is due";
    } else {
      EXPECT_NEAR(got[k], want, 1e-5 * std::max(1.0, std::fabs(want))) << "x = " << v;
    }
  }
}

TEST(ActivationFusion, LookAlikesStayAsTheyAre) {
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{kN}));
  ir::ValueId other = g.add_data("other", DType::kFloat32, Shape(Dims{kN}));
  // Another HardSigmoid (ONNX's default alpha 0.2).
  ir::ValueId a = add_op(g, "Mul", {x, add_op(g, "HardSigmoid", {x}, "hsig")}, "a");
  // A gate read twice.
  ir::ValueId sig = add_op(g, "Sigmoid", {x}, "sig");
  ir::ValueId b = add_op(g, "Mul", {x, sig}, "b");
  ir::ValueId c = add_op(g, "Add", {sig, b}, "c");
  // A gate of another value.
  ir::ValueId d = add_op(g, "Mul", {other, add_op(g, "Sigmoid", {x}, "sig_x")}, "d");
  // A gate that is a graph output.
  ir::ValueId out_gate = add_op(g, "Sigmoid", {x}, "out_gate");
  ir::ValueId e = add_op(g, "Mul", {x, out_gate}, "e");
  g.outputs = {a, c, d, e, out_gate};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  EXPECT_EQ(passes::fuse_activations(g), 0);
  for (ir::ValueId v : {a, b, d, e}) EXPECT_EQ(producer_op(g, v), "Mul") << g.value(v).name;
}

// Conv -> SiLU chains: the SiLU joins the Conv's epilogue (kAttrActivation "SiLU"), applied in
// registers by liveweight's kernels (a 3 x 3 convolution, and one of 2 groups of 8 channels on
// AVX-512) or after the kernel (oneDNN's primitive, AVX2's blocked kernels), against naive loops.
TEST(ActivationFusion, SiLUAfterAConvJoinsItsEpilogue) {
  constexpr int64_t kC = 16, kH = 8, kHalf = kC / 2;
  const auto w1 = random_vec(kC * kC * 9, 11, 0.2f), b1 = random_vec(kC, 12, 0.2f);
  const auto w2 = random_vec(kC * kHalf * 9, 13, 0.2f), b2 = random_vec(kC, 14, 0.2f);
  ir::Graph g;
  const std::map<std::string, ir::Attribute> pads = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  auto silu = [&](ir::ValueId v, const std::string& name) {
    return add_op(g, "Mul", {v, add_op(g, "Sigmoid", {v}, name + "_gate")}, name);
  };
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
  ir::ValueId c1 = add_op(
      g, "Conv", {x, g.add_const("w1", test::tensor(w1, {kC, kC, 3, 3})), g.add_const("b1", test::tensor(b1, {kC}))},
      "c1", pads);
  ir::ValueId s1 = silu(c1, "s1");
  std::map<std::string, ir::Attribute> grouped = pads;
  grouped["group"] = int64_t{2};
  ir::ValueId c2 =
      add_op(g, "Conv",
             {s1, g.add_const("w2", test::tensor(w2, {kC, kHalf, 3, 3})), g.add_const("b2", test::tensor(b2, {kC}))},
             "c2", grouped);
  ir::ValueId y = silu(c2, "y");
  g.outputs = {y};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  ir::Graph fused = g;
  passes::fuse_activations(fused);
  passes::fuse_epilogues(fused, {.batchnorm = true});
  for (ir::ValueId v : {s1, y}) {
    const ir::Node& n = fused.nodes[static_cast<size_t>(fused.value(v).producer)];
    EXPECT_EQ(n.op, "Conv") << g.value(v).name;
    EXPECT_EQ(n.attr_string(passes::kAttrActivation, ""), "SiLU") << g.value(v).name;
  }

  VariableStore store({});
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  const auto xv = random_vec(static_cast<size_t>(kC * kH * kH), 15);
  std::vector<float> got(static_cast<size_t>(kC * kH * kH));
  ASSERT_TRUE((*plan)->run(*store.current(), {xv.data()}, {got.data()}, nullptr).is_ok());

  auto apply_silu = [](std::vector<float> v) {
    for (float& e : v) e = static_cast<float>(e / (1.0 + std::exp(-double{e})));
    return v;
  };
  const auto a = apply_silu(test::naive_conv(xv, w1, b1, kC, kC, kH, 3));
  const auto want = apply_silu(test::naive_conv(a, w2, b2, kC, kC, kH, 3, /*groups=*/2));
  EXPECT_LT(max_diff(got, want), 1e-4f);
}

}  // namespace
}  // namespace lw::rt
