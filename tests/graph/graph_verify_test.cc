// ir::Graph::verify on the names it must keep unique: value names, and Variable names; and
// Graph::consumers, the index of which nodes read each value.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

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

// Each value's readers as (node, input slot), in node order, against a naive scan of the nodes.
TEST(GraphConsumers, ListsEveryReadInNodeOrder) {
  Graph g;
  ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{2}));
  ValueId a = add_op(g, "Relu", {x}, "a");
  ValueId b = add_op(g, "Add", {a, a}, "b");  // one node reading a twice
  ValueId c = add_op(g, "Mul", {x, b}, "c");
  ValueId unused = add_op(g, "Relu", {c}, "unused");
  g.outputs = {add_op(g, "Sub", {c, a}, "y")};
  ConsumerIndex index = g.consumers();
  ASSERT_EQ(index.size(), g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) {
    std::vector<std::pair<int32_t, int32_t>> want;
    for (size_t n = 0; n < g.nodes.size(); ++n)
      for (size_t s = 0; s < g.nodes[n].inputs.size(); ++s)
        if (g.nodes[n].inputs[s] == static_cast<ValueId>(v)) want.push_back({static_cast<int32_t>(n), static_cast<int32_t>(s)});
    std::vector<std::pair<int32_t, int32_t>> got(index[v].begin(), index[v].end());
    EXPECT_EQ(got, want) << "value " << v;
    EXPECT_EQ(index[v].size(), want.size());
    EXPECT_EQ(index[v].empty(), want.empty());
  }
  EXPECT_EQ(index[static_cast<size_t>(a)].size(), 3u);  // Add twice, Sub once
  EXPECT_EQ(index[static_cast<size_t>(a)][1].second, 1);
  EXPECT_TRUE(index[static_cast<size_t>(unused)].empty());
  EXPECT_TRUE(index[g.values.size() + 5].empty()) << "an id past the end has no readers";
  EXPECT_EQ(ConsumerIndex().size(), 0u);
}

}  // namespace
}  // namespace lw::ir
