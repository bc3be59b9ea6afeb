#include "graph/bundle_model.h"

#include "core/name_index.h"

namespace lw::ir {

const char* graph_role_name(GraphRole role) {
  switch (role) {
    case GraphRole::kInference: return "inference";
    case GraphRole::kWeightInit: return "weight-init";
    case GraphRole::kWeightUpdate: return "weight-update";
    case GraphRole::kOther: return "other";
  }
  return "unknown";
}

Status verify_bundle_model(const BundleModel& model) {
  if (model.is_bundle && model.graphs.size() < 2)
    return make_error(StatusCode::kParseModel, "a bundle needs at least 2 graphs, this one has ", model.graphs.size());
  if (!model.is_bundle && model.graphs.size() != 1)
    return make_error(StatusCode::kParseModel, "a plain model holds exactly 1 graph, this one has ", model.graphs.size());
  NameIndex vars(model.variables.size());  // index into model.variables
  for (size_t i = 0; i < model.variables.size(); ++i) {
    const VariableDesc& v = model.variables[i];
    if (v.name.empty()) return make_error(StatusCode::kParseModel, "a Variable has an empty name");
    if (vars.insert(v.name, static_cast<int32_t>(i)) >= 0)
      return make_error(StatusCode::kParseModel, "Variable '", v.name, "' is described twice");
    auto bytes = byte_size(v.dtype, v.dims);
    if (!bytes.is_ok()) return bytes.status().with_context("Variable '" + v.name + "': ");
  }
  for (size_t gi = 0; gi < model.graphs.size(); ++gi) {
    const Graph& g = model.graphs[gi].graph;
    LW_RETURN_IF_ERROR(g.verify().with_context(str_cat("graph ", gi, ": ")));
    for (const Node& n : g.nodes) {
      if (n.op != kOpVariable) continue;
      const Value& v = g.value(n.outputs[0]);
      const int32_t k = vars.find(v.name);
      if (k < 0)
        return make_error(StatusCode::kParseModel, "graph ", gi, " '", g.name, "' uses Variable '", v.name,
                          "' that the bundle does not describe");
      const VariableDesc& desc = model.variables[static_cast<size_t>(k)];
      if (desc.dtype != v.dtype || !v.shape.rank_known() || v.shape.dims() != desc.dims)
        return make_error(StatusCode::kParseModel, "graph ", gi, " '", g.name, "': Variable '", v.name, "' is ",
                          dtype_name(v.dtype), " ", v.shape.to_string(), " but the bundle says ",
                          dtype_name(desc.dtype), " ", dims_to_string(desc.dims));
    }
  }
  return Status::ok();
}

}  // namespace lw::ir
