#include "compiler/passes/attention_fusion.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "compiler/passes/const_value.h"
#include "compiler/passes/epilogue_fusion.h"
#include "graph/ops/tensor_geometry.h"

namespace lw::passes {

namespace {

bool is_static_float(const ir::Graph& g, ir::ValueId v) {
  return v != ir::kNoValue && g.value(v).dtype == DType::kFloat32 && g.value(v).shape.is_static();
}

std::vector<int64_t> identity_perm(size_t rank) {
  std::vector<int64_t> perm(rank);
  for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int64_t>(i);
  return perm;
}

// An operand of the fused node: Transpose(base, perm), where base is `base` itself or, with a
// `view`, the strided view of it that attention_fusion.h describes.
struct Operand {
  ir::ValueId base = ir::kNoValue;
  std::vector<int64_t> perm;
  std::vector<int64_t> view;  // empty, or [offset, dims.., strides..]
};

struct Match {
  Operand q, k, v;  // k as [.., N, D]
  ir::ValueId mask = ir::kNoValue;  // added to the scaled scores, broadcasting
  ir::ValueId out = ir::kNoValue;
  std::vector<int64_t> out_perm;
  double scale = 1.0;
  std::vector<int32_t> gone;  // chain nodes other than the one the fused node replaces
  int32_t last = -1;          // the node the fused node replaces (o's producer or reader)
  std::string name;           // the second MatMul's, which the fused node takes
};

}  // namespace

int fuse_attention(ir::Graph& g) {
  ir::ConsumerIndex consumers = g.consumers();
  std::set<ir::ValueId> graph_outputs(g.outputs.begin(), g.outputs.end());
  auto only_consumer = [&](ir::ValueId v) -> int32_t {
    const auto& c = consumers[static_cast<size_t>(v)];
    if (c.size() != 1 || graph_outputs.count(v)) return -1;
    return c[0].first;
  };
  auto producer = [&](ir::ValueId v) -> const ir::Node* {
    const int32_t p = g.value(v).producer;
    return p < 0 ? nullptr : &g.nodes[static_cast<size_t>(p)];
  };
  // When `v` is Div(x, c), Mul(x, c) or Mul(c, x) with a one-element nonzero constant c and `v`
  // is read only by node `reader`: x, with the factor multiplied into *scale. Else kNoValue.
  auto unscaled = [&](ir::ValueId v, int32_t reader, double* scale) -> ir::ValueId {
    const ir::Node* n = producer(v);
    if (!n || n->inputs.size() != 2 || n->outputs.size() != 1 || only_consumer(v) != reader) return ir::kNoValue;
    double c = 0;
    ir::ValueId x = ir::kNoValue;
    if (n->op == "Div" && const_number(g, n->inputs[1], &c) && c != 0) {
      x = n->inputs[0];
      c = 1.0 / c;
    } else if (n->op == "Mul" && const_number(g, n->inputs[1], &c)) {
      x = n->inputs[0];
    } else if (n->op == "Mul" && const_number(g, n->inputs[0], &c)) {
      x = n->inputs[1];
    }
    // The constant must not broadcast x to another shape.
    if (x == ir::kNoValue || !is_static_float(g, x) || g.value(x).shape != g.value(v).shape) return ir::kNoValue;
    *scale *= c;
    return x;
  };

  // Folds the Transpose that produces op.base, read only by node `reader`, into op, if it
  // keeps the last axis last where `keep_last` asks for it. Returns the node that now reads
  // op.base in the chain: the Transpose, or `reader` when nothing was folded.
  auto absorb_transpose = [&](Operand* op, int32_t reader, bool keep_last, std::vector<int32_t>* gone) -> int32_t {
    const ir::Node* t = producer(op->base);
    if (!t || t->op != "Transpose" || t->inputs.size() != 1 || t->outputs.size() != 1 ||
        only_consumer(op->base) != reader || !is_static_float(g, t->inputs[0]))
      return reader;
    const std::vector<int64_t> p = ir::perm_attribute(*t, "perm", op->perm.size(), true);
    if (p.empty()) return reader;
    std::vector<int64_t> composed(op->perm.size());
    for (size_t i = 0; i < composed.size(); ++i) composed[i] = p[static_cast<size_t>(op->perm[i])];
    if (keep_last && composed.back() != static_cast<int64_t>(composed.size()) - 1) return reader;
    const int32_t t_i = g.value(op->base).producer;
    gone->push_back(t_i);
    op->base = t->inputs[0];
    op->perm = std::move(composed);
    return t_i;
  };

  // Folds a Slice of x's last axis (step 1, every other axis whole) that produces op.base,
  // directly or through a Reshape that splits only that axis, into a view of x, when each
  // value on the way has only the chain's reader (`reader` reads op.base).
  auto absorb_slice = [&](Operand* op, int32_t reader, std::vector<int32_t>* gone) {
    if (only_consumer(op->base) != reader) return;
    const Dims vdims = g.value(op->base).shape.dims();
    ir::ValueId sliced = op->base;
    int32_t reshape_i = -1;
    const ir::Node* r = producer(op->base);
    if (r && r->op == "Reshape" && r->outputs.size() == 1 && !r->inputs.empty()) {
      reshape_i = g.value(op->base).producer;
      sliced = r->inputs[0];
      if (only_consumer(sliced) != reshape_i) return;
    }
    const ir::Node* sl = producer(sliced);
    if (!sl || sl->op != "Slice" || sl->inputs.size() < 3 || sl->outputs.size() != 1 || !is_static_float(g, sliced) ||
        !is_static_float(g, sl->inputs[0]))
      return;
    const ir::ValueId x = sl->inputs[0];
    Dims starts, ends, axes, steps;
    if (!const_ints(g, sl->inputs[1], &starts) || !const_ints(g, sl->inputs[2], &ends)) return;
    if (sl->inputs.size() > 3 && sl->inputs[3] != ir::kNoValue && !const_ints(g, sl->inputs[3], &axes)) return;
    if (sl->inputs.size() > 4 && sl->inputs[4] != ir::kNoValue && !const_ints(g, sl->inputs[4], &steps)) return;
    const Dims& xd = g.value(x).shape.dims();
    const Dims& sd = g.value(sliced).shape.dims();
    auto geo = ir::slice_geometry(*sl, xd, starts, ends, axes, steps);
    if (!geo.is_ok() || xd.empty() || sd.size() != xd.size()) return;
    const size_t last = xd.size() - 1;
    for (size_t i = 0; i < xd.size(); ++i) {
      const ir::SliceAxis& a = (*geo)[i];
      if (a.step != 1 || a.out != sd[i] || (i < last && (a.start != 0 || a.out != xd[i]))) return;
    }
    // op.base's dims: x's leading dims (give or take dims of size 1), then the sliced last axis
    // split into the rest (torch's [S, 1, E] slice to [S, H, E / H]).
    size_t split_at = vdims.size();
    for (int64_t product = 1; split_at > 0 && product < sd[last];) product *= vdims[--split_at];
    int64_t split = 1;
    for (size_t i = split_at; i < vdims.size(); ++i) split *= vdims[i];
    if (split != sd[last]) return;
    std::vector<int64_t> strides(vdims.size(), 0);  // dims of size 1: any stride
    int64_t inner = 1;
    for (size_t i = vdims.size(); i-- > split_at;) {
      strides[i] = inner;
      inner *= vdims[i];
    }
    std::vector<int64_t> x_strides(xd.size(), 1);
    for (size_t i = last; i-- > 0;) x_strides[i] = x_strides[i + 1] * xd[i + 1];
    size_t xi = 0;
    for (size_t i = 0; i < split_at; ++i) {
      if (vdims[i] == 1) continue;
      while (xi < last && xd[xi] == 1) ++xi;
      if (xi == last || xd[xi] != vdims[i]) return;
      strides[i] = x_strides[xi++];
    }
    while (xi < last && xd[xi] == 1) ++xi;
    if (xi != last) return;
    op->view = {(*geo)[last].start};
    op->view.insert(op->view.end(), vdims.begin(), vdims.end());
    op->view.insert(op->view.end(), strides.begin(), strides.end());
    if (reshape_i >= 0) gone->push_back(reshape_i);
    gone->push_back(g.value(sliced).producer);
    op->base = x;
  };

  // Whether a MatMul makes `t`, directly or through one Div or Mul (the scores, scaled or not,
  // as opposed to a mask that a computation of its own made).
  auto made_by_matmul = [&](ir::ValueId t) {
    const ir::Node* n = producer(t);
    if (n && (n->op == "Div" || n->op == "Mul") && !n->inputs.empty()) {
      const ir::Node* a = producer(n->inputs[0]);
      const ir::Node* b = n->op == "Mul" && n->inputs.size() == 2 ? producer(n->inputs[1]) : nullptr;
      n = a && a->op == "MatMul" ? a : b;
    }
    return n && n->op == "MatMul";
  };

  auto match = [&](size_t i, Match* mt) -> bool {
    const ir::Node& sm = g.nodes[i];
    if (sm.op != "Softmax" || sm.inputs.size() != 1 || sm.outputs.size() != 1) return false;
    const ir::ValueId s_in = sm.inputs[0];
    if (!is_static_float(g, s_in)) return false;
    const size_t rank = g.value(s_in).shape.rank();
    const int64_t axis = sm.attr_int("axis", -1);
    if (rank < 2 || (axis != -1 && axis != static_cast<int64_t>(rank) - 1)) return false;

    // o = MatMul(p, v)
    const ir::ValueId p = sm.outputs[0];
    const int32_t mm2_i = only_consumer(p);
    if (mm2_i < 0) return false;
    const ir::Node& mm2 = g.nodes[static_cast<size_t>(mm2_i)];
    if (mm2.op != "MatMul" || mm2.inputs.size() != 2 || mm2.outputs.size() != 1 || mm2.inputs[0] != p ||
        mm2.inputs[1] == p || !mm2.attrs.empty())
      return false;
    const ir::ValueId o = mm2.outputs[0];
    mt->v = {mm2.inputs[1], identity_perm(rank), {}};
    mt->out = o;
    mt->out_perm = identity_perm(rank);
    mt->last = mm2_i;
    mt->name = mm2.name;

    // s [-> Div/Mul by a constant] [-> Add(., mask) or Add(mask, .)] -> Softmax
    ir::ValueId s = s_in;
    int32_t s_reader = static_cast<int32_t>(i);
    const ir::Node* add = producer(s_in);
    if (add && add->op == "Add" && add->inputs.size() == 2 && add->outputs.size() == 1) {
      // The scores are the operand a MatMul or a scaling makes with the sum's own shape; the
      // mask, the other, may broadcast (BERT's [B, 1, 1, N]) but not widen the scores.
      for (int side = 0; side < 2 && mt->mask == ir::kNoValue; ++side) {
        const ir::ValueId t = add->inputs[static_cast<size_t>(side)], mask = add->inputs[static_cast<size_t>(1 - side)];
        if (t == mask || !made_by_matmul(t) || !is_static_float(g, t) ||
            !is_static_float(g, mask) || g.value(t).shape != g.value(s_in).shape ||
            g.value(mask).shape.rank() > rank || only_consumer(s_in) != static_cast<int32_t>(i))
          continue;
        mt->mask = mask;
        s_reader = g.value(s_in).producer;
        mt->gone.push_back(s_reader);
        s = t;
      }
    }
    if (ir::ValueId x = unscaled(s, s_reader, &mt->scale); x != ir::kNoValue) {
      s_reader = g.value(s).producer;
      mt->gone.push_back(s_reader);
      s = x;
    }
    const ir::Node* mm1 = producer(s);
    const int32_t mm1_i = g.value(s).producer;
    if (!mm1 || mm1->op != "MatMul" || mm1->inputs.size() != 2 || mm1->outputs.size() != 1 || !mm1->attrs.empty() ||
        only_consumer(s) != s_reader)
      return false;
    mt->gone.push_back(mm1_i);

    // Shapes before any Transpose is folded: q [.., M, D], kt [.., D, N], v [.., N, Dv],
    // s [.., M, N], o [.., M, Dv].
    const ir::ValueId q = mm1->inputs[0], kt = mm1->inputs[1];
    for (ir::ValueId x : {q, kt, mt->v.base, o, s, p})
      if (!is_static_float(g, x) || g.value(x).shape.rank() != rank) return false;
    const Dims& qd = g.value(q).shape.dims();
    const Dims& kd = g.value(kt).shape.dims();
    const Dims& vd = g.value(mt->v.base).shape.dims();
    const Dims& od = g.value(o).shape.dims();
    const Dims& sd = g.value(s).shape.dims();
    const Dims batch(qd.begin(), qd.end() - 2);
    for (const Dims* d : {&kd, &vd, &od, &sd})
      if (Dims(d->begin(), d->end() - 2) != batch) return false;
    const int64_t m = qd[rank - 2], d = qd[rank - 1], n = kd[rank - 1], dv = vd[rank - 1];
    if (m <= 0 || d <= 0 || n <= 0 || dv <= 0 || kd[rank - 2] != d || vd[rank - 2] != n) return false;
    if (sd[rank - 2] != m || sd[rank - 1] != n || od[rank - 2] != m || od[rank - 1] != dv) return false;

    // q [scaled] and its Transpose; kt and its Transpose; v's; o's.
    mt->q = {q, identity_perm(rank), {}};
    int32_t q_reader = mm1_i;
    if (q != kt) {
      if (ir::ValueId x = unscaled(q, mm1_i, &mt->scale); x != ir::kNoValue) {
        q_reader = g.value(q).producer;
        mt->gone.push_back(q_reader);
        mt->q.base = x;
      }
    }
    if (mt->q.base != kt) absorb_slice(&mt->q, absorb_transpose(&mt->q, q_reader, true, &mt->gone), &mt->gone);
    mt->k = {kt, identity_perm(rank), {}};
    std::swap(mt->k.perm[rank - 2], mt->k.perm[rank - 1]);
    if (kt != q) absorb_slice(&mt->k, absorb_transpose(&mt->k, mm1_i, false, &mt->gone), &mt->gone);
    if (mt->v.base != q && mt->v.base != kt)
      absorb_slice(&mt->v, absorb_transpose(&mt->v, mm2_i, true, &mt->gone), &mt->gone);
    if (const int32_t t_i = only_consumer(o); t_i >= 0) {
      const ir::Node& t = g.nodes[static_cast<size_t>(t_i)];
      std::vector<int64_t> perm = t.op == "Transpose" ? ir::perm_attribute(t, "perm", rank, true) : std::vector<int64_t>{};
      if (t.inputs.size() == 1 && t.outputs.size() == 1 && !perm.empty() &&
          perm.back() == static_cast<int64_t>(rank) - 1 && is_static_float(g, t.outputs[0])) {
        mt->gone.push_back(mm2_i);
        mt->last = t_i;
        mt->out = t.outputs[0];
        mt->out_perm = std::move(perm);
      }
    }
    // The mask must outlive the chain: not made by a node that goes.
    if (mt->mask != ir::kNoValue) {
      const int32_t mp = g.value(mt->mask).producer;
      if (mp == mt->last || std::find(mt->gone.begin(), mt->gone.end(), mp) != mt->gone.end()) return false;
    }
    return true;
  };

  int formed = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Match mt;
    if (!match(i, &mt)) continue;
    mt.gone.push_back(static_cast<int32_t>(i));  // the Softmax
    for (int32_t k : mt.gone) {
      ir::Node& n = g.nodes[static_cast<size_t>(k)];
      for (ir::ValueId o : n.outputs) g.value(o).producer = -1;
      n.op = kOpFusedAway;
      n.inputs.clear();
      n.outputs.clear();
      n.attrs.clear();
    }
    ir::Node& fused = g.nodes[static_cast<size_t>(mt.last)];
    fused.name = mt.name;
    fused.op = kOpAttention;
    fused.inputs = {mt.q.base, mt.k.base, mt.v.base};
    if (mt.mask != ir::kNoValue) fused.inputs.push_back(mt.mask);
    fused.outputs = {mt.out};
    fused.attrs.clear();
    fused.attrs[kAttrScale] = static_cast<float>(mt.scale);
    fused.attrs[kAttrQPerm] = mt.q.perm;
    fused.attrs[kAttrKPerm] = mt.k.perm;
    fused.attrs[kAttrVPerm] = mt.v.perm;
    fused.attrs[kAttrOutPerm] = mt.out_perm;
    if (!mt.q.view.empty()) fused.attrs[kAttrQView] = mt.q.view;
    if (!mt.k.view.empty()) fused.attrs[kAttrKView] = mt.k.view;
    if (!mt.v.view.empty()) fused.attrs[kAttrVView] = mt.v.view;
    g.value(mt.out).producer = mt.last;
    ++formed;
    consumers = g.consumers();
  }
  return formed;
}

}  // namespace lw::passes
