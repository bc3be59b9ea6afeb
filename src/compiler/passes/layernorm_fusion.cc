#include "compiler/passes/layernorm_fusion.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "compiler/passes/const_value.h"
#include "compiler/passes/epilogue_fusion.h"

namespace lw::passes {

namespace {

using Consumers = ir::ConsumerIndex;

bool is_float_with_shape(const ir::Graph& g, ir::ValueId v, const Shape& shape) {
  return v != ir::kNoValue && g.value(v).dtype == DType::kFloat32 && g.value(v).shape == shape;
}

// A ReduceMean of `in` (input 0) over the last axis of a rank-`rank` tensor, keeping dims.
bool mean_over_last_axis(const ir::Graph& g, const ir::Node& n, ir::ValueId in, int64_t rank) {
  if (n.op != "ReduceMean" || n.inputs.empty() || n.inputs[0] != in || n.outputs.size() != 1) return false;
  if (n.attr_int("keepdims", 1) != 1) return false;
  std::vector<int64_t> axes;
  if (n.inputs.size() > 1 && n.inputs[1] != ir::kNoValue) {
    // Opset 18: axes as input 1, which the kernel requires to be constant.
    ir::ValueId a = n.inputs[1];
    if (g.value(a).producer < 0) return false;
    const ir::Node& p = g.nodes[static_cast<size_t>(g.value(a).producer)];
    const ir::TensorData* t = p.op == ir::kOpConst ? p.attr_tensor("value") : nullptr;
    if (!t) return false;
    auto ints = ir::tensor_to_ints(*t);
    if (!ints.is_ok()) return false;
    axes = *ints;
  } else {
    if (!n.has_attr("axes")) return false;  // no axes: every axis is reduced
    axes = n.attr_ints("axes");
  }
  return axes.size() == 1 && (axes[0] == -1 || axes[0] == rank - 1);
}

// The operand of a two-input node other than `v`, or kNoValue when both are `v`.
ir::ValueId other_operand(const ir::Node& n, ir::ValueId v) {
  if (n.inputs[0] == v) return n.inputs[1] == v ? ir::kNoValue : n.inputs[1];
  return n.inputs[1] == v ? n.inputs[0] : ir::kNoValue;
}

struct Match {
  ir::ValueId x = ir::kNoValue, gamma = ir::kNoValue, beta = ir::kNoValue, out = ir::kNoValue;
  float eps = 0;
  int64_t c = 0;
  std::vector<int32_t> chain;  // node indices, the first ReduceMean first, the last node last
};

}  // namespace

int fuse_layernorms(ir::Graph& g) {
  Consumers consumers = g.consumers();
  std::set<ir::ValueId> graph_outputs(g.outputs.begin(), g.outputs.end());
  // The single consumer node of v, or -1 (also when v is a graph output).
  auto only_consumer = [&](ir::ValueId v) -> int32_t {
    const auto& c = consumers[static_cast<size_t>(v)];
    if (c.size() != 1 || graph_outputs.count(v)) return -1;
    return c[0].first;
  };
  // Node `i` if it exists (i >= 0) and is `op` with `inputs` inputs and one output; else null.
  auto node_if = [&](int32_t i, const char* op, size_t inputs) -> const ir::Node* {
    if (i < 0) return nullptr;
    const ir::Node& n = g.nodes[static_cast<size_t>(i)];
    if (n.op != op || n.inputs.size() != inputs || n.outputs.size() != 1) return nullptr;
    return &n;
  };

  auto match = [&](size_t i, Match* mt) -> bool {
    const ir::Node& mean = g.nodes[i];
    if (mean.op != "ReduceMean" || mean.inputs.empty() || mean.outputs.size() != 1) return false;
    const ir::ValueId x = mean.inputs[0];
    if (x == ir::kNoValue || g.value(x).dtype != DType::kFloat32 || !g.value(x).shape.is_static()) return false;
    const Shape x_shape = g.value(x).shape;
    const int64_t rank = static_cast<int64_t>(x_shape.rank());
    if (rank < 1 || x_shape.dims().back() <= 0) return false;
    Dims row_dims = x_shape.dims();
    row_dims.back() = 1;
    const Shape row_shape(row_dims);  // the shape of the per-row statistics
    if (!mean_over_last_axis(g, mean, x, rank)) return false;
    const ir::ValueId m = mean.outputs[0];
    if (!is_float_with_shape(g, m, row_shape)) return false;
    mt->x = x;
    mt->c = x_shape.dims().back();
    mt->chain = {static_cast<int32_t>(i)};

    // d = Sub(x, m)
    const int32_t sub_i = only_consumer(m);
    const ir::Node* sub = node_if(sub_i, "Sub", 2);
    if (!sub || sub->inputs[0] != x || sub->inputs[1] != m) return false;
    const ir::ValueId d = sub->outputs[0];
    if (!is_float_with_shape(g, d, x_shape) || graph_outputs.count(d)) return false;
    mt->chain.push_back(sub_i);

    // d feeds exactly Pow(d, 2) and Div(d, s), each as input 0.
    const auto& d_uses = consumers[static_cast<size_t>(d)];
    if (d_uses.size() != 2 || d_uses[0].second != 0 || d_uses[1].second != 0) return false;
    int32_t pow_i = d_uses[0].first, div_i = d_uses[1].first;
    if (g.nodes[static_cast<size_t>(pow_i)].op != "Pow") std::swap(pow_i, div_i);
    const ir::Node* pw = node_if(pow_i, "Pow", 2);
    const ir::Node* div = node_if(div_i, "Div", 2);
    if (!pw || !div || pow_i == div_i) return false;
    double exponent = 0;
    if (!const_number(g, pw->inputs[1], &exponent) || exponent != 2.0) return false;
    const ir::ValueId p = pw->outputs[0];
    if (!is_float_with_shape(g, p, x_shape)) return false;
    mt->chain.push_back(pow_i);

    // v = ReduceMean(p, last axis)
    const int32_t var_i = only_consumer(p);
    if (var_i < 0 || !mean_over_last_axis(g, g.nodes[static_cast<size_t>(var_i)], p, rank)) return false;
    const ir::ValueId v = g.nodes[static_cast<size_t>(var_i)].outputs[0];
    if (!is_float_with_shape(g, v, row_shape)) return false;
    mt->chain.push_back(var_i);

    // ve = Add(v, eps) in either order
    const int32_t eps_i = only_consumer(v);
    const ir::Node* add_eps = node_if(eps_i, "Add", 2);
    if (!add_eps) return false;
    double eps = 0;
    if (!const_number(g, other_operand(*add_eps, v), &eps)) return false;
    const ir::ValueId ve = add_eps->outputs[0];
    if (!is_float_with_shape(g, ve, row_shape)) return false;
    mt->eps = static_cast<float>(eps);
    mt->chain.push_back(eps_i);

    // s = Sqrt(ve)
    const int32_t sqrt_i = only_consumer(ve);
    const ir::Node* sq = node_if(sqrt_i, "Sqrt", 1);
    if (!sq) return false;
    const ir::ValueId s = sq->outputs[0];
    if (!is_float_with_shape(g, s, row_shape)) return false;
    mt->chain.push_back(sqrt_i);

    // n = Div(d, s)
    if (only_consumer(s) != div_i || div->inputs[0] != d || div->inputs[1] != s) return false;
    ir::ValueId cur = div->outputs[0];
    if (!is_float_with_shape(g, cur, x_shape)) return false;
    mt->chain.push_back(div_i);

    // Optional Mul(cur, gamma), then optional Add(cur, beta), gamma and beta float32 [C].
    const Shape param_shape(Dims{mt->c});
    auto absorb = [&](const char* op, ir::ValueId* param) {
      const int32_t next = only_consumer(cur);
      const ir::Node* n = node_if(next, op, 2);
      if (!n) return;
      const ir::ValueId other = other_operand(*n, cur);
      if (!is_float_with_shape(g, other, param_shape) || !is_float_with_shape(g, n->outputs[0], x_shape)) return;
      *param = other;
      cur = n->outputs[0];
      mt->chain.push_back(next);
    };
    absorb("Mul", &mt->gamma);
    absorb("Add", &mt->beta);
    mt->out = cur;
    return true;
  };

  int formed = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Match mt;
    if (!match(i, &mt)) continue;
    const int32_t first = mt.chain.front(), last = mt.chain.back();
    const std::string name = g.nodes[static_cast<size_t>(first)].name;

    // The values the chain computed and no one reads any more (every output but the last).
    std::vector<ir::ValueId> orphans;
    for (int32_t k : mt.chain)
      for (ir::ValueId o : g.nodes[static_cast<size_t>(k)].outputs)
        if (o != mt.out) orphans.push_back(o);
    for (int32_t k : mt.chain) {
      ir::Node& gone = g.nodes[static_cast<size_t>(k)];
      gone.op = kOpFusedAway;
      gone.inputs.clear();
      gone.outputs.clear();
      gone.attrs.clear();
    }
    for (ir::ValueId o : orphans) g.value(o).producer = -1;

    ir::ValueId gamma = mt.gamma;
    if (gamma == ir::kNoValue) {
      // Scale of ones, produced where the first ReduceMean was (before the fused node).
      std::string scale_name = g.value(mt.out).name + "_lw_ln_scale";
      for (int k = 1; g.find_value(scale_name) != ir::kNoValue; ++k)
        scale_name = g.value(mt.out).name + "_lw_ln_scale_" + std::to_string(k);
      std::vector<float> ones(static_cast<size_t>(mt.c), 1.0f);
      ir::TensorData t{DType::kFloat32, Dims{mt.c}, Blob::copy_of(ones.data(), ones.size() * sizeof(float))};
      gamma = g.add_value(scale_name, DType::kFloat32, Shape(Dims{mt.c}));
      ir::Node& scale = g.nodes[static_cast<size_t>(first)];
      scale.op = ir::kOpConst;
      scale.name = scale_name;
      scale.outputs = {gamma};
      scale.attrs["value"] = std::move(t);
      g.value(gamma).producer = first;
    }

    ir::Node ln;
    ln.op = "LayerNormalization";
    ln.name = name;
    ln.inputs = {mt.x, gamma};
    if (mt.beta != ir::kNoValue) ln.inputs.push_back(mt.beta);
    ln.outputs = {mt.out};
    ln.attrs["axis"] = int64_t{-1};
    ln.attrs["epsilon"] = mt.eps;
    g.nodes[static_cast<size_t>(last)] = std::move(ln);
    g.value(mt.out).producer = last;
    ++formed;
    consumers = g.consumers();
  }
  return formed;
}

int fuse_layernorm_skips(ir::Graph& g) {
  const Consumers consumers = g.consumers();
  std::set<ir::ValueId> graph_outputs(g.outputs.begin(), g.outputs.end());
  int folded = 0;
  for (ir::Node& ln : g.nodes) {
    if (ln.op != "LayerNormalization" || ln.inputs.size() < 2 || ln.inputs.size() > 3 || ln.outputs.size() != 1 ||
        ln.attr_int(kAttrSkip, 0) != 0)
      continue;
    const ir::ValueId x = ln.inputs[0];
    if (x == ir::kNoValue || graph_outputs.count(x) || consumers[static_cast<size_t>(x)].size() != 1 ||
        g.value(x).producer < 0)
      continue;
    ir::Node& add = g.nodes[static_cast<size_t>(g.value(x).producer)];
    if (add.op != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    const Shape& shape = g.value(x).shape;
    if (g.value(x).dtype != DType::kFloat32 || !shape.is_static() || !is_float_with_shape(g, add.inputs[0], shape) ||
        !is_float_with_shape(g, add.inputs[1], shape))
      continue;
    const ir::ValueId a = add.inputs[0], b = add.inputs[1];
    ln.inputs[0] = a;
    if (ln.inputs.size() == 2) ln.inputs.push_back(ir::kNoValue);
    ln.inputs.push_back(b);
    ln.attrs[kAttrSkip] = int64_t{1};
    add.op = kOpFusedAway;
    add.inputs.clear();
    add.outputs.clear();
    add.attrs.clear();
    g.value(x).producer = -1;
    ++folded;
  }
  return folded;
}

}  // namespace lw::passes
