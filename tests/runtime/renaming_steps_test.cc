// Reshape-like steps between activations share their input's memory instead of copying it
// (runtime/plan.cc): the results stay those of copies, also when the input is read again after
// the rename and when the renamed value is read by the step that consumes the original, and
// the arena no longer holds the two names apart.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "graph/op_registry.h"
#include "runtime/plan.h"
#include "support/float_data.h"
#include "support/graph_builder.h"

namespace lw::rt {
namespace {

using test::add_op;
using test::random_vec;

ir::TensorData shape_tensor(const std::vector<int64_t>& v) {
  return {DType::kInt64, Dims{static_cast<int64_t>(v.size())}, Blob::copy_of(v.data(), v.size() * sizeof(int64_t))};
}

// a = Relu(x) [64, 1024]; b = Reshape(a) [1024, 64]; c = Relu(b) is the only output: a and b
// are one buffer of 256 KB, c goes straight to the caller.
TEST(RenamingSteps, ReshapeSharesTheArena) {
  ir::Graph g;
  g.name = "rename";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{64, 1024}));
  ir::ValueId a = add_op(g, "Relu", {x}, "a");
  ir::ValueId b = add_op(g, "Reshape", {a, g.add_const("shape", shape_tensor({1024, 64}))}, "b");
  g.outputs = {add_op(g, "Relu", {b}, "c")};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  VariableStore store({});
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  EXPECT_LT((*plan)->arena_bytes(), 2u * 64 * 1024 * sizeof(float)) << "a and b should be one buffer: " << (*plan)->arena_bytes();

  auto xv = random_vec(64 * 1024, 1);
  std::vector<float> y(xv.size(), -1.0f);
  ASSERT_TRUE((*plan)->run(*store.current(), {xv.data()}, {y.data()}, nullptr).is_ok());
  for (size_t i = 0; i < xv.size(); ++i) ASSERT_EQ(y[i], std::max(xv[i], 0.0f)) << i;
}

// The renamed value and its original are both read after the rename, by different steps and
// by one step together, through a chain of renames (Flatten, Unsqueeze, Squeeze, Identity, a
// Transpose that moves only a dim of size 1), beside a Transpose that does move bytes:
//   a = Relu(x) [4, 6]; f = Flatten(Unsqueeze(a)) [4, 6]; s = Sigmoid(f);
//   e = Identity(Squeeze(Transpose(Unsqueeze(s, 1), perm 1 0 2))); y = Add(Add(a, f), e) read
//   with a again: y2 = Mul(y, a); and Relu(Transpose(a)) [6, 4]
TEST(RenamingSteps, OriginalsStayReadableAfterRenames) {
  ir::Graph g;
  g.name = "chain";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{4, 6}));
  ir::ValueId zero = g.add_const("zero", shape_tensor({0}));
  ir::ValueId a = add_op(g, "Relu", {x}, "a");
  ir::ValueId u = add_op(g, "Unsqueeze", {a, zero}, "u");
  ir::ValueId f = add_op(g, "Flatten", {u}, "f", {{"axis", int64_t{2}}});
  ir::ValueId s = add_op(g, "Sigmoid", {f}, "s");
  ir::ValueId su = add_op(g, "Unsqueeze", {s, g.add_const("one", shape_tensor({1}))}, "su");  // [4, 1, 6]
  ir::ValueId st = add_op(g, "Transpose", {su}, "st", {{"perm", std::vector<int64_t>{1, 0, 2}}});  // [1, 4, 6]
  ir::ValueId e = add_op(g, "Identity", {add_op(g, "Squeeze", {st, zero}, "sq")}, "e");
  ir::ValueId y = add_op(g, "Add", {add_op(g, "Add", {a, f}, "af"), e}, "y");
  g.outputs = {add_op(g, "Mul", {y, a}, "y2"), f, add_op(g, "Relu", {add_op(g, "Transpose", {a}, "t")}, "tr")};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  VariableStore store({});
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();

  auto xv = random_vec(24, 2);
  std::vector<float> y2(24, -1.0f), fo(24, -1.0f), to(24, -1.0f);
  ASSERT_TRUE((*plan)->run(*store.current(), {xv.data()}, {y2.data(), fo.data(), to.data()}, nullptr).is_ok());
  for (size_t i = 0; i < 24; ++i) {
    const float av = std::max(xv[i], 0.0f);
    const float sv = 1.0f / (1.0f + std::exp(-av));
    EXPECT_NEAR(y2[i], (av + av + sv) * av, 1e-6f) << i;
    EXPECT_EQ(fo[i], av) << i;
    EXPECT_EQ(to[i % 6 * 4 + i / 6], av) << i;
  }
}

}  // namespace
}  // namespace lw::rt
