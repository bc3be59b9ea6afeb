#include "frontends/onnx/onnx_graph_builder.h"

#include <set>
#include <unordered_map>

#include "frontends/onnx/onnx_convert.h"
#include "frontends/onnx/onnx_legacy.h"

namespace lw::onnx_import {

namespace {

constexpr int64_t kMinOpset = 11;
constexpr int64_t kMaxOpset = 17;

bool is_default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

class GraphBuilder {
 public:
  GraphBuilder(const onnx::GraphProto& g, const ImportOptions& options, int64_t opset)
      : g_(g), options_(options), opset_(opset) {}

  Result<BuiltGraph> build() {
    graph_.name = g_.name().empty() ? "main" : g_.name();
    LW_RETURN_IF_ERROR(add_inputs_and_initializers());
    LW_RETURN_IF_ERROR(add_nodes());
    LW_RETURN_IF_ERROR(add_outputs());
    LW_RETURN_IF_ERROR(apply_declared_types());

    BuiltGraph out;
    out.opset = opset_;
    LW_RETURN_IF_ERROR(rewrite_legacy_ops(graph_, opset_, &out.pending_rewrites));
    // Value ids move below; pending entries are outputs of kept nodes, so find them again by name.
    std::vector<std::string> pending_names;
    for (ir::ValueId v : out.pending_rewrites) pending_names.push_back(graph_.value(v).name);
    graph_.remove_orphan_values();
    LW_RETURN_IF_ERROR(sort_graph(graph_));
    LW_RETURN_IF_ERROR(graph_.verify());
    out.pending_rewrites.clear();
    for (const auto& name : pending_names) out.pending_rewrites.push_back(graph_.find_value(name));
    out.graph = std::move(graph_);
    return out;
  }

 private:
  // Registers a value name; a second use of a name is an error naming both uses.
  Status claim(const std::string& name, ir::ValueId id, const std::string& what) {
    auto [it, inserted] = by_name_.emplace(name, id);
    if (!inserted)
      return make_error(StatusCode::kParseModel, what, " defines value '", name, "', which ", owner_[name],
                        " already defines; value names must be unique");
    owner_[name] = what;
    return Status::ok();
  }

  Status add_inputs_and_initializers() {
    if (g_.sparse_initializer_size() > 0)
      return make_error(StatusCode::kFeatureUnsupported, "sparse initializer '", g_.sparse_initializer(0).values().name(),
                        "' is not supported");
    std::set<std::string> initializer_names;
    for (int i = 0; i < g_.initializer_size(); ++i) {
      if (g_.initializer(i).name().empty())
        return make_error(StatusCode::kParseModel, "initializer #", i, " has no name");
      initializer_names.insert(g_.initializer(i).name());
    }
    for (const auto& [name, dims] : options_.input_shapes) {
      bool found = false;
      for (const auto& in : g_.input()) found |= (in.name() == name);
      if (!found || initializer_names.count(name))
        return make_error(StatusCode::kInvalidArgument, "ImportOptions::input_shapes names '", name, "', which is not ",
                          found ? "a graph input but an initializer" : "an input of the model");
      for (int64_t d : dims)
        if (d < kDynamicDim)
          return make_error(StatusCode::kInvalidArgument, "ImportOptions::input_shapes['", name, "'] has dim ", d);
    }

    // Data nodes first, in input order; inputs that are initializers (old exports list them
    // as inputs too) are constants.
    for (int i = 0; i < g_.input_size(); ++i) {
      const onnx::ValueInfoProto& in = g_.input(i);
      if (in.name().empty()) return make_error(StatusCode::kParseModel, "graph input #", i, " has no name");
      if (initializer_names.count(in.name())) continue;
      std::string what = str_cat("graph input '", in.name(), "'");
      LW_ASSIGN_OR_RETURN(DeclaredType type, type_from_onnx(in, what));
      if (type.dtype == DType::kUndefined) return make_error(StatusCode::kParseModel, what, " has no element type");
      auto override_it = options_.input_shapes.find(in.name());
      if (override_it != options_.input_shapes.end()) type.shape = Shape(override_it->second);
      if (by_name_.count(in.name()))
        return make_error(StatusCode::kParseModel, what, " is listed twice");
      ir::ValueId v = graph_.add_data(in.name(), type.dtype, type.shape);
      LW_RETURN_IF_ERROR(claim(in.name(), v, what));
    }
    for (int i = 0; i < g_.initializer_size(); ++i) {
      const onnx::TensorProto& t = g_.initializer(i);
      std::string what = str_cat("initializer '", t.name(), "'");
      if (by_name_.count(t.name()))
        return make_error(StatusCode::kParseModel, what, " is defined twice");
      LW_ASSIGN_OR_RETURN(ir::TensorData data, tensor_from_onnx(t, what));
      ir::ValueId v = graph_.add_const(t.name(), std::move(data));
      LW_RETURN_IF_ERROR(claim(t.name(), v, what));
    }
    return Status::ok();
  }

  Status add_nodes() {
    // Names for unnamed nodes must not collide with any given name.
    std::set<std::string> node_names;
    for (const auto& n : g_.node()) node_names.insert(n.name());
    for (const auto& n : graph_.nodes) node_names.insert(n.name);

    // Pass 1: create every output value, so that inputs can refer to values produced by a
    // later node (ONNX requires sorted nodes, but we sort anyway and report cycles).
    std::vector<ir::Node> nodes;
    std::vector<int> onnx_index;
    for (int i = 0; i < g_.node_size(); ++i) {
      const onnx::NodeProto& p = g_.node(i);
      if (p.op_type().empty()) return make_error(StatusCode::kParseModel, "node #", i, " ('", p.name(), "') has no op_type");
      std::string name = p.name();
      if (name.empty()) {
        std::string base = str_cat(p.op_type(), "_", i);
        name = base;
        for (int k = 1; node_names.count(name); ++k) name = str_cat(base, "_", k);
        node_names.insert(name);
      }
      const std::string label = str_cat("node '", name, "' (", p.op_type(), ")");
      if (!is_default_domain(p.domain()))
        return make_error(StatusCode::kFeatureUnsupported, label, " is in operator domain '", p.domain(),
                          "'; only the default ONNX domain is supported");

      ir::Node node;
      node.op = p.op_type();
      node.name = name;
      for (const auto& a : p.attribute()) {
        if (a.name().empty()) return make_error(StatusCode::kParseModel, label, " has an attribute without a name");
        LW_ASSIGN_OR_RETURN(ir::Attribute attr, attribute_from_onnx(a, label));
        if (!node.attrs.emplace(a.name(), std::move(attr)).second)
          return make_error(StatusCode::kParseModel, label, " has attribute '", a.name(), "' twice");
      }

      // Trailing empty output names are omitted optional outputs; inner ones keep their slot.
      int count = p.output_size();
      while (count > 0 && p.output(count - 1).empty()) --count;
      if (count == 0) return make_error(StatusCode::kParseModel, label, " has no outputs");

      if (node.op == "Constant") {
        if (count != 1) return make_error(StatusCode::kParseModel, label, " must have exactly one output");
        LW_ASSIGN_OR_RETURN(ir::TensorData value, constant_value(node, label));
        if (p.input_size() > 0) return make_error(StatusCode::kParseModel, label, " must have no inputs");
        ir::ValueId v = graph_.add_const(p.output(0), std::move(value));
        LW_RETURN_IF_ERROR(claim(p.output(0), v, label));
        continue;
      }

      for (int k = 0; k < count; ++k) {
        std::string out_name = p.output(k);
        if (out_name.empty()) {
          out_name = str_cat(name, ":unused_output_", k);
          while (by_name_.count(out_name)) out_name += "_";
        }
        ir::ValueId v = graph_.add_value(out_name, DType::kUndefined, Shape::unknown_rank());
        LW_RETURN_IF_ERROR(claim(out_name, v, label));
        node.outputs.push_back(v);
      }
      nodes.push_back(std::move(node));
      onnx_index.push_back(i);
    }

    // Pass 2: resolve inputs by name.
    for (size_t j = 0; j < nodes.size(); ++j) {
      const onnx::NodeProto& p = g_.node(onnx_index[j]);
      ir::Node& node = nodes[j];
      for (const std::string& in : p.input()) {
        if (in.empty()) {
          node.inputs.push_back(ir::kNoValue);  // an omitted optional input
          continue;
        }
        auto it = by_name_.find(in);
        if (it == by_name_.end())
          return make_error(StatusCode::kParseModel, "node '", node.name, "' (", node.op, ") reads '", in,
                            "', which no node, initializer or graph input produces");
        node.inputs.push_back(it->second);
      }
      while (!node.inputs.empty() && node.inputs.back() == ir::kNoValue) node.inputs.pop_back();
      graph_.add_node(std::move(node));
    }
    return Status::ok();
  }

  // The tensor a Constant node holds, from whichever of its value attributes is set.
  Result<ir::TensorData> constant_value(const ir::Node& node, const std::string& label) {
    if (node.attrs.size() != 1)
      return make_error(StatusCode::kParseModel, label, " must have exactly one value attribute, has ", node.attrs.size());
    // Named references, not a structured binding: clang 14 (the fuzz build) cannot capture one.
    const std::string& key = node.attrs.begin()->first;
    const ir::Attribute& attr = node.attrs.begin()->second;
    auto kind_error = [&]() {
      return make_error(StatusCode::kParseModel, label, ": attribute '", key, "' has kind ",
                        ir::attr_kind_name(ir::attr_kind(attr)));
    };
    ir::TensorData t;
    if (key == "value") {
      const auto* v = std::get_if<ir::TensorData>(&attr);
      if (!v) return kind_error();
      return *v;
    }
    if (key == "value_float" || key == "value_floats") {
      std::vector<float> data;
      if (const auto* f = std::get_if<float>(&attr)) {
        if (key != "value_float") return kind_error();
        data = {*f};
      } else if (const auto* fs = std::get_if<std::vector<float>>(&attr)) {
        if (key != "value_floats") return kind_error();
        data = *fs;
        t.dims = {static_cast<int64_t>(data.size())};
      } else {
        return kind_error();
      }
      t.dtype = DType::kFloat32;
      t.bytes = Blob::copy_of(data.data(), data.size() * sizeof(float));
      return t;
    }
    if (key == "value_int" || key == "value_ints") {
      std::vector<int64_t> data;
      if (const auto* i = std::get_if<int64_t>(&attr)) {
        if (key != "value_int") return kind_error();
        data = {*i};
      } else if (const auto* is = std::get_if<std::vector<int64_t>>(&attr)) {
        if (key != "value_ints") return kind_error();
        data = *is;
        t.dims = {static_cast<int64_t>(data.size())};
      } else {
        return kind_error();
      }
      t.dtype = DType::kInt64;
      t.bytes = Blob::copy_of(data.data(), data.size() * sizeof(int64_t));
      return t;
    }
    if (key == "value_string" || key == "value_strings" || key == "sparse_value")
      return make_error(StatusCode::kFeatureUnsupported, label, ": attribute '", key, "' is not supported");
    return make_error(StatusCode::kParseModel, label, " has unknown attribute '", key, "'");
  }

  Status add_outputs() {
    if (g_.output_size() == 0) return make_error(StatusCode::kParseModel, "graph '", graph_.name, "' has no outputs");
    for (int i = 0; i < g_.output_size(); ++i) {
      const std::string& name = g_.output(i).name();
      if (name.empty()) return make_error(StatusCode::kParseModel, "graph output #", i, " has no name");
      auto it = by_name_.find(name);
      if (it == by_name_.end())
        return make_error(StatusCode::kParseModel, "graph output '", name, "' is not produced by any node, initializer or input");
      graph_.outputs.push_back(it->second);
    }
    return Status::ok();
  }

  Status apply_type(const onnx::ValueInfoProto& info, const std::string& what) {
    auto it = by_name_.find(info.name());
    if (it == by_name_.end()) return Status::ok();  // value_info about a value the graph does not have
    LW_ASSIGN_OR_RETURN(DeclaredType type, type_from_onnx(info, what));
    ir::Value& v = graph_.value(it->second);
    if (v.producer < 0 || static_cast<size_t>(v.producer) >= graph_.nodes.size()) return Status::ok();
    const ir::Node& producer = graph_.nodes[static_cast<size_t>(v.producer)];
    if (producer.op == ir::kOpData || producer.op == ir::kOpConst) {
      // Their types come from the input declaration or the data; a conflict is an error.
      if (type.dtype != DType::kUndefined && type.dtype != v.dtype)
        return make_error(StatusCode::kParseModel, what, " is declared ", dtype_name(type.dtype), " but '", v.name, "' is ",
                          dtype_name(v.dtype));
      return Status::ok();
    }
    if (type.dtype != DType::kUndefined) {
      if (v.dtype != DType::kUndefined && v.dtype != type.dtype)
        return make_error(StatusCode::kParseModel, what, " is declared ", dtype_name(type.dtype), " and ", dtype_name(v.dtype));
      v.dtype = type.dtype;
    }
    if (type.shape.rank_known()) v.shape = type.shape;
    return Status::ok();
  }

  Status apply_declared_types() {
    for (const auto& info : g_.value_info())
      LW_RETURN_IF_ERROR(apply_type(info, str_cat("value_info '", info.name(), "'")));
    for (const auto& info : g_.output()) LW_RETURN_IF_ERROR(apply_type(info, str_cat("graph output '", info.name(), "'")));
    return Status::ok();
  }

  const onnx::GraphProto& g_;
  const ImportOptions& options_;
  const int64_t opset_;
  ir::Graph graph_;
  std::unordered_map<std::string, ir::ValueId> by_name_;
  std::unordered_map<std::string, std::string> owner_;
};

}  // namespace

Status sort_graph(ir::Graph& graph) {
  const size_t n = graph.nodes.size();
  std::vector<int32_t> producer(graph.values.size(), -1);
  for (size_t i = 0; i < n; ++i)
    for (ir::ValueId v : graph.nodes[i].outputs)
      if (graph.valid_value(v)) producer[static_cast<size_t>(v)] = static_cast<int32_t>(i);
  std::vector<int> pending(n, 0);
  std::vector<std::vector<size_t>> users(n);
  for (size_t i = 0; i < n; ++i)
    for (ir::ValueId v : graph.nodes[i].inputs) {
      if (!graph.valid_value(v) || producer[static_cast<size_t>(v)] < 0) continue;
      ++pending[i];
      users[static_cast<size_t>(producer[static_cast<size_t>(v)])].push_back(i);
    }
  std::vector<size_t> ready;
  for (size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push_back(i);
  size_t done = 0;
  std::vector<bool> emitted(n, false);
  while (!ready.empty()) {
    size_t i = ready.back();
    ready.pop_back();
    emitted[i] = true;
    ++done;
    for (size_t u : users[i])
      if (--pending[u] == 0) ready.push_back(u);
  }
  if (done != n) {
    // Walk back through unemitted producers until a node repeats: that node is on a cycle.
    size_t at = 0;
    while (emitted[at]) ++at;
    std::vector<bool> seen(n, false);
    while (!seen[at]) {
      seen[at] = true;
      for (ir::ValueId v : graph.nodes[at].inputs) {
        if (!graph.valid_value(v)) continue;
        int32_t p = producer[static_cast<size_t>(v)];
        if (p >= 0 && !emitted[static_cast<size_t>(p)]) {
          at = static_cast<size_t>(p);
          break;
        }
      }
    }
    const ir::Node& node = graph.nodes[at];
    return make_error(StatusCode::kParseModel, "node '", node.name, "' (", node.op,
                      ") is on a cycle: it depends on its own output");
  }
  return graph.sort();
}

Result<BuiltGraph> build_graph(const onnx::ModelProto& model, const ImportOptions& options) {
  if (!model.has_ir_version() || model.ir_version() <= 0)
    return make_error(StatusCode::kParseModel, "not an ONNX model: ir_version is missing");
  if (!model.has_graph()) return make_error(StatusCode::kParseModel, "the ONNX model has no graph");
  int64_t opset = -1;
  for (const auto& o : model.opset_import()) {
    if (!is_default_domain(o.domain())) continue;
    if (opset >= 0 && opset != o.version())
      return make_error(StatusCode::kParseModel, "the model imports the default ONNX domain twice (opsets ", opset, " and ",
                        o.version(), ")");
    opset = o.version();
  }
  if (opset < 0) return make_error(StatusCode::kParseModel, "the model imports no opset of the default ONNX domain");
  if (opset < kMinOpset || opset > kMaxOpset)
    return make_error(StatusCode::kFeatureUnsupported, "the model uses ONNX opset ", opset, "; supported opsets are ",
                      kMinOpset, " to ", kMaxOpset, " (convert it with onnx.version_converter)");
  if (model.functions_size() > 0)
    return make_error(StatusCode::kFeatureUnsupported, "the model defines local functions ('", model.functions(0).name(),
                      "'), which are not supported");
  GraphBuilder builder(model.graph(), options, opset);
  return builder.build();
}

}  // namespace lw::onnx_import
