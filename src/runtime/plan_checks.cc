#include "runtime/plan_checks.h"

namespace lw::rt {

Status with_node_context(const Status& status, const ir::Node& n) {
  std::string prefix = str_cat("node '", n.name, "' (", n.op, "): ");
  if (status.message().rfind(prefix, 0) == 0) return status;
  return status.with_context(prefix);
}

bool has_zero_dim(const Dims& dims) {
  for (int64_t d : dims)
    if (d == 0) return true;
  return false;
}

Status check_static_values(const ir::Graph& g) {
  for (const ir::Value& v : g.values) {
    if (!v.shape.is_static())
      return make_error(StatusCode::kInputMismatch, "graph '", g.name, "': value '", v.name, "' has shape ",
                        v.shape.to_string(), ", which is not known for these inputs");
    auto bytes = byte_size(v.dtype, v.shape.dims());
    if (!bytes.is_ok() && v.dtype != DType::kString)
      return bytes.status().with_context(str_cat("graph '", g.name, "': value '", v.name, "': "));
  }
  return Status::ok();
}

Status check_assign(const ir::Graph& g, const ir::Node& assign, bool* skip) {
  const ir::Value& target = g.value(assign.inputs[0]);
  const ir::Value& source = g.value(assign.inputs[1]);
  *skip = assign.attr_int("skip_if_empty", 0) != 0 && has_zero_dim(source.shape.dims());
  if (*skip) return Status::ok();
  if (source.dtype != target.dtype)
    return make_error(StatusCode::kInputMismatch, "graph '", g.name, "': '", source.name, "' is ",
                      dtype_name(source.dtype), " but Variable '", target.name, "' is ", dtype_name(target.dtype));
  if (source.shape != target.shape)
    return make_error(StatusCode::kInputMismatch, "graph '", g.name, "': '", source.name, "' has dims ",
                      source.shape.to_string(), " but Variable '", target.name, "' has dims ", target.shape.to_string());
  return Status::ok();
}

Result<int32_t> variable_slot(const ir::Graph& g, const ir::Node& variable, const VariableStore& store) {
  const ir::Value& v = g.value(variable.outputs[0]);
  int32_t slot = store.find(v.name);
  if (slot < 0)
    return make_error(StatusCode::kParseModel, "graph '", g.name, "' uses Variable '", v.name,
                      "' that the bundle does not hold");
  return slot;
}

}  // namespace lw::rt
