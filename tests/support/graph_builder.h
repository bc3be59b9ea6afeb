// Building IR graphs by hand in tests: one node with a fresh output value per call.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "graph/ir.h"

namespace lw::test {

// Adds node `op` reading `inputs`, with one output value named `out` (type left for
// ir::infer_graph_types); the node is named `out`_node. Returns the output value.
inline ir::ValueId add_op(ir::Graph& g, const std::string& op, std::vector<ir::ValueId> inputs, const std::string& out,
                          std::map<std::string, ir::Attribute> attrs = {}) {
  ir::ValueId y = g.add_value(out, DType::kUndefined, Shape::unknown_rank());
  ir::Node n;
  n.op = op;
  n.name = out + "_node";
  n.inputs = std::move(inputs);
  n.outputs = {y};
  n.attrs = std::move(attrs);
  g.add_node(std::move(n));
  return y;
}

}  // namespace lw::test
