#include "graph/op_registry.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

namespace lw::ir {

namespace {
struct Registry {
  std::vector<OpSchema> schemas;
  std::unordered_map<std::string, size_t> index;
};

const Registry& registry() {
  static const Registry* r = [] {
    // Never destroyed once built (schemas are read during static destruction too); owned until
    // then, so an allocation failure while building it frees it rather than leaking it.
    auto reg = std::make_unique<Registry>();
    register_all_ops(reg->schemas);
    for (size_t i = 0; i < reg->schemas.size(); ++i) reg->index[reg->schemas[i].op] = i;
    return reg.release();
  }();
  return *r;
}

bool is_special(const std::string& op) {
  return op == kOpData || op == kOpConst || op == kOpVariable || op == kOpAssign;
}
}  // namespace

const OpSchema* find_op_schema(const std::string& op) {
  const Registry& r = registry();
  auto it = r.index.find(op);
  return it == r.index.end() ? nullptr : &r.schemas[it->second];
}

std::vector<std::string> registered_ops() {
  std::vector<std::string> out;
  for (const auto& s : registry().schemas) out.push_back(s.op);
  std::sort(out.begin(), out.end());
  return out;
}

bool is_shape_input(const std::string& op, int slot) {
  const OpSchema* s = find_op_schema(op);
  if (!s) return false;
  return std::find(s->shape_inputs.begin(), s->shape_inputs.end(), slot) != s->shape_inputs.end();
}

Status infer_graph_types(Graph& graph) {
  std::set<std::string> unsupported;
  for (const Node& n : graph.nodes)
    if (!is_special(n.op) && !find_op_schema(n.op)) unsupported.insert(n.op);
  if (!unsupported.empty()) {
    std::string list;
    for (const auto& op : unsupported) list += (list.empty() ? "" : ", ") + op;
    return make_error(StatusCode::kOpNotFound, "graph '", graph.name, "' uses unsupported operators: ", list);
  }

  for (Node& n : graph.nodes) {
    if (n.op == kOpData || n.op == kOpVariable) continue;
    if (n.op == kOpConst) {
      const TensorData* t = n.attr_tensor("value");
      if (!t) return make_error(StatusCode::kParseModel, "node '", n.name, "' (Const) has no value");
      Value& v = graph.value(n.outputs[0]);
      v.dtype = t->dtype;
      v.shape = Shape(t->dims);
      continue;
    }
    if (n.op == kOpAssign) continue;  // checked when the bundle is prepared

    const OpSchema* schema = find_op_schema(n.op);
    int nin = static_cast<int>(n.inputs.size());
    int nout = static_cast<int>(n.outputs.size());
    if (nin < schema->min_inputs || nin > schema->max_inputs)
      return make_error(StatusCode::kParseModel, "node '", n.name, "' (", n.op, "): has ", nin, " inputs, expected ",
                        schema->min_inputs, " to ", schema->max_inputs);
    if (nout < schema->min_outputs || nout > schema->max_outputs)
      return make_error(StatusCode::kParseModel, "node '", n.name, "' (", n.op, "): has ", nout, " outputs, expected ",
                        schema->min_outputs, " to ", schema->max_outputs);

    InferContext ctx{n, {}, {}, {}};
    ctx.inputs.resize(n.inputs.size());
    ctx.const_inputs.resize(n.inputs.size(), nullptr);
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      ValueId in = n.inputs[i];
      if (in == kNoValue) continue;
      const Value& v = graph.value(in);
      ctx.inputs[i] = TensorType{v.dtype, v.shape};
      if (v.producer >= 0) {
        const Node& p = graph.nodes[static_cast<size_t>(v.producer)];
        if (p.op == kOpConst) ctx.const_inputs[i] = p.attr_tensor("value");
      }
    }
    ctx.outputs.resize(n.outputs.size());
    LW_RETURN_IF_ERROR(schema->infer(ctx));
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      Value& v = graph.value(n.outputs[i]);
      const TensorType& t = ctx.outputs[i];
      if (t.dtype == DType::kUndefined)
        return make_error(StatusCode::kInternal, "node '", n.name, "' (", n.op, "): inference left output ", i, " untyped");
      if (v.dtype != DType::kUndefined && v.dtype != t.dtype)
        return make_error(StatusCode::kParseModel, "node '", n.name, "' (", n.op, "): output '", v.name, "' is declared ",
                          dtype_name(v.dtype), " but computes ", dtype_name(t.dtype));
      if (v.shape.is_static() && t.shape.is_static() && v.shape != t.shape)
        return make_error(StatusCode::kParseModel, "node '", n.name, "' (", n.op, "): output '", v.name, "' is declared ",
                          v.shape.to_string(), " but computes ", t.shape.to_string());
      v.dtype = t.dtype;
      // Keep a declared static shape over a less precise inferred one.
      if (!(v.shape.is_static() && !t.shape.is_static())) v.shape = t.shape;
    }
  }
  return Status::ok();
}

}  // namespace lw::ir
