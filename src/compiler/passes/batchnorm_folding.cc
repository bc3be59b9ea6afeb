#include "compiler/passes/batchnorm_folding.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "compiler/new_tensor.h"

namespace lw::passes {

namespace {

// The float32 Const tensor producing `v` with exactly `dims`, else null.
const ir::TensorData* float_const(const ir::Graph& g, ir::ValueId v, const Dims* dims) {
  if (v == ir::kNoValue || g.value(v).producer < 0) return nullptr;
  const ir::Node& p = g.nodes[static_cast<size_t>(g.value(v).producer)];
  if (p.op != ir::kOpConst) return nullptr;
  const ir::TensorData* t = p.attr_tensor("value");
  if (!t || t->dtype != DType::kFloat32 || (dims && t->dims != *dims)) return nullptr;
  return t;
}

// A value name not yet used in `g`, starting from `base`.
std::string fresh_name(const ir::Graph& g, const std::string& base) {
  std::string name = base;
  for (int k = 1; g.find_value(name) != ir::kNoValue; ++k) name = base + "_" + std::to_string(k);
  return name;
}

}  // namespace

Result<int> fold_batchnorms(ir::Graph& g) {
  auto consumers = g.consumers();
  std::set<ir::ValueId> graph_outputs(g.outputs.begin(), g.outputs.end());
  std::vector<bool> drop(g.nodes.size(), false);
  int folded = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& bn = g.nodes[i];
    if (bn.op != "BatchNormalization" || bn.inputs.size() != 5 || bn.outputs.size() != 1 ||
        bn.attr_int("training_mode", 0) != 0)
      continue;
    const ir::ValueId x = bn.inputs[0];
    if (x == ir::kNoValue || g.value(x).producer < 0 || graph_outputs.count(x) ||
        consumers[static_cast<size_t>(x)].size() != 1)
      continue;
    const auto conv_index = static_cast<size_t>(g.value(x).producer);
    ir::Node& conv = g.nodes[conv_index];
    if (conv.op != "Conv" || conv.outputs.size() != 1 || conv.inputs.size() < 2) continue;
    const ir::TensorData* w = float_const(g, conv.inputs[1], nullptr);
    if (!w || w->dims.size() < 3) continue;
    const Dims per_channel = {w->dims[0]};
    const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] != ir::kNoValue;
    const ir::TensorData* b = has_bias ? float_const(g, conv.inputs[2], &per_channel) : nullptr;
    if (has_bias && !b) continue;
    const ir::TensorData* p[4];
    bool all_const = true;
    for (size_t k = 0; k < 4; ++k) all_const = all_const && (p[k] = float_const(g, bn.inputs[k + 1], &per_channel));
    if (!all_const || g.value(bn.outputs[0]).shape != g.value(x).shape) continue;

    const auto channels = static_cast<size_t>(w->dims[0]);
    const size_t per_out = static_cast<size_t>(w->numel()) / channels;
    const double eps = bn.attr_float("epsilon", 1e-5f);
    LW_ASSIGN_OR_RETURN(ir::TensorData w2, compiler::new_tensor(DType::kFloat32, w->dims));
    LW_ASSIGN_OR_RETURN(ir::TensorData b2, compiler::new_tensor(DType::kFloat32, per_channel));
    auto* wo = reinterpret_cast<float*>(compiler::writable(w2.bytes));
    auto* bo = reinterpret_cast<float*>(compiler::writable(b2.bytes));
    const float* wi = w->as<float>();
    for (size_t o = 0; o < channels; ++o) {
      const double a = double(p[0]->as<float>()[o]) / std::sqrt(double(p[3]->as<float>()[o]) + eps);
      for (size_t j = 0; j < per_out; ++j) wo[o * per_out + j] = static_cast<float>(wi[o * per_out + j] * a);
      const double bias = b ? b->as<float>()[o] : 0.0;
      bo[o] = static_cast<float>(bias * a + p[1]->as<float>()[o] - p[2]->as<float>()[o] * a);
    }
    // Consts only this pair read go with it.
    for (ir::ValueId v : {conv.inputs[1], has_bias ? conv.inputs[2] : ir::kNoValue, bn.inputs[1], bn.inputs[2],
                          bn.inputs[3], bn.inputs[4]}) {
      if (v == ir::kNoValue || graph_outputs.count(v)) continue;
      bool only_pair = true;
      for (auto [c, slot] : consumers[static_cast<size_t>(v)])
        only_pair = only_pair && (static_cast<size_t>(c) == i || static_cast<size_t>(c) == conv_index);
      if (only_pair) drop[static_cast<size_t>(g.value(v).producer)] = true;
    }
    const std::string base = conv.name.empty() ? g.value(x).name : conv.name;
    ir::ValueId wv = g.add_const(fresh_name(g, base + "_bn_folded_W"), std::move(w2));
    ir::ValueId bv = g.add_const(fresh_name(g, base + "_bn_folded_B"), std::move(b2));
    ir::Node& c = g.nodes[conv_index];  // add_const may have moved the nodes
    c.inputs.resize(3);
    c.inputs[1] = wv;
    c.inputs[2] = bv;
    c.outputs = {g.nodes[i].outputs[0]};
    drop[i] = true;
    drop.resize(g.nodes.size(), false);
    ++folded;
  }
  if (folded == 0) return 0;
  std::vector<ir::Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!drop[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
  LW_RETURN_IF_ERROR(g.sort());  // also recomputes every value's producer
  g.remove_orphan_values();
  return folded;
}

}  // namespace lw::passes
