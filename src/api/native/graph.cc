// lw::Graph: the public builder over ir::Graph.
#include "liveweight/graph.h"

#include "frontends/onnx/onnx_importer.h"
#include "graph/ir.h"
#include "graph/op_registry.h"

namespace lw {

namespace {
ir::Attribute to_ir(const AttrValue& v) {
  return std::visit([](const auto& x) -> ir::Attribute { return x; }, v);
}
}  // namespace

Graph::Graph(const std::string& name) : impl_(std::make_shared<ir::Graph>()) { impl_->name = name; }
Graph::Graph(std::shared_ptr<ir::Graph> ir) : impl_(std::move(ir)) {}
Graph::Graph(const Graph& other)
    : impl_(std::make_shared<ir::Graph>(*other.impl_)),
      error_(other.error_ ? std::make_shared<Status>(*other.error_) : nullptr) {}
Graph& Graph::operator=(const Graph& other) {
  if (this != &other) *this = Graph(other);
  return *this;
}
Graph::Graph(Graph&&) noexcept = default;
Graph& Graph::operator=(Graph&&) noexcept = default;
Graph::~Graph() = default;

Result<Graph> Graph::from_onnx(const std::string& path) {
  LW_ASSIGN_OR_RETURN(ir::Graph g, onnx_import::import_onnx_file(path));
  return Graph(std::make_shared<ir::Graph>(std::move(g)));
}

const std::string& Graph::name() const { return impl_->name; }
const ir::Graph& Graph::ir() const { return *impl_; }
ir::Graph& Graph::mutable_ir() { return *impl_; }

#define LW_BUILDER_FAIL(...)                                                          \
  do {                                                                                \
    if (!error_) error_ = std::make_shared<Status>(make_error(__VA_ARGS__));          \
  } while (0)

Tensor Graph::add_input(const std::string& name, DType dtype, const std::vector<int64_t>& dims) {
  if (impl_->find_value(name) != ir::kNoValue) {
    LW_BUILDER_FAIL(StatusCode::kInvalidArgument, "graph '", impl_->name, "': the name '", name, "' is already used");
    return {};
  }
  return {impl_->add_data(name, dtype, Shape(dims))};
}

Tensor Graph::add_constant(const std::string& name, DType dtype, const std::vector<int64_t>& dims, const void* data,
                           size_t bytes) {
  auto expected = byte_size(dtype, dims);
  if (!expected.is_ok() || *expected != bytes || (bytes && !data)) {
    LW_BUILDER_FAIL(StatusCode::kInvalidArgument, "graph '", impl_->name, "': constant '", name, "' of ", dtype_name(dtype),
                    " ", dims_to_string(dims), " was given ", bytes, " bytes", data ? "" : " at NULL");
    return {};
  }
  if (impl_->find_value(name) != ir::kNoValue) {
    LW_BUILDER_FAIL(StatusCode::kInvalidArgument, "graph '", impl_->name, "': the name '", name, "' is already used");
    return {};
  }
  ir::TensorData t{dtype, dims, Blob::copy_of(data, bytes)};
  if (bytes && !t.bytes.data) {
    LW_BUILDER_FAIL(StatusCode::kOutOfMemory, "cannot copy ", bytes, " bytes of constant '", name, "'");
    return {};
  }
  return {impl_->add_const(name, std::move(t))};
}

Tensor Graph::add_variable(const std::string& name, DType dtype, const std::vector<int64_t>& dims) {
  if (impl_->find_value(name) != ir::kNoValue) {
    LW_BUILDER_FAIL(StatusCode::kInvalidArgument, "graph '", impl_->name, "': the name '", name, "' is already used");
    return {};
  }
  return {impl_->add_variable(name, dtype, dims)};
}

std::vector<Tensor> Graph::add_op(const std::string& op, const std::vector<Tensor>& inputs, const Attrs& attrs,
                                  size_t num_outputs, const std::string& name) {
  ir::Node node;
  node.op = op;
  node.name = name.empty() ? str_cat(op, "_", impl_->nodes.size()) : name;
  for (const Tensor& t : inputs) {
    if (t.id != ir::kNoValue && !impl_->valid_value(t.id)) {
      LW_BUILDER_FAIL(StatusCode::kInvalidArgument, "graph '", impl_->name, "': op '", node.name,
                      "' is given a tensor that does not belong to this graph");
      return std::vector<Tensor>(num_outputs);
    }
    node.inputs.push_back(t.id);
  }
  for (const auto& [key, value] : attrs) node.attrs[key] = to_ir(value);
  std::vector<Tensor> outs;
  for (size_t i = 0; i < num_outputs; ++i) {
    std::string out_name = str_cat(node.name, ":", i);
    if (impl_->find_value(out_name) != ir::kNoValue) {
      LW_BUILDER_FAIL(StatusCode::kInvalidArgument, "graph '", impl_->name, "': the name '", out_name, "' is already used");
      return std::vector<Tensor>(num_outputs);
    }
    ir::ValueId v = impl_->add_value(out_name, DType::kUndefined, Shape::unknown_rank());
    node.outputs.push_back(v);
    outs.push_back({v});
  }
  impl_->add_node(std::move(node));
  return outs;
}

void Graph::add_assign(Tensor variable, Tensor value, bool skip_if_empty) {
  if (!impl_->valid_value(variable.id) || !impl_->valid_value(value.id)) {
    LW_BUILDER_FAIL(StatusCode::kInvalidArgument, "graph '", impl_->name, "': Assign is given a tensor that does not belong to this graph");
    return;
  }
  impl_->add_assign(variable.id, value.id, skip_if_empty, str_cat("assign_", impl_->value(variable.id).name, "_", impl_->nodes.size()));
}

void Graph::set_outputs(const std::vector<Tensor>& outputs) {
  impl_->outputs.clear();
  for (const Tensor& t : outputs) {
    if (!impl_->valid_value(t.id)) {
      LW_BUILDER_FAIL(StatusCode::kInvalidArgument, "graph '", impl_->name, "': an output tensor does not belong to this graph");
      return;
    }
    impl_->outputs.push_back(t.id);
  }
}

Status Graph::validate() const {
  if (error_) return *error_;
  ir::Graph g = *impl_;
  LW_RETURN_IF_ERROR(g.sort());
  LW_RETURN_IF_ERROR(g.verify());
  return ir::infer_graph_types(g);
}

}  // namespace lw
