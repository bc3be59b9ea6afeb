#include <gtest/gtest.h>

#include "compiler/bundle_builder.h"
#include "compiler/refreshable.h"

namespace lw::compiler {
namespace {

ir::TensorData floats(const Dims& dims, float start) {
  size_t n = 1;
  for (int64_t d : dims) n *= static_cast<size_t>(d);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return {DType::kFloat32, dims, Blob::copy_of(v.data(), n * sizeof(float))};
}

// y = x @ W + b, with a Reshape whose shape comes from an int64 Const.
ir::Graph make_graph() {
  ir::Graph g;
  g.name = "net";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape({2, 3}));
  ir::ValueId w = g.add_const("W", floats({3, 4}, 0));
  ir::ValueId b = g.add_const("b", floats({4}, 100));
  int64_t shape[2] = {4, 2};
  ir::ValueId s = g.add_const("shape", {DType::kInt64, {2}, Blob::copy_of(shape, sizeof(shape))});
  ir::ValueId mm = g.add_value("mm", DType::kUndefined, Shape::unknown_rank());
  g.add_node({"MatMul", "matmul", {x, w}, {mm}, {}});
  ir::ValueId y = g.add_value("y", DType::kUndefined, Shape::unknown_rank());
  g.add_node({"Add", "add", {mm, b}, {y}, {}});
  ir::ValueId r = g.add_value("r", DType::kUndefined, Shape::unknown_rank());
  g.add_node({"Reshape", "reshape", {y, s}, {r}, {}});
  g.outputs = {r};
  return g;
}

TEST(Refreshable, WeightsAreFloatConstsThatFeedData) {
  ir::Graph g = make_graph();
  EXPECT_EQ(weight_const_names(g), (std::vector<std::string>{"W", "b"}));
}

TEST(Refreshable, ScalarConstsAreWeightsOnlyWhenAskedFor) {
  ir::Graph g = make_graph();
  // y2 = Clip(r, 0, 6): the bounds are one-element float Consts.
  float lo = 0.f, hi = 6.f;
  ir::ValueId vlo = g.add_const("lo", {DType::kFloat32, {}, Blob::copy_of(&lo, 4)});
  ir::ValueId vhi = g.add_const("hi", {DType::kFloat32, {1}, Blob::copy_of(&hi, 4)});
  ir::ValueId y2 = g.add_value("y2", DType::kUndefined, Shape::unknown_rank());
  g.add_node({"Clip", "clip", {g.outputs[0], vlo, vhi}, {y2}, {}});
  g.outputs = {y2};
  EXPECT_EQ(weight_const_names(g), (std::vector<std::string>{"W", "b"}));
  EXPECT_EQ(weight_const_names(g, true), (std::vector<std::string>{"W", "b", "lo", "hi"}));
}

TEST(Refreshable, ConversionBuildsTheThreeGraphsAsCannDoes) {
  ir::Graph g = make_graph();
  auto r = convert_to_weight_refreshable(g, {"b", "W"});
  ASSERT_TRUE(r.is_ok()) << r.status().message();

  // Inference: the Consts became Variables named C_var, nothing else changed.
  const ir::Graph& inf = r->infer;
  ASSERT_GE(inf.find_variable_node("W_var"), 0);
  ASSERT_GE(inf.find_variable_node("b_var"), 0);
  EXPECT_EQ(inf.find_value("W"), ir::kNoValue);
  EXPECT_EQ(inf.nodes[static_cast<size_t>(inf.find_variable_node("W_var"))].attr_string("source", ""), "W");
  EXPECT_TRUE(inf.verify().is_ok());
  EXPECT_EQ(inf.inputs.size(), 1u);

  // Init: no inputs or outputs, Assign(C_var, C) with C's data (shared, not copied).
  const ir::Graph& init = r->init;
  EXPECT_TRUE(init.inputs.empty());
  EXPECT_TRUE(init.outputs.empty());
  int assigns = 0;
  for (const auto& n : init.nodes) assigns += n.op == ir::kOpAssign;
  EXPECT_EQ(assigns, 2);
  const ir::TensorData* w_init = init.nodes[static_cast<size_t>(init.value(init.find_value("W")).producer)].attr_tensor("value");
  const ir::TensorData* w_orig = g.nodes[static_cast<size_t>(g.value(g.find_value("W")).producer)].attr_tensor("value");
  EXPECT_EQ(w_init->bytes.data, w_orig->bytes.data);
  EXPECT_TRUE(init.verify().is_ok());

  // Update: input i is "<name list[i]>_var_data", unknown rank, feeding a skipping Assign.
  const ir::Graph& upd = r->update;
  ASSERT_EQ(upd.inputs.size(), 2u);
  EXPECT_EQ(upd.value(upd.inputs[0]).name, "b_var_data");
  EXPECT_EQ(upd.value(upd.inputs[1]).name, "W_var_data");
  EXPECT_FALSE(upd.value(upd.inputs[0]).shape.rank_known());
  for (const auto& n : upd.nodes) {
    if (n.op == ir::kOpAssign) {
      EXPECT_EQ(n.attr_int("skip_if_empty", 0), 1);
    }
  }
  EXPECT_TRUE(upd.outputs.empty());
  EXPECT_TRUE(upd.verify().is_ok());
}

TEST(Refreshable, ConversionErrorsAsCann) {
  ir::Graph g = make_graph();
  auto empty = convert_to_weight_refreshable(g, {});
  ASSERT_FALSE(empty.is_ok());
  EXPECT_NE(empty.status().message().find("empty"), std::string::npos);
  auto unknown = convert_to_weight_refreshable(g, {"W", "nope"});
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("'nope'"), std::string::npos);
  auto not_const = convert_to_weight_refreshable(g, {"mm"});
  ASSERT_FALSE(not_const.is_ok());
  EXPECT_NE(not_const.status().message().find("'mm'"), std::string::npos);
  auto dup = convert_to_weight_refreshable(g, {"W", "W"});
  ASSERT_FALSE(dup.is_ok());
  EXPECT_NE(dup.status().message().find("twice"), std::string::npos);
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
}

TEST(BundleBuild, MergesVariablesAndDerivesRoles) {
  auto r = convert_to_weight_refreshable(make_graph(), {"W", "b"});
  ASSERT_TRUE(r.is_ok());
  auto model = build_bundle({r->infer, r->init, r->update});
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  ASSERT_EQ(model->graphs.size(), 3u);
  EXPECT_EQ(model->graphs[0].role, ir::GraphRole::kInference);
  EXPECT_EQ(model->graphs[1].role, ir::GraphRole::kWeightInit);
  EXPECT_EQ(model->graphs[2].role, ir::GraphRole::kWeightUpdate);
  ASSERT_EQ(model->variables.size(), 2u);
  EXPECT_EQ(model->variables[0].name, "W_var");
  EXPECT_EQ(model->variables[0].source, "W");
  EXPECT_EQ(model->variables[0].update_input, 0);
  EXPECT_EQ(model->variables[1].update_input, 1);
  EXPECT_EQ(model->variables[0].dims, (Dims{3, 4}));
  // Shapes were inferred for the inference graph.
  const ir::Graph& inf = model->graphs[0].graph;
  EXPECT_EQ(inf.value(inf.outputs[0]).shape, Shape({4, 2}));
}

TEST(BundleBuild, RejectsTooFewGraphsAndDisagreeingVariables) {
  auto r = convert_to_weight_refreshable(make_graph(), {"W"});
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(build_bundle({r->infer}).is_ok());
  ir::Graph other;
  other.name = "other";
  other.add_variable("W_var", DType::kFloat32, {4, 3});
  auto bad = build_bundle({r->infer, other});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("W_var"), std::string::npos);
}

TEST(BundleBuild, ListsEveryUnsupportedOp) {
  ir::Graph g;
  g.name = "g";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape({2}));
  ir::ValueId a = g.add_value("a", DType::kUndefined, Shape::unknown_rank());
  g.add_node({"FancyOp", "f", {x}, {a}, {}});
  ir::ValueId b = g.add_value("b", DType::kUndefined, Shape::unknown_rank());
  g.add_node({"OtherOp", "o", {a}, {b}, {}});
  g.outputs = {b};
  auto model = build_plain_model(g);
  ASSERT_FALSE(model.is_ok());
  EXPECT_EQ(model.status().code(), StatusCode::kOpNotFound);
  EXPECT_NE(model.status().message().find("FancyOp"), std::string::npos);
  EXPECT_NE(model.status().message().find("OtherOp"), std::string::npos);
}

}  // namespace
}  // namespace lw::compiler
