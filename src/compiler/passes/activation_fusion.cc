#include "compiler/passes/activation_fusion.h"

#include <cmath>
#include <set>
#include <string>

#include "compiler/passes/epilogue_fusion.h"

namespace lw::passes {

namespace {

// The op `act` makes with the Mul when it is the gate of x * gate(x) (empty when it is not).
std::string fused_op(const ir::Node& act) {
  if (act.op == "Sigmoid") return kOpSiLU;
  // HardSwish is x * HardSigmoid(x) with these constants exactly (torch exports 1/6 in float).
  if (act.op == "HardSigmoid" && std::fabs(act.attr_float("alpha", 0.2f) - 1.0f / 6.0f) < 1e-7f &&
      act.attr_float("beta", 0.5f) == 0.5f)
    return "HardSwish";
  return {};
}

}  // namespace

int fuse_activations(ir::Graph& g) {
  const std::set<ir::ValueId> graph_outputs(g.outputs.begin(), g.outputs.end());
  const auto consumers = g.consumers();
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    ir::Node& mul = g.nodes[i];
    if (mul.op != "Mul" || mul.inputs.size() != 2 || mul.outputs.size() != 1) continue;
    for (int k = 0; k < 2; ++k) {
      const ir::ValueId gate = mul.inputs[static_cast<size_t>(k)], x = mul.inputs[static_cast<size_t>(1 - k)];
      if (gate == ir::kNoValue || x == ir::kNoValue || graph_outputs.count(gate) != 0) continue;
      const int32_t producer = g.value(gate).producer;
      if (producer < 0 || consumers[static_cast<size_t>(gate)].size() != 1) continue;
      ir::Node& act = g.nodes[static_cast<size_t>(producer)];
      const std::string op = fused_op(act);
      if (op.empty() || act.inputs.size() != 1 || act.inputs[0] != x || g.value(x).dtype != DType::kFloat32 ||
          g.value(mul.outputs[0]).shape != g.value(x).shape)
        continue;
      mul.op = op;
      mul.inputs = {x};
      mul.attrs.clear();
      act.op = kOpFusedAway;
      act.inputs.clear();
      act.outputs.clear();
      act.attrs.clear();
      g.value(gate).producer = -1;
      ++fused;
      break;
    }
  }
  return fused;
}

}  // namespace lw::passes
