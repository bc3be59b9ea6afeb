// compiler::fold_constants: shape arithmetic on static shapes becomes Consts; values that
// depend on dynamic dims or graph data stay computed; kernel errors on constants name the node.
#include <gtest/gtest.h>

#include <cstring>

#include "compiler/constant_folding.h"
#include "graph/op_registry.h"
#include "support/graph_builder.h"

namespace lw {
namespace {

ir::TensorData ints(const Dims& v) {
  ir::TensorData t;
  t.dtype = DType::kInt64;
  t.dims = {static_cast<int64_t>(v.size())};
  t.bytes = Blob::copy_of(v.data(), v.size() * sizeof(int64_t));
  return t;
}

ir::TensorData scalar_int(int64_t v) {
  ir::TensorData t;
  t.dtype = DType::kInt64;
  t.bytes = Blob::copy_of(&v, sizeof(v));
  return t;
}

using test::add_op;

// x -> Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape(x): the PyTorch pattern for
// x.view(x.size(0), -1).
ir::Graph flatten_graph(const Dims& x_dims) {
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(x_dims));
  ir::ValueId shape = add_op(g, "Shape", {x}, "shape");
  ir::ValueId d0 = add_op(g, "Gather", {shape, g.add_const("zero", scalar_int(0))}, "d0", {{"axis", int64_t{0}}});
  ir::ValueId u = add_op(g, "Unsqueeze", {d0, g.add_const("axes", ints({0}))}, "d0_1d");
  ir::ValueId target = add_op(g, "Concat", {u, g.add_const("minus_one", ints({-1}))}, "target", {{"axis", int64_t{0}}});
  ir::ValueId y = add_op(g, "Reshape", {x, target}, "y");
  g.outputs = {y};
  return g;
}

const ir::Node& producer(const ir::Graph& g, const std::string& value) {
  return g.nodes[static_cast<size_t>(g.value(g.find_value(value)).producer)];
}

TEST(ConstantFolding, StaticShapeArithmeticBecomesConst) {
  ir::Graph g = flatten_graph({2, 3, 4});
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  EXPECT_FALSE(g.value(g.find_value("y")).shape.is_static());  // before folding: [2?, ?] at best
  auto folded = compiler::fold_constants(g);
  ASSERT_TRUE(folded.is_ok()) << folded.status().message();
  EXPECT_EQ(*folded, 4);  // Shape, Gather, Unsqueeze, Concat
  const ir::Node& t = producer(g, "target");
  ASSERT_EQ(t.op, ir::kOpConst);
  const ir::TensorData* data = t.attr_tensor("value");
  ASSERT_NE(data, nullptr);
  ASSERT_EQ(data->dims, (Dims{2}));
  EXPECT_EQ(data->as<int64_t>()[0], 2);
  EXPECT_EQ(data->as<int64_t>()[1], -1);
  EXPECT_EQ(producer(g, "y").op, "Reshape");  // depends on x's data
  EXPECT_EQ(g.value(g.find_value("y")).shape, Shape(Dims{2, 12}));
  EXPECT_TRUE(g.verify().is_ok());
}

TEST(ConstantFolding, DynamicDimsAreNotFolded) {
  ir::Graph g = flatten_graph({kDynamicDim, 3, 4});
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  auto folded = compiler::fold_constants(g);
  ASSERT_TRUE(folded.is_ok()) << folded.status().message();
  EXPECT_EQ(*folded, 0);
  EXPECT_EQ(producer(g, "shape").op, "Shape");
  EXPECT_EQ(producer(g, "target").op, "Concat");
}

TEST(ConstantFolding, RangeAndConstantOfShapeOnConstants) {
  ir::Graph g;
  ir::ValueId r = add_op(g, "Range",
                         {g.add_const("s", scalar_int(0)), g.add_const("l", scalar_int(5)), g.add_const("d", scalar_int(2))},
                         "r");
  ir::ValueId c = add_op(g, "ConstantOfShape", {g.add_const("dims", ints({2, 2}))}, "c");
  g.outputs = {r, c};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  auto folded = compiler::fold_constants(g);
  ASSERT_TRUE(folded.is_ok()) << folded.status().message();
  EXPECT_EQ(*folded, 2);
  const ir::TensorData* rt = producer(g, "r").attr_tensor("value");
  ASSERT_NE(rt, nullptr);
  EXPECT_EQ(std::vector<int64_t>(rt->as<int64_t>(), rt->as<int64_t>() + 3), (std::vector<int64_t>{0, 2, 4}));
  const ir::TensorData* ct = producer(g, "c").attr_tensor("value");
  ASSERT_NE(ct, nullptr);
  EXPECT_EQ(ct->dtype, DType::kFloat32);
  EXPECT_EQ(ct->dims, (Dims{2, 2}));
}

TEST(ConstantFolding, KernelErrorOnConstantsNamesTheNode) {
  ir::Graph g;
  ir::ValueId q = add_op(g, "Div", {g.add_const("a", ints({4})), g.add_const("b", ints({0}))}, "q");
  g.outputs = {q};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  auto folded = compiler::fold_constants(g);
  ASSERT_FALSE(folded.is_ok());
  EXPECT_NE(folded.status().message().find("q_node"), std::string::npos) << folded.status().message();
}

}  // namespace
}  // namespace lw
