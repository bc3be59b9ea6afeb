#include "graph/ir.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <string_view>

#include "core/name_index.h"

namespace lw::ir {

uint64_t TensorData::numel() const {
  uint64_t n = 1;
  for (int64_t d : dims) n *= static_cast<uint64_t>(d);
  return n;
}

namespace {
template <typename Out, typename Fn>
Result<std::vector<Out>> convert_tensor(const TensorData& t, Fn&& convert_error) {
  uint64_t n = t.numel();
  auto expected = byte_size(t.dtype, t.dims);
  if (!expected.is_ok() || *expected != t.bytes.size) return convert_error();
  std::vector<Out> out(n);
  for (uint64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::kInt64: out[i] = static_cast<Out>(t.as<int64_t>()[i]); break;
      case DType::kInt32: out[i] = static_cast<Out>(t.as<int32_t>()[i]); break;
      case DType::kInt16: out[i] = static_cast<Out>(reinterpret_cast<const int16_t*>(t.bytes.data)[i]); break;
      case DType::kInt8: out[i] = static_cast<Out>(t.as<int8_t>()[i]); break;
      case DType::kUint8: out[i] = static_cast<Out>(t.as<uint8_t>()[i]); break;
      case DType::kBool: out[i] = static_cast<Out>(t.as<uint8_t>()[i] != 0); break;
      case DType::kFloat32: out[i] = static_cast<Out>(t.as<float>()[i]); break;
      case DType::kFloat64: out[i] = static_cast<Out>(t.as<double>()[i]); break;
      default: return convert_error();
    }
  }
  return out;
}
}  // namespace

Result<std::vector<int64_t>> tensor_to_ints(const TensorData& t) {
  return convert_tensor<int64_t>(t, [&]() -> Result<std::vector<int64_t>> {
    return make_error(StatusCode::kUnsupportedDtype, "cannot read a ", dtype_name(t.dtype), " tensor as integers");
  });
}

Result<std::vector<double>> tensor_to_doubles(const TensorData& t) {
  return convert_tensor<double>(t, [&]() -> Result<std::vector<double>> {
    return make_error(StatusCode::kUnsupportedDtype, "cannot read a ", dtype_name(t.dtype), " tensor as numbers");
  });
}

const char* attr_kind_name(AttrKind k) {
  switch (k) {
    case AttrKind::kInt: return "int";
    case AttrKind::kFloat: return "float";
    case AttrKind::kString: return "string";
    case AttrKind::kInts: return "ints";
    case AttrKind::kFloats: return "floats";
    case AttrKind::kStrings: return "strings";
    case AttrKind::kTensor: return "tensor";
  }
  return "?";
}

int64_t Node::attr_int(const std::string& key, int64_t fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (const int64_t* v = std::get_if<int64_t>(&it->second)) return *v;
  return fallback;
}

float Node::attr_float(const std::string& key, float fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (const float* v = std::get_if<float>(&it->second)) return *v;
  if (const int64_t* v = std::get_if<int64_t>(&it->second)) return static_cast<float>(*v);
  return fallback;
}

std::string Node::attr_string(const std::string& key, const std::string& fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (const std::string* v = std::get_if<std::string>(&it->second)) return *v;
  return fallback;
}

std::vector<int64_t> Node::attr_ints(const std::string& key, const std::vector<int64_t>& fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (const auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  return fallback;
}

std::vector<float> Node::attr_floats(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return {};
  if (const auto* v = std::get_if<std::vector<float>>(&it->second)) return *v;
  return {};
}

const TensorData* Node::attr_tensor(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return nullptr;
  return std::get_if<TensorData>(&it->second);
}

ValueId Graph::add_value(std::string value_name, DType dtype, Shape shape) {
  Value v;
  v.name = std::move(value_name);
  v.dtype = dtype;
  v.shape = std::move(shape);
  values.push_back(std::move(v));
  return static_cast<ValueId>(values.size() - 1);
}

int32_t Graph::add_node(Node node) {
  int32_t index = static_cast<int32_t>(nodes.size());
  for (ValueId out : node.outputs)
    if (valid_value(out)) value(out).producer = index;
  nodes.push_back(std::move(node));
  return index;
}

ValueId Graph::add_data(const std::string& value_name, DType dtype, Shape shape) {
  ValueId v = add_value(value_name, dtype, std::move(shape));
  Node n;
  n.op = kOpData;
  n.name = value_name;
  n.outputs = {v};
  n.attrs["index"] = static_cast<int64_t>(inputs.size());
  add_node(std::move(n));
  inputs.push_back(v);
  return v;
}

ValueId Graph::add_const(const std::string& value_name, TensorData data) {
  ValueId v = add_value(value_name, data.dtype, Shape(data.dims));
  Node n;
  n.op = kOpConst;
  n.name = value_name;
  n.outputs = {v};
  n.attrs["value"] = std::move(data);
  add_node(std::move(n));
  return v;
}

ValueId Graph::add_variable(const std::string& var_name, DType dtype, const Dims& dims) {
  ValueId v = add_value(var_name, dtype, Shape(dims));
  Node n;
  n.op = kOpVariable;
  n.name = var_name;
  n.outputs = {v};
  add_node(std::move(n));
  return v;
}

void Graph::add_assign(ValueId variable, ValueId source, bool skip_if_empty, const std::string& node_name) {
  Node n;
  n.op = kOpAssign;
  n.name = node_name;
  n.inputs = {variable, source};
  n.attrs["skip_if_empty"] = static_cast<int64_t>(skip_if_empty ? 1 : 0);
  add_node(std::move(n));
}

ValueId Graph::find_value(const std::string& value_name) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == value_name) return static_cast<ValueId>(i);
  return kNoValue;
}

int32_t Graph::find_variable_node(const std::string& var_name) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.op == kOpVariable && n.outputs.size() == 1 && valid_value(n.outputs[0]) &&
        value(n.outputs[0]).name == var_name)
      return static_cast<int32_t>(i);
  }
  return -1;
}

ConsumerIndex Graph::consumers() const {
  ConsumerIndex out;
  // Count the uses of each value, turn the counts into starts, then place the uses in node
  // order with a cursor per value.
  out.start_.assign(values.size() + 1, 0);
  for (const Node& n : nodes)
    for (ValueId v : n.inputs)
      if (valid_value(v)) ++out.start_[static_cast<size_t>(v) + 1];
  for (size_t v = 0; v < values.size(); ++v) out.start_[v + 1] += out.start_[v];
  out.uses_.resize(out.start_.back());
  std::vector<size_t> next(out.start_.begin(), out.start_.end() - 1);
  for (size_t i = 0; i < nodes.size(); ++i)
    for (size_t s = 0; s < nodes[i].inputs.size(); ++s) {
      ValueId v = nodes[i].inputs[s];
      if (valid_value(v)) out.uses_[next[static_cast<size_t>(v)]++] = {static_cast<int32_t>(i), static_cast<int32_t>(s)};
    }
  return out;
}

namespace {
std::string node_label(const Node& n, size_t index) {
  return str_cat("node ", index, " '", n.name, "' (", n.op, ")");
}
}  // namespace

Status Graph::verify() const {
  std::vector<int32_t> producer(values.size(), -1);
  {
    // Views of the graph's own strings in one table (a set of copies made one allocation per
    // value, a few thousand per bundle load; sorting the views compared their long common
    // prefixes n log n times).
    NameIndex names(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      if (values[i].name.empty())
        return make_error(StatusCode::kParseModel, "graph '", name, "': value ", i, " has no name");
      if (names.insert(values[i].name, static_cast<int32_t>(i)) >= 0)
        return make_error(StatusCode::kParseModel, "graph '", name, "': value name '", values[i].name, "' is used twice");
    }
  }
  std::vector<bool> defined(values.size(), false);
  NameIndex variable_names;
  size_t data_count = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    for (ValueId in : n.inputs) {
      if (in == kNoValue) continue;
      if (!valid_value(in))
        return make_error(StatusCode::kParseModel, "graph '", name, "': ", node_label(n, i), " reads value id ", in, " which does not exist");
      if (!defined[static_cast<size_t>(in)])
        return make_error(StatusCode::kParseModel, "graph '", name, "': ", node_label(n, i), " reads '", value(in).name,
                          "' before it is produced (nodes are not in topological order or the value has no producer)");
    }
    for (ValueId out : n.outputs) {
      if (!valid_value(out))
        return make_error(StatusCode::kParseModel, "graph '", name, "': ", node_label(n, i), " writes value id ", out, " which does not exist");
      if (producer[static_cast<size_t>(out)] != -1)
        return make_error(StatusCode::kParseModel, "graph '", name, "': value '", value(out).name, "' is produced twice");
      producer[static_cast<size_t>(out)] = static_cast<int32_t>(i);
      defined[static_cast<size_t>(out)] = true;
    }
    if (n.op == kOpData || n.op == kOpConst || n.op == kOpVariable) {
      if (!n.inputs.empty() || n.outputs.size() != 1)
        return make_error(StatusCode::kParseModel, "graph '", name, "': ", node_label(n, i), " must have no inputs and one output");
    }
    if (n.op == kOpData) {
      auto it = n.attrs.find("index");
      if (it == n.attrs.end() || attr_kind(it->second) != AttrKind::kInt)
        return make_error(StatusCode::kParseModel, "graph '", name, "': ", node_label(n, i), " has no int attribute 'index'");
      int64_t index = std::get<int64_t>(it->second);
      if (index < 0 || static_cast<size_t>(index) >= inputs.size() || inputs[static_cast<size_t>(index)] != n.outputs[0])
        return make_error(StatusCode::kParseModel, "graph '", name, "': ", node_label(n, i), " has index ", index,
                          " which does not match the graph's input list");
      ++data_count;
    } else if (n.op == kOpConst) {
      const TensorData* t = n.attr_tensor("value");
      if (!t) return make_error(StatusCode::kParseModel, "graph '", name, "': ", node_label(n, i), " has no tensor attribute 'value'");
      auto bytes = byte_size(t->dtype, t->dims);
      if (!bytes.is_ok() || *bytes != t->bytes.size || (t->bytes.size && !t->bytes.data))
        return make_error(StatusCode::kParseModel, "graph '", name, "': ", node_label(n, i), " holds ", t->bytes.size,
                          " bytes, which does not match its ", dtype_name(t->dtype), " ", dims_to_string(t->dims));
      const Value& v = value(n.outputs[0]);
      if (v.dtype != t->dtype || v.shape != Shape(t->dims))
        return make_error(StatusCode::kParseModel, "graph '", name, "': ", node_label(n, i), " output type differs from its tensor");
    } else if (n.op == kOpVariable) {
      const Value& v = value(n.outputs[0]);
      if (!v.shape.is_static() || dtype_size(v.dtype) == 0)
        return make_error(StatusCode::kParseModel, "graph '", name, "': Variable '", v.name, "' needs a static shape and a fixed-size dtype");
      if (variable_names.insert(v.name, static_cast<int32_t>(i)) >= 0)
        return make_error(StatusCode::kParseModel, "graph '", name, "': Variable '", v.name, "' appears twice");
    } else if (n.op == kOpAssign) {
      if (n.inputs.size() != 2 || !n.outputs.empty() || n.inputs[0] == kNoValue || n.inputs[1] == kNoValue)
        return make_error(StatusCode::kParseModel, "graph '", name, "': ", node_label(n, i), " must have inputs [variable, source] and no outputs");
      int32_t target = value(n.inputs[0]).producer;
      if (target < 0 || static_cast<size_t>(target) >= nodes.size() || nodes[static_cast<size_t>(target)].op != kOpVariable)
        return make_error(StatusCode::kParseModel, "graph '", name, "': ", node_label(n, i), " assigns to '",
                          value(n.inputs[0]).name, "', which is not a Variable");
    }
  }
  if (data_count != inputs.size())
    return make_error(StatusCode::kParseModel, "graph '", name, "': ", inputs.size(), " inputs listed but ", data_count, " Data nodes");
  for (ValueId out : outputs) {
    if (!valid_value(out) || !defined[static_cast<size_t>(out)])
      return make_error(StatusCode::kParseModel, "graph '", name, "': an output refers to a value that is never produced");
  }
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].producer != producer[i])
      return make_error(StatusCode::kParseModel, "graph '", name, "': value '", values[i].name, "' has an inconsistent producer");
  return Status::ok();
}

Status Graph::sort() {
  const size_t n = nodes.size();
  std::vector<int32_t> producer(values.size(), -1);
  for (size_t i = 0; i < n; ++i)
    for (ValueId out : nodes[i].outputs)
      if (valid_value(out)) producer[static_cast<size_t>(out)] = static_cast<int32_t>(i);
  // Kahn's algorithm, always taking the earliest ready node so a sorted graph stays as it is.
  std::vector<int32_t> pending(n, 0);
  std::vector<std::vector<int32_t>> users(n);
  for (size_t i = 0; i < n; ++i)
    for (ValueId in : nodes[i].inputs) {
      if (!valid_value(in)) continue;
      int32_t p = producer[static_cast<size_t>(in)];
      if (p < 0) continue;
      ++pending[i];
      users[static_cast<size_t>(p)].push_back(static_cast<int32_t>(i));
    }
  std::set<int32_t> ready;
  for (size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.insert(static_cast<int32_t>(i));
  std::vector<int32_t> order;
  order.reserve(n);
  while (!ready.empty()) {
    int32_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (int32_t u : users[static_cast<size_t>(i)])
      if (--pending[static_cast<size_t>(u)] == 0) ready.insert(u);
  }
  if (order.size() != n)
    return make_error(StatusCode::kParseModel, "graph '", name, "' has a cycle");
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (int32_t i : order) sorted.push_back(std::move(nodes[static_cast<size_t>(i)]));
  nodes = std::move(sorted);
  for (auto& v : values) v.producer = -1;
  for (size_t i = 0; i < n; ++i)
    for (ValueId out : nodes[i].outputs)
      if (valid_value(out)) value(out).producer = static_cast<int32_t>(i);
  return Status::ok();
}

void Graph::remove_orphan_values() {
  Graph& g = *this;
  std::vector<bool> produced(g.values.size(), false);
  for (const auto& n : g.nodes)
    for (ValueId v : n.outputs)
      if (g.valid_value(v)) produced[static_cast<size_t>(v)] = true;
  std::vector<ValueId> remap(g.values.size(), kNoValue);
  std::vector<Value> kept;
  for (size_t i = 0; i < g.values.size(); ++i) {
    if (!produced[i]) continue;
    remap[i] = static_cast<ValueId>(kept.size());
    kept.push_back(std::move(g.values[i]));
  }
  if (kept.size() == g.values.size()) {
    g.values = std::move(kept);
    return;
  }
  auto fix = [&](ValueId& v) {
    if (g.valid_value(v)) v = remap[static_cast<size_t>(v)];
  };
  for (auto& n : g.nodes) {
    for (auto& v : n.inputs) fix(v);
    for (auto& v : n.outputs) fix(v);
  }
  for (auto& v : g.inputs) fix(v);
  for (auto& v : g.outputs) fix(v);
  g.values = std::move(kept);
}

}  // namespace lw::ir
