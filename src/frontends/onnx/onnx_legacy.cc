// What the importer rewrites, for default-domain nodes of a model whose opset is below the
// version in the second column (opsets below 11 are refused before this runs):
//
// | op                            | below | old form                               | rewrite into the opset-17 form                      |
// |-------------------------------|-------|----------------------------------------|-----------------------------------------------------|
// | Softmax, LogSoftmax, Hardmax  | 13    | input coerced to 2-D at `axis`          | axis = rank-1 (or -1): set axis = -1. Otherwise     |
// |                               |       | (default 1), op over the flattened tail | Reshape [0]*axis+[-1] -> op(axis=-1) -> Reshape     |
// |                               |       |                                        | [0]*axis+tail dims (at most one dynamic tail dim).  |
// |                               |       |                                        | Needs the input rank: from declared types, else     |
// |                               |       |                                        | after type inference; still unknown -> error.       |
// | Dropout                       | 12    | `ratio` attribute                      | attribute dropped (inference is identity)           |
// | Squeeze, Unsqueeze            | 13    | `axes` attribute                       | int64 Const input 1 (none when absent or empty)     |
// | ReduceSum                     | 13    | `axes` attribute                       | int64 Const input 1 (none when absent or empty)     |
// | Split                         | 13    | `split` attribute                      | int64 Const input 1                                 |
// | BatchNormalization            | 14    | outputs 2-5 (training statistics)      | unused ones dropped; a used one is an error         |
// | BatchNormalization            | any   | training_mode = 1 (opset >= 14)        | error: training is not supported                    |
// | Clip                          | 11    | min/max attributes                     | unreachable: opsets below 11 are refused            |
#include "frontends/onnx/onnx_legacy.h"

#include <set>
#include <string>

namespace lw::onnx_import {

namespace {

std::string label(const ir::Node& n) { return str_cat("node '", n.name, "' (", n.op, ")"); }

// Hands out value names that no value of the graph uses yet.
class NameAllocator {
 public:
  explicit NameAllocator(const ir::Graph& g) {
    for (const auto& v : g.values) used_.insert(v.name);
  }
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int i = 1; used_.count(name); ++i) name = base + "_" + std::to_string(i);
    used_.insert(name);
    return name;
  }

 private:
  std::set<std::string> used_;
};

ir::ValueId add_int64_const(ir::Graph& g, NameAllocator& names, const std::string& base,
                            const std::vector<int64_t>& values) {
  ir::TensorData t;
  t.dtype = DType::kInt64;
  t.dims = {static_cast<int64_t>(values.size())};
  t.bytes = Blob::copy_of(values.data(), values.size() * sizeof(int64_t));
  return g.add_const(names.fresh(base), std::move(t));
}

// Moves the ints attribute `attr` of node `index` into input slot 1 as an int64 Const.
Status attribute_to_input(ir::Graph& g, NameAllocator& names, size_t index, const char* attr, bool required,
                          int64_t opset) {
  ir::Node& n = g.nodes[index];
  if (n.inputs.size() > 1)
    return make_error(StatusCode::kParseModel, label(n), ": has ", n.inputs.size(), " inputs, but at opset ", opset,
                      " it takes one and reads '", attr, "' from an attribute");
  auto it = n.attrs.find(attr);
  if (it == n.attrs.end()) {
    if (required) return make_error(StatusCode::kParseModel, label(n), ": attribute '", attr, "' is required at opset ", opset);
    return Status::ok();
  }
  const auto* ints = std::get_if<std::vector<int64_t>>(&it->second);
  if (!ints)
    return make_error(StatusCode::kParseModel, label(n), ": attribute '", attr, "' must be a list of ints, not ",
                      ir::attr_kind_name(ir::attr_kind(it->second)));
  std::vector<int64_t> values = *ints;
  n.attrs.erase(it);
  if (values.empty()) {
    if (required) return make_error(StatusCode::kParseModel, label(n), ": attribute '", attr, "' is empty");
    return Status::ok();
  }
  std::string base = n.name + "/" + attr;
  if (n.inputs.empty())
    return make_error(StatusCode::kParseModel, label(n), ": has no data input");
  ir::ValueId c = add_int64_const(g, names, base, values);  // invalidates `n`
  g.nodes[index].inputs.push_back(c);
  return Status::ok();
}

// Old Softmax-family axis semantics: the input is viewed as 2-D [prod(d[:axis]), prod(d[axis:])].
// Returns true when the node is done, false when the rank is unknown.
Result<bool> rewrite_coerced_axis(ir::Graph& g, NameAllocator& names, size_t index, bool rank_required) {
  ir::Node& n = g.nodes[index];
  if (n.inputs.size() != 1 || n.inputs[0] == ir::kNoValue || n.outputs.size() != 1)
    return make_error(StatusCode::kParseModel, label(n), ": expects one input and one output");
  int64_t axis = n.attr_int("axis", 1);
  if (axis == -1) {
    n.attrs["axis"] = int64_t{-1};
    return true;
  }
  const Shape& in_shape = g.value(n.inputs[0]).shape;
  if (!in_shape.rank_known()) {
    if (rank_required)
      return make_error(StatusCode::kFeatureUnsupported, label(n), ": the rank of input '", g.value(n.inputs[0]).name,
                        "' is unknown, so its pre-opset-13 axis ", axis, " cannot be converted");
    n.attrs["axis"] = axis;  // make the old default explicit until the rank is known
    return false;
  }
  const int64_t rank = static_cast<int64_t>(in_shape.rank());
  if (axis < -rank || axis >= rank)
    return make_error(StatusCode::kParseModel, label(n), ": axis ", axis, " is out of range for rank ", rank);
  if (axis < 0) axis += rank;
  if (axis == rank - 1) {
    n.attrs["axis"] = int64_t{-1};
    return true;
  }
  std::vector<int64_t> flat(static_cast<size_t>(axis), 0);
  flat.push_back(-1);
  std::vector<int64_t> back(static_cast<size_t>(axis), 0);
  int dynamic = 0;
  for (int64_t i = axis; i < rank; ++i) {
    int64_t d = in_shape.dim(static_cast<size_t>(i));
    if (d < 0) ++dynamic;
    back.push_back(d < 0 ? -1 : d);
  }
  if (dynamic > 1)
    return make_error(StatusCode::kFeatureUnsupported, label(n), ": pre-opset-13 axis ", axis, " spans ", dynamic,
                      " dynamic dims of input '", g.value(n.inputs[0]).name, "' ", in_shape.to_string(),
                      "; set them with ImportOptions::input_shapes");

  const std::string name = n.name;
  const ir::ValueId x = n.inputs[0];
  const ir::ValueId y = n.outputs[0];
  const DType dtype = g.value(y).dtype;
  ir::ValueId flat_shape = add_int64_const(g, names, name + "/coerce_shape", flat);
  ir::ValueId back_shape = add_int64_const(g, names, name + "/restore_shape", back);
  ir::ValueId x2 = g.add_value(names.fresh(name + "/coerced"), g.value(x).dtype, Shape::unknown_rank());
  ir::ValueId y2 = g.add_value(names.fresh(name + "/coerced_out"), dtype, Shape::unknown_rank());

  ir::Node reshape_in;
  reshape_in.op = "Reshape";
  reshape_in.name = names.fresh(name + "/coerce");
  reshape_in.inputs = {x, flat_shape};
  reshape_in.outputs = {x2};
  g.add_node(std::move(reshape_in));

  ir::Node& op = g.nodes[index];  // re-fetch: add_node may have moved the nodes
  op.inputs = {x2};
  op.outputs = {y2};
  op.attrs["axis"] = int64_t{-1};
  g.value(y2).producer = static_cast<int32_t>(index);

  ir::Node reshape_out;
  reshape_out.op = "Reshape";
  reshape_out.name = names.fresh(name + "/restore");
  reshape_out.inputs = {y2, back_shape};
  reshape_out.outputs = {y};
  g.add_node(std::move(reshape_out));
  return true;
}

Status rewrite_batch_norm(ir::Graph& g, size_t index, const ir::ConsumerIndex& users) {
  ir::Node& n = g.nodes[index];
  if (n.attr_int("training_mode", 0) != 0)
    return make_error(StatusCode::kFeatureUnsupported, label(n), ": training_mode=1 (training) is not supported");
  if (n.outputs.size() <= 1) return Status::ok();
  for (size_t k = 1; k < n.outputs.size(); ++k) {
    ir::ValueId v = n.outputs[k];
    bool is_output = false;
    for (ir::ValueId o : g.outputs) is_output |= (o == v);
    if (!users[static_cast<size_t>(v)].empty() || is_output)
      return make_error(StatusCode::kFeatureUnsupported, label(n), ": output ", k, " ('", g.value(v).name,
                        "') is a training statistic and is used; only inference BatchNormalization is supported");
  }
  for (size_t k = 1; k < n.outputs.size(); ++k) g.value(n.outputs[k]).producer = -1;
  n.outputs = std::vector<ir::ValueId>{n.outputs.front()};
  return Status::ok();
}

bool is_softmax_family(const std::string& op) { return op == "Softmax" || op == "LogSoftmax" || op == "Hardmax"; }

}  // namespace

Status rewrite_legacy_ops(ir::Graph& g, int64_t opset, std::vector<ir::ValueId>* pending) {
  NameAllocator names(g);
  const auto users = g.consumers();
  const size_t original = g.nodes.size();  // nodes appended by rewrites are already opset-17 form
  for (size_t i = 0; i < original; ++i) {
    const std::string op = g.nodes[i].op;
    if (is_softmax_family(op) && opset < 13) {
      LW_ASSIGN_OR_RETURN(bool done, rewrite_coerced_axis(g, names, i, false));
      if (!done) pending->push_back(g.nodes[i].outputs[0]);
    } else if (op == "Dropout" && opset < 12) {
      g.nodes[i].attrs.erase("ratio");
    } else if ((op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") && opset < 13) {
      LW_RETURN_IF_ERROR(attribute_to_input(g, names, i, "axes", op == "Unsqueeze", opset));
    } else if (op == "Split" && opset < 13) {
      LW_RETURN_IF_ERROR(attribute_to_input(g, names, i, "split", false, opset));
    } else if (op == "BatchNormalization") {
      LW_RETURN_IF_ERROR(rewrite_batch_norm(g, i, users));
    }
  }
  return Status::ok();
}

Status finish_legacy_rewrites(ir::Graph& g, const std::vector<ir::ValueId>& pending) {
  NameAllocator names(g);
  for (ir::ValueId y : pending) {
    if (!g.valid_value(y) || g.value(y).producer < 0 || static_cast<size_t>(g.value(y).producer) >= g.nodes.size())
      return make_error(StatusCode::kInternal, "a pending legacy rewrite lost its node");
    size_t index = static_cast<size_t>(g.value(y).producer);
    LW_ASSIGN_OR_RETURN(bool done, rewrite_coerced_axis(g, names, index, true));
    (void)done;  // with rank_required, not done is an error
  }
  return Status::ok();
}

}  // namespace lw::onnx_import
