#include "compiler/bundle_builder.h"

#include <map>

#include "compiler/constant_folding.h"
#include "compiler/passes/batchnorm_folding.h"
#include "graph/op_registry.h"

namespace lw::compiler {

namespace {
Status prepare_graph(ir::Graph& g, size_t index) {
  std::string context = str_cat("graph ", index, " '", g.name, "': ");
  LW_RETURN_IF_ERROR(g.sort().with_context(context));
  LW_RETURN_IF_ERROR(g.verify().with_context(context));
  LW_RETURN_IF_ERROR(ir::infer_graph_types(g).with_context(context));
  auto folded = fold_constants(g);
  if (!folded.is_ok()) return folded.status().with_context(context);
  // BatchNorms over Consts only (their parameters were not made refreshable) fold away here.
  auto bn_folded = passes::fold_batchnorms(g);
  if (!bn_folded.is_ok()) return bn_folded.status().with_context(context);
  return Status::ok();
}

ir::GraphRole role_of(const ir::Graph& g) {
  bool assigns = false;
  for (const ir::Node& n : g.nodes)
    if (n.op == ir::kOpAssign) assigns = true;
  if (!assigns) return ir::GraphRole::kInference;
  return g.inputs.empty() ? ir::GraphRole::kWeightInit : ir::GraphRole::kWeightUpdate;
}

Status collect_variables(ir::BundleModel& model) {
  std::map<std::string, size_t> index;
  for (size_t gi = 0; gi < model.graphs.size(); ++gi) {
    const ir::Graph& g = model.graphs[gi].graph;
    for (const ir::Node& n : g.nodes) {
      if (n.op != ir::kOpVariable) continue;
      const ir::Value& v = g.value(n.outputs[0]);
      auto it = index.find(v.name);
      if (it == index.end()) {
        ir::VariableDesc desc;
        desc.name = v.name;
        desc.dtype = v.dtype;
        desc.dims = v.shape.dims();
        desc.source = n.attr_string("source", "");
        index[v.name] = model.variables.size();
        model.variables.push_back(desc);
        continue;
      }
      ir::VariableDesc& desc = model.variables[it->second];
      if (desc.dtype != v.dtype || Shape(desc.dims) != v.shape)
        return make_error(StatusCode::kInvalidArgument, "Variable '", v.name, "' is ", dtype_name(desc.dtype), " ",
                          dims_to_string(desc.dims), " in one graph but ", dtype_name(v.dtype), " ", v.shape.to_string(),
                          " in graph ", gi, " '", g.name, "'");
      if (desc.source.empty()) desc.source = n.attr_string("source", "");
    }
  }
  // The update input that refreshes each Variable: a Data node feeding its Assign directly.
  for (const auto& entry : model.graphs) {
    if (entry.role != ir::GraphRole::kWeightUpdate) continue;
    const ir::Graph& g = entry.graph;
    for (const ir::Node& n : g.nodes) {
      if (n.op != ir::kOpAssign) continue;
      const ir::Value& src = g.value(n.inputs[1]);
      const ir::Node& producer = g.nodes[static_cast<size_t>(src.producer)];
      if (producer.op != ir::kOpData) continue;
      auto it = index.find(g.value(n.inputs[0]).name);
      if (it != index.end()) model.variables[it->second].update_input = static_cast<int32_t>(producer.attr_int("index", -1));
    }
  }
  return Status::ok();
}
}  // namespace

Result<ir::BundleModel> build_bundle(std::vector<ir::Graph> graphs) {
  if (graphs.size() < 2)
    return make_error(StatusCode::kInvalidArgument, "a bundle needs at least 2 graphs, got ", graphs.size());
  ir::BundleModel model;
  model.is_bundle = true;
  for (size_t i = 0; i < graphs.size(); ++i) {
    LW_RETURN_IF_ERROR(prepare_graph(graphs[i], i));
    ir::GraphRole role = role_of(graphs[i]);
    model.graphs.push_back({role, std::move(graphs[i])});
  }
  LW_RETURN_IF_ERROR(collect_variables(model));
  LW_RETURN_IF_ERROR(ir::verify_bundle_model(model));
  return model;
}

Result<ir::BundleModel> build_plain_model(ir::Graph graph) {
  ir::BundleModel model;
  model.is_bundle = false;
  LW_RETURN_IF_ERROR(prepare_graph(graph, 0));
  ir::GraphRole role = role_of(graph);
  model.graphs.push_back({role, std::move(graph)});
  LW_RETURN_IF_ERROR(collect_variables(model));
  LW_RETURN_IF_ERROR(ir::verify_bundle_model(model));
  return model;
}

}  // namespace lw::compiler
