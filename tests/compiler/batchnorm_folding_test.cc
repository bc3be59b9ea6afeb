// Build-time BatchNorm folding (compiler/passes/batchnorm_folding.h): Conv + BatchNormalization
// over Consts become one Conv whose folded Consts give the numbers of naive loops; anything
// refreshable (a Variable) in the pair keeps the BatchNormalization; a Const another node
// reads survives for it; and build_bundle folds exactly the pairs left out of the refresh list.
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/bundle_builder.h"
#include "compiler/passes/batchnorm_folding.h"
#include "compiler/refreshable.h"
#include "graph/op_registry.h"
#include "runtime/plan.h"
#include "support/float_data.h"
#include "support/graph_builder.h"
#include "support/naive_conv.h"

namespace lw::passes {
namespace {

using test::add_op;
using test::max_diff;
using test::naive_conv;
using test::random_vec;
using test::tensor;

constexpr int64_t kC = 8, kH = 6;
constexpr float kEps = 1e-3f;

struct Pair {
  std::vector<float> w = random_vec(kC * kC * 9, 1, 0.2f), b = random_vec(kC, 2, 0.2f);
  std::vector<float> scale = random_vec(kC, 3, 0.5f, 1.0f), shift = random_vec(kC, 4, 0.3f);
  std::vector<float> mean = random_vec(kC, 5, 0.5f), var = random_vec(kC, 6, 0.4f, 1.0f);
};

// BatchNorm(Conv(in)) named `name`; `bias` false leaves the Conv without B.
ir::ValueId conv_bn(ir::Graph& g, ir::ValueId in, const Pair& p, const std::string& name, bool bias = true,
                    ir::ValueId w = ir::kNoValue) {
  if (w == ir::kNoValue) w = g.add_const(name + ".weight", tensor(p.w, {kC, kC, 3, 3}));
  std::vector<ir::ValueId> conv_in = {in, w};
  if (bias) conv_in.push_back(g.add_const(name + ".bias", tensor(p.b, {kC})));
  ir::ValueId c = add_op(g, "Conv", conv_in, name + "_conv", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  return add_op(g, "BatchNormalization",
                {c, g.add_const(name + ".bn.weight", tensor(p.scale, {kC})),
                 g.add_const(name + ".bn.bias", tensor(p.shift, {kC})),
                 g.add_const(name + ".bn.running_mean", tensor(p.mean, {kC})),
                 g.add_const(name + ".bn.running_var", tensor(p.var, {kC}))},
                name, {{"epsilon", kEps}});
}

std::vector<float> reference(const std::vector<float>& x, const Pair& p, bool bias = true) {
  auto y = naive_conv(x, p.w, bias ? p.b : std::vector<float>{}, kC, kC, kH, 3);
  for (int64_t c = 0; c < kC; ++c)
    for (int64_t i = 0; i < kH * kH; ++i) {
      auto k = static_cast<size_t>(c);
      float& v = y[static_cast<size_t>(c * kH * kH + i)];
      v = static_cast<float>((double(v) - p.mean[k]) / std::sqrt(double(p.var[k]) + kEps) * p.scale[k] + p.shift[k]);
    }
  return y;
}

int count_op(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == op;
  return n;
}

// Runs `g` (one input, outputs of x's size) on the CPU backend.
std::vector<std::vector<float>> run(const ir::Graph& g, const std::vector<float>& x) {
  rt::VariableStore store({});
  auto plan = rt::Plan::create(g, store, 2);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  std::vector<std::vector<float>> outs(g.outputs.size(), std::vector<float>(x.size()));
  if (!plan.is_ok()) return outs;
  std::vector<void*> ptrs;
  for (auto& o : outs) ptrs.push_back(o.data());
  Status s = (*plan)->run(*store.current(), {x.data()}, ptrs, nullptr);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return outs;
}

ir::Graph typed(ir::Graph g) {
  EXPECT_TRUE(ir::infer_graph_types(g).is_ok());
  return g;
}

TEST(BatchNormFolding, FoldsConstPairsIntoTheConv) {
  for (bool bias : {true, false}) {
    SCOPED_TRACE(bias ? "with bias" : "without bias");
    Pair p;
    ir::Graph g;
    ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
    g.outputs = {conv_bn(g, x, p, "blk", bias)};
    g = typed(std::move(g));
    auto folded = fold_batchnorms(g);
    ASSERT_TRUE(folded.is_ok()) << folded.status().message();
    EXPECT_EQ(*folded, 1);
    ASSERT_TRUE(g.verify().is_ok()) << g.verify().message();
    EXPECT_EQ(count_op(g, "BatchNormalization"), 0);
    EXPECT_EQ(count_op(g, ir::kOpConst), 2);  // W' and B'; the six originals are gone
    EXPECT_EQ(g.value(g.outputs[0]).name, "blk");  // the graph output keeps its name
    auto x_data = random_vec(static_cast<size_t>(kC * kH * kH), 7);
    EXPECT_LT(max_diff(run(g, x_data)[0], reference(x_data, p, bias)), 1e-4f);
  }
}

TEST(BatchNormFolding, KeepsPairsWithAVariable) {
  Pair p;
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
  g.outputs = {conv_bn(g, x, p, "blk", true, g.add_variable("W", DType::kFloat32, {kC, kC, 3, 3}))};
  g = typed(std::move(g));
  auto folded = fold_batchnorms(g);
  ASSERT_TRUE(folded.is_ok());
  EXPECT_EQ(*folded, 0);
  EXPECT_EQ(count_op(g, "BatchNormalization"), 1);
}

// Two convolutions read one weight Const; only the first has a BatchNorm after it.
TEST(BatchNormFolding, LeavesASharedWeightToItsOtherReader) {
  Pair p;
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
  ir::ValueId w = g.add_const("shared.weight", tensor(p.w, {kC, kC, 3, 3}));
  ir::ValueId y1 = conv_bn(g, x, p, "a", false, w);
  ir::ValueId y2 = add_op(g, "Conv", {x, w}, "b", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  g.outputs = {y1, y2};
  g = typed(std::move(g));
  ASSERT_EQ(*fold_batchnorms(g), 1);
  ASSERT_TRUE(g.verify().is_ok());
  EXPECT_NE(g.find_value("shared.weight"), ir::kNoValue);
  auto x_data = random_vec(static_cast<size_t>(kC * kH * kH), 8);
  auto out = run(g, x_data);
  EXPECT_LT(max_diff(out[0], reference(x_data, p, false)), 1e-4f);
  EXPECT_LT(max_diff(out[1], naive_conv(x_data, p.w, {}, kC, kC, kH, 3)), 1e-4f);
}

// The refreshable conversion decides: a pair whose tensors all stayed Consts folds when the
// bundle is built; a pair with a refreshable tensor keeps its BatchNormalization.
TEST(BatchNormFolding, BuildBundleFoldsWhatIsNotRefreshable) {
  Pair p1, p2;
  p2.w = random_vec(p2.w.size(), 11, 0.2f);
  ir::Graph g;
  g.name = "net";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
  ir::ValueId a = conv_bn(g, x, p1, "one");
  g.outputs = {conv_bn(g, a, p2, "two")};
  g = typed(std::move(g));
  auto graphs = compiler::convert_to_weight_refreshable(g, {"two.weight", "two.bn.running_var"});
  ASSERT_TRUE(graphs.is_ok()) << graphs.status().message();
  std::vector<ir::Graph> list;
  list.push_back(std::move(graphs->infer));
  list.push_back(std::move(graphs->init));
  list.push_back(std::move(graphs->update));
  auto model = compiler::build_bundle(std::move(list));
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  const ir::Graph& infer = model->graphs[0].graph;
  EXPECT_EQ(count_op(infer, "BatchNormalization"), 1);
  for (const ir::Node& n : infer.nodes) {
    if (n.op == "BatchNormalization") {
      EXPECT_EQ(n.name, "two_node");
    }
  }
  EXPECT_EQ(infer.find_value("one.bn.running_mean"), ir::kNoValue);
  EXPECT_NE(infer.find_value("two.bn.running_mean"), ir::kNoValue);
  EXPECT_EQ(model->variables.size(), 2u);
}

}  // namespace
}  // namespace lw::passes
