// Activation fusion: Mul(x, Sigmoid(x)) -> SiLU and Mul(x, HardSigmoid(x; 1/6, 1/2)) ->
// HardSwish, either operand order, and the graphs that only look like it (another HardSigmoid,
// a gate read twice or a graph output, a gate of another value) left alone. The fused graph
// runs through a Plan against a double loop over the two-node forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "compiler/passes/activation_fusion.h"
#include "compiler/passes/epilogue_fusion.h"
#include "graph/op_registry.h"
#include "runtime/plan.h"
#include "support/float_data.h"
#include "support/graph_builder.h"

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

}  // namespace
}  // namespace lw::rt
