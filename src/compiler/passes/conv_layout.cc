#include "compiler/passes/conv_layout.h"

#include <algorithm>
#include <set>
#include <string>

#include "compiler/passes/activation_fusion.h"
#include "compiler/passes/const_value.h"
#include "compiler/passes/epilogue_fusion.h"

namespace lw::passes {

namespace {

bool is_unary_elementwise(const std::string& op) {
  static const std::set<std::string> ops = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish",
                                            "Elu",  "Selu",    "Neg",  "Abs",       "Exp",         "Sqrt",
                                            "Erf",  "Softplus", "Identity", kOpSiLU};
  return ops.count(op) != 0;
}

bool is_binary_elementwise(const std::string& op) { return op == "Add" || op == "Sub" || op == "Mul" || op == "Div"; }

bool is_scalar(const ir::Graph& g, ir::ValueId v) {
  if (v == ir::kNoValue) return true;
  const Shape& s = g.value(v).shape;
  if (!s.is_static()) return false;
  for (int64_t d : s.dims())
    if (d != 1) return false;
  return true;
}

// Whether `v` varies at most per image and channel against the 4-D activation shape `out`:
// static, rank <= 4, and right-aligned to 4 dims [n, c, 1, 1] with n in {1, N} and c in {1, C}
// (a squeeze-and-excitation scale, a per-channel constant, a scalar). Such a value has the same
// bytes in every layout, so it stays plain while the activation is in the convolution layout.
bool per_channel(const ir::Graph& g, ir::ValueId v, const Shape& out) {
  if (v == ir::kNoValue || out.rank() != 4 || !out.is_static()) return false;
  const Shape& s = g.value(v).shape;
  if (!s.is_static() || s.rank() > 4) return false;
  Dims d(4 - s.rank(), 1);
  d.insert(d.end(), s.dims().begin(), s.dims().end());
  const Dims& o = out.dims();
  return d[2] == 1 && d[3] == 1 && (d[1] == 1 || d[1] == o[1]) && (d[0] == 1 || d[0] == o[0]);
}

// The inputs of `n` that carry the activation, when `n` works in either layout; empty when it
// does not. Element-wise ops never look at the layout (same-shape operands, or one operand
// per_channel, which their kernels see in the activation's order), nor does a Pad of nothing;
// a BatchNormalization and a Concat along the channels of 4-D values know how each layout
// holds them.
std::vector<int32_t> agnostic_data_inputs(const ir::Graph& g, const ir::Node& n) {
  if (n.outputs.size() != 1 || n.inputs.empty()) return {};
  const Shape& out = g.value(n.outputs[0]).shape;
  auto same = [&](ir::ValueId v) { return v != ir::kNoValue && g.value(v).shape == out; };
  if (is_unary_elementwise(n.op) && n.inputs.size() == 1 && same(n.inputs[0])) return {0};
  if (pads_nothing(g, n)) return {0};
  // An inference BatchNormalization (a per-channel multiply and add; its kernel reads the
  // layout) on a 4-D activation.
  if (n.op == "BatchNormalization" && n.inputs.size() == 5 && out.rank() == 4 && same(n.inputs[0])) return {0};
  if (n.op == "Clip" && same(n.inputs[0])) {
    for (size_t i = 1; i < n.inputs.size(); ++i)
      if (!is_scalar(g, n.inputs[i])) return {};
    return {0};
  }
  if (is_binary_elementwise(n.op) && n.inputs.size() == 2) {
    if (same(n.inputs[0]) && same(n.inputs[1])) return {0, 1};
    if (same(n.inputs[0]) && per_channel(g, n.inputs[1], out)) return {0};
    if (same(n.inputs[1]) && per_channel(g, n.inputs[0], out)) return {1};
    return {};
  }
  if (n.op == "Concat" && out.rank() == 4 && out.is_static()) {
    int64_t axis = n.attr_int("axis", 0);
    if (axis < 0) axis += 4;
    if (axis != 1) return {};
    std::vector<int32_t> all;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (n.inputs[i] == ir::kNoValue || g.value(n.inputs[i]).shape.rank() != 4) return {};
      all.push_back(static_cast<int32_t>(i));
    }
    return all;
  }
  return {};
}

// Ops whose CPU kernels take their data input (slot 0) and write their output in either layout:
// convolutions and spatial pools (one output; MaxPool's Indices are plain positions).
bool layout_aware(const ir::Node& n) {
  return n.op == "Conv" || ((n.op == "MaxPool" || n.op == "AveragePool") && n.outputs.size() == 1);
}

// Ops that read the convolution layout at slot 0 but always write plain output: the global pools
// (their [N, C, 1, 1] output is the same bytes in every layout when no channel is padding).
bool reads_conv_layout(const ir::Node& n) { return n.op == "GlobalAveragePool" || n.op == "GlobalMaxPool"; }

}  // namespace

std::vector<bool> choose_conv_layout(const ir::Graph& g, int64_t channel_block) {
  std::vector<bool> cl(g.values.size(), false);
  const int64_t block = std::max<int64_t>(channel_block, 1);
  std::vector<std::vector<int32_t>> agnostic(g.nodes.size());
  // Optimistic start: every 4-D float value a layout-aware or an agnostic op produces.
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    const bool aware = layout_aware(n);
    if (!aware) agnostic[i] = agnostic_data_inputs(g, n);
    if ((!aware && agnostic[i].empty()) || n.outputs.size() != 1) continue;
    const ir::Value& v = g.value(n.outputs[0]);
    cl[static_cast<size_t>(n.outputs[0])] =
        v.dtype == DType::kFloat32 && v.shape.rank() == 4 && v.shape.is_static() && v.shape.dims()[1] % block == 0;
  }
  for (ir::ValueId out : g.outputs) cl[static_cast<size_t>(out)] = false;
  auto consumers = g.consumers();
  // Drop values until consistent: an agnostic op's inputs and output agree; every reader of a
  // value in the convolution layout is a Conv (as X or fused residual), a pool (as X) or an agnostic op
  // keeping it.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const ir::Node& n = g.nodes[i];
      if (agnostic[i].empty()) continue;
      ir::ValueId out = n.outputs[0];
      bool all_in = true;
      for (int32_t s : agnostic[i]) all_in = all_in && cl[static_cast<size_t>(n.inputs[static_cast<size_t>(s)])];
      if (cl[static_cast<size_t>(out)] && !all_in) {
        cl[static_cast<size_t>(out)] = false;
        changed = true;
      }
    }
    for (size_t v = 0; v < g.values.size(); ++v) {
      if (!cl[v]) continue;
      bool ok = !consumers[v].empty();
      for (auto [c, slot] : consumers[v]) {
        const ir::Node& cn = g.nodes[static_cast<size_t>(c)];
        bool residual = cn.attr_int(kAttrResidual, 0) != 0 && static_cast<size_t>(slot) + 1 == cn.inputs.size();
        bool conv_ok = (layout_aware(cn) || reads_conv_layout(cn)) && (slot == 0 || (cn.op == "Conv" && residual));
        if (conv_ok && cn.op != "Conv" && g.value(v).shape.rank() != 4) conv_ok = false;
        bool agnostic_ok = false;
        if (!agnostic[static_cast<size_t>(c)].empty() && cl[static_cast<size_t>(cn.outputs[0])])
          for (int32_t s : agnostic[static_cast<size_t>(c)]) agnostic_ok = agnostic_ok || s == slot;
        ok = ok && (conv_ok || agnostic_ok);
      }
      if (!ok) {
        cl[v] = false;
        changed = true;
      }
    }
  }
  return cl;
}

}  // namespace lw::passes
