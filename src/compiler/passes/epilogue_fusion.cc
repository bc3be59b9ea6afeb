#include "compiler/passes/epilogue_fusion.h"

#include <algorithm>
#include <limits>
#include <set>

#include "compiler/passes/activation_fusion.h"
#include "compiler/passes/const_value.h"

namespace lw::passes {

namespace {

bool const_scalar(const ir::Graph& g, ir::ValueId v, float* out) {
  if (v == ir::kNoValue) return true;  // bound absent: keep the default
  double d = 0;
  if (!const_number(g, v, &d)) return false;
  *out = static_cast<float>(d);
  return true;
}

// Whether `bn` is an inference BatchNormalization of `x` (a float [N, C, ...] value) whose four
// parameters are float [C].
bool is_channel_batchnorm(const ir::Graph& g, const ir::Node& bn, ir::ValueId x) {
  if (bn.op != "BatchNormalization" || bn.inputs.size() != 5 || bn.inputs[0] != x || bn.outputs.size() != 1 ||
      bn.attr_int("training_mode", 0) != 0)
    return false;
  const Shape& xs = g.value(x).shape;
  if (!xs.is_static() || xs.rank() < 2 || g.value(bn.outputs[0]).shape != xs) return false;
  for (size_t k = 1; k < 5; ++k) {
    ir::ValueId p = bn.inputs[k];
    if (p == ir::kNoValue || p == x) return false;
    const ir::Value& v = g.value(p);
    if (v.dtype != DType::kFloat32 || !v.shape.is_static() || v.shape.dims() != Dims{xs.dims()[1]}) return false;
  }
  return true;
}

}  // namespace

// The bias `v` of an Add after a MatMul producing `out`: float32, static, [N] or [1, .., 1, N]
// where N is out's last dim.
bool is_row_bias(const ir::Graph& g, ir::ValueId v, const Shape& out) {
  const ir::Value& b = g.value(v);
  if (b.dtype != DType::kFloat32 || !b.shape.is_static() || !out.is_static() || out.rank() < 1) return false;
  const Dims& d = b.shape.dims();
  if (d.empty() || d.size() > out.dims().size() || d.back() != out.dims().back()) return false;
  for (size_t i = 0; i + 1 < d.size(); ++i)
    if (d[i] != 1) return false;
  return true;
}

int fuse_epilogues(ir::Graph& g, const EpilogueOptions& options) {
  std::set<ir::ValueId> graph_outputs(g.outputs.begin(), g.outputs.end());
  // Per value, how many node inputs read it and the XOR of those nodes' indices: when exactly
  // one input reads it, the XOR is that node. Kept current as nodes are rewritten (rebuilding
  // the consumers per fusion made the pass quadratic: 10,000 allocations of MobileNet v2's
  // load): a node's reads leave before it changes and come back after.
  std::vector<int32_t> reads(g.values.size(), 0), reader_xor(g.values.size(), 0);
  auto count_reads = [&](int32_t n, int32_t delta) {
    for (ir::ValueId v : g.nodes[static_cast<size_t>(n)].inputs) {
      if (!g.valid_value(v)) continue;
      reads[static_cast<size_t>(v)] += delta;
      reader_xor[static_cast<size_t>(v)] ^= n;
    }
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) count_reads(static_cast<int32_t>(i), 1);
  // The single consumer node of v, or -1.
  auto only_consumer = [&](ir::ValueId v) -> int32_t {
    if (reads[static_cast<size_t>(v)] != 1 || graph_outputs.count(v)) return -1;
    return reader_xor[static_cast<size_t>(v)];
  };
  auto forget_reads = [&](int32_t n) { count_reads(n, -1); };
  auto note_reads = [&](int32_t n) { count_reads(n, 1); };
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const std::string op = g.nodes[i].op;
    bool is_conv = op == "Conv";
    // A BatchNormalization of its own (DenseNet's, before each Relu -> Conv) takes the
    // activation after it, on backends whose kernel reads it (with `batchnorm`).
    const bool is_batchnorm = op == "BatchNormalization" && options.batchnorm && g.nodes[i].inputs.size() == 5;
    if (!is_conv && op != "Gemm" && op != "MatMul" && !is_batchnorm) continue;
    if (g.nodes[i].outputs.size() != 1 || g.nodes[i].has_attr(kAttrResidual) || g.nodes[i].has_attr(kAttrActivation) ||
        g.nodes[i].has_attr(kAttrBias) || g.nodes[i].has_attr(kAttrBatchNorm))
      continue;  // already fused (it moved forward)
    ir::Node node = g.nodes[i];
    ir::ValueId cur = node.outputs[0];
    if (g.value(cur).dtype != DType::kFloat32 || !g.value(cur).shape.is_static()) continue;
    std::vector<int32_t> absorbed;
    int32_t at = static_cast<int32_t>(i);

    int32_t next = only_consumer(cur);
    const bool batchnorm_here = is_conv || (op == "Gemm" && g.value(cur).shape.rank() == 2);
    if (options.batchnorm && batchnorm_here && next >= 0 && node.inputs.size() <= 3 &&
        is_channel_batchnorm(g, g.nodes[static_cast<size_t>(next)], cur)) {
      const ir::Node& bn = g.nodes[static_cast<size_t>(next)];
      while (node.inputs.size() < 3) node.inputs.push_back(ir::kNoValue);
      node.inputs.insert(node.inputs.end(), bn.inputs.begin() + 1, bn.inputs.end());
      node.attrs[kAttrBatchNorm] = int64_t{1};
      node.attrs[kAttrBnEpsilon] = bn.attr_float("epsilon", 1e-5f);
      absorbed.push_back(at);
      at = next;
      cur = bn.outputs[0];
      next = only_consumer(cur);
    }
    if (is_conv && next >= 0 && g.nodes[static_cast<size_t>(next)].op == "Add" &&
        g.nodes[static_cast<size_t>(next)].inputs.size() == 2) {
      const ir::Node& add = g.nodes[static_cast<size_t>(next)];
      ir::ValueId other = add.inputs[0] == cur ? add.inputs[1] : add.inputs[0];
      const ir::Value& ov = g.value(other);
      if (other != cur && ov.dtype == DType::kFloat32 && ov.shape == g.value(cur).shape &&
          g.value(add.outputs[0]).shape == g.value(cur).shape) {
        while (node.inputs.size() < 3) node.inputs.push_back(ir::kNoValue);
        node.inputs.push_back(other);
        node.attrs[kAttrResidual] = int64_t{1};
        absorbed.push_back(at);
        at = next;
        cur = add.outputs[0];
        next = only_consumer(cur);
      }
    }
    if (options.matmul_bias && op == "MatMul" && node.inputs.size() == 2 && next >= 0 &&
        g.nodes[static_cast<size_t>(next)].op == "Add" && g.nodes[static_cast<size_t>(next)].inputs.size() == 2) {
      const ir::Node& add = g.nodes[static_cast<size_t>(next)];
      ir::ValueId other = add.inputs[0] == cur ? add.inputs[1] : add.inputs[0];
      if (other != cur && is_row_bias(g, other, g.value(cur).shape) &&
          g.value(add.outputs[0]).shape == g.value(cur).shape) {
        node.inputs.push_back(other);
        node.attrs[kAttrBias] = int64_t{1};
        absorbed.push_back(at);
        at = next;
        cur = add.outputs[0];
        next = only_consumer(cur);
      }
    }
    if (next >= 0) {
      const ir::Node& act = g.nodes[static_cast<size_t>(next)];
      float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
      bool ok = false;
      if (act.op == "Relu" && act.inputs.size() == 1) {
        node.attrs[kAttrActivation] = std::string("Relu");
        ok = true;
      } else if (act.op == kOpSiLU && is_conv && !node.has_attr(kAttrResidual) && act.inputs.size() == 1) {
        // (passes/activation_fusion.h) The Conv kernels apply it, where theirs cannot in
        // registers after them; not after a residual, which they would add after it.
        node.attrs[kAttrActivation] = std::string("SiLU");
        ok = true;
      } else if (act.op == "Clip" && !act.inputs.empty() && act.inputs[0] == cur) {
        ok = (act.inputs.size() < 2 || const_scalar(g, act.inputs[1], &lo)) &&
             (act.inputs.size() < 3 || const_scalar(g, act.inputs[2], &hi));
        lo = act.attr_float("min", lo);  // opset < 11 keeps the bounds as attributes
        hi = act.attr_float("max", hi);
        if (ok) {
          node.attrs[kAttrActivation] = std::string("Clip");
          node.attrs[kAttrClipMin] = lo;
          node.attrs[kAttrClipMax] = hi;
        }
      }
      if (ok && g.value(act.outputs[0]).shape == g.value(cur).shape) {
        absorbed.push_back(at);
        at = next;
        cur = act.outputs[0];
      } else {
        node.attrs.erase(kAttrActivation);
        node.attrs.erase(kAttrClipMin);
        node.attrs.erase(kAttrClipMax);
      }
    }
    if (absorbed.empty()) continue;
    node.outputs = {cur};
    for (int32_t a : absorbed) {
      ir::Node& gone = g.nodes[static_cast<size_t>(a)];
      forget_reads(a);
      gone.op = kOpFusedAway;
      gone.inputs.clear();
      gone.outputs.clear();
      gone.attrs.clear();
    }
    forget_reads(at);
    g.nodes[static_cast<size_t>(at)] = std::move(node);
    g.value(cur).producer = at;
    note_reads(at);
    fused += static_cast<int>(absorbed.size());
  }
  return fused;
}

}  // namespace lw::passes
