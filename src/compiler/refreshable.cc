#include "compiler/refreshable.h"

#include <map>
#include <set>

#include "graph/op_registry.h"

namespace lw::compiler {

namespace {
// The Const node producing a value named `name`, or -1.
int32_t find_const(const ir::Graph& g, const std::string& name) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    if (n.op != ir::kOpConst) continue;
    if (g.value(n.outputs[0]).name == name || n.name == name) return static_cast<int32_t>(i);
  }
  return -1;
}
}  // namespace

std::vector<std::string> weight_const_names(const ir::Graph& graph, bool include_scalars) {
  auto consumers = graph.consumers();
  std::vector<std::string> names;
  for (const ir::Node& n : graph.nodes) {
    if (n.op != ir::kOpConst) continue;
    const ir::Value& v = graph.value(n.outputs[0]);
    if (!dtype_is_float(v.dtype)) continue;
    if (!include_scalars && v.shape.is_static()) {
      auto count = element_count(v.shape.dims());
      if (count.is_ok() && *count <= 1) continue;
    }
    bool feeds_data = false;
    for (auto [node, slot] : consumers[static_cast<size_t>(n.outputs[0])])
      if (!ir::is_shape_input(graph.nodes[static_cast<size_t>(node)].op, slot)) feeds_data = true;
    // A graph output that is a Const is data too.
    for (ir::ValueId out : graph.outputs)
      if (out == n.outputs[0]) feeds_data = true;
    if (feeds_data) names.push_back(v.name);
  }
  return names;
}

Result<RefreshableGraphs> convert_to_weight_refreshable(const ir::Graph& graph, const std::vector<std::string>& const_names) {
  if (const_names.empty())
    return make_error(StatusCode::kInvalidArgument, "graph '", graph.name, "': the list of Consts to make refreshable is empty");
  std::set<std::string> seen;
  std::vector<int32_t> const_nodes;
  for (const std::string& name : const_names) {
    if (!seen.insert(name).second)
      return make_error(StatusCode::kInvalidArgument, "graph '", graph.name, "': '", name, "' is listed twice");
    int32_t node = find_const(graph, name);
    if (node < 0)
      return make_error(StatusCode::kInvalidArgument, "graph '", graph.name, "': '", name, "' is not a Const of the graph");
    const_nodes.push_back(node);
  }

  RefreshableGraphs out;
  out.infer = graph;
  out.init.name = graph.name + "_init";
  out.update.name = graph.name + "_update";
  for (size_t i = 0; i < const_names.size(); ++i) {
    ir::Node& n = out.infer.nodes[static_cast<size_t>(const_nodes[i])];
    ir::Value& v = out.infer.value(n.outputs[0]);
    const std::string source = v.name;
    const std::string var_name = source + "_var";
    const std::string data_name = var_name + "_data";
    if (graph.find_value(var_name) != ir::kNoValue || graph.find_value(data_name) != ir::kNoValue)
      return make_error(StatusCode::kInvalidArgument, "graph '", graph.name, "': cannot make '", source,
                        "' refreshable: the graph already has a value named '", var_name, "' or '", data_name, "'");
    const ir::TensorData* data = n.attr_tensor("value");
    if (!data) return make_error(StatusCode::kParseModel, "Const '", source, "' has no data");

    // init: Assign(C_var, C)
    ir::ValueId c = out.init.add_const(source, *data);
    ir::ValueId init_var = out.init.add_variable(var_name, data->dtype, data->dims);
    out.init.nodes.back().attrs["source"] = source;
    out.init.add_assign(init_var, c, false, var_name + "_init_assign");

    // update: Data C_var_data -> Assign(C_var, skip if empty)
    ir::ValueId d = out.update.add_data(data_name, data->dtype, Shape::unknown_rank());
    ir::ValueId upd_var = out.update.add_variable(var_name, data->dtype, data->dims);
    out.update.nodes.back().attrs["source"] = source;
    out.update.add_assign(upd_var, d, true, var_name + "_update_assign");

    // infer: the Const becomes the Variable
    n.op = ir::kOpVariable;
    n.name = var_name;
    n.attrs.clear();
    n.attrs["source"] = source;
    v.name = var_name;
  }
  // The update graph's inputs must follow the name list: add_data appended them in that order.
  return out;
}

}  // namespace lw::compiler
