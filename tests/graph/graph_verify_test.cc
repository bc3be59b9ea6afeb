// ir::Graph::verify on the names it must keep unique: value names, and Variable names.
#include <gtest/gtest.h>

#include "graph/ir.h"
#include "support/graph_builder.h"

namespace lw::ir {
namespace {

using test::add_op;

TEST(GraphVerify, RefusesAValueNameUsedTwiceAndNamesIt) {
  Graph g;
  g.name = "dup";
  ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{2}));
  ValueId a = add_op(g, "Relu", {x}, "a");
  g.outputs = {add_op(g, "Relu", {a}, "b")};
  ASSERT_TRUE(g.verify().is_ok()) << g.verify().message();
  g.value(a).name = g.value(g.outputs[0]).name;  // "b"
  Status s = g.verify();
  EXPECT_EQ(s.code(), StatusCode::kParseModel);
  EXPECT_NE(s.message().find("value name 'b' is used twice"), std::string::npos) << s.message();
  g.value(a).name.clear();
  s = g.verify();
  EXPECT_NE(s.message().find("has no name"), std::string::npos) << s.message();
}

TEST(GraphVerify, RefusesAVariableDeclaredTwice) {
  Graph g;
  g.name = "vars";
  ValueId w1 = g.add_variable("w", DType::kFloat32, {2});
  ValueId w2 = g.add_variable("w2", DType::kFloat32, {2});
  g.outputs = {add_op(g, "Add", {w1, w2}, "y")};
  ASSERT_TRUE(g.verify().is_ok()) << g.verify().message();
  g.value(w2).name = g.value(w1).name;  // two Variable nodes now declare 'w' (and two values share the name)
  Status s = g.verify();
  EXPECT_EQ(s.code(), StatusCode::kParseModel);
  EXPECT_NE(s.message().find("'w'"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace lw::ir
