// LayerNorm fusion: the ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul][/Add] decomposition that
// torch.onnx.export emits at opsets < 17 becomes one LayerNormalization node. Fused graphs run
// through a Plan and are compared with a double-precision loop over the decomposition; graphs
// that only look like the pattern must come out of the pass unchanged.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

#include "compiler/passes/epilogue_fusion.h"
#include "compiler/passes/layernorm_fusion.h"
#include "graph/op_registry.h"
#include "runtime/plan.h"
#include "support/float_data.h"
#include "support/graph_builder.h"

namespace lw::rt {
namespace {

ir::TensorData int_tensor(const std::vector<int64_t>& v) {
  return {DType::kInt64, Dims{static_cast<int64_t>(v.size())}, Blob::copy_of(v.data(), v.size() * sizeof(int64_t))};
}

using test::max_diff;
using test::random_vec;
using test::tensor;
using test::add_op;

// How the decomposition is written; the defaults are the torch.onnx.export (opset 13) form.
struct Form {
  float exponent = 2.0f;
  int64_t axis = -1;                     // of both ReduceMeans
  int64_t keepdims = 1;                  // of both ReduceMeans
  bool axes_as_input = false;            // opset 18: axes as a constant input 1 (see to_opset18)
  bool swapped = false;                  // Add(eps, v), Mul(gamma, n), Add(beta, y1)
  ir::ValueId eps_value = ir::kNoValue;  // eps from this value instead of a Const
};

struct LayerNormValues {
  ir::ValueId d = ir::kNoValue, y = ir::kNoValue;
};

// y = LayerNorm(x) over the last axis, decomposed; gamma/beta kNoValue leave out the Mul/Add.
LayerNormValues add_decomposed_layernorm(ir::Graph& g, ir::ValueId x, const std::string& p, float eps,
                                         ir::ValueId gamma, ir::ValueId beta, const Form& f = {}) {
  auto reduce_mean = [&](ir::ValueId in, const std::string& out) {
    if (f.axes_as_input) g.add_const(out + "_axes", int_tensor({f.axis}));
    return add_op(g, "ReduceMean", {in}, out, {{"keepdims", f.keepdims}, {"axes", std::vector<int64_t>{f.axis}}});
  };
  auto pair = [&](ir::ValueId a, ir::ValueId b) {
    return f.swapped ? std::vector<ir::ValueId>{b, a} : std::vector<ir::ValueId>{a, b};
  };
  LayerNormValues r;
  ir::ValueId m = reduce_mean(x, p + "m");
  r.d = add_op(g, "Sub", {x, m}, p + "d");
  ir::ValueId two = g.add_const(p + "two", tensor({f.exponent}, {}));
  ir::ValueId sq = add_op(g, "Pow", {r.d, two}, p + "p");
  ir::ValueId v = reduce_mean(sq, p + "v");
  ir::ValueId e = f.eps_value != ir::kNoValue ? f.eps_value : g.add_const(p + "eps", tensor({eps}, {}));
  ir::ValueId ve = add_op(g, "Add", pair(v, e), p + "ve");
  ir::ValueId s = add_op(g, "Sqrt", {ve}, p + "s");
  r.y = add_op(g, "Div", {r.d, s}, p + "n");
  if (gamma != ir::kNoValue) r.y = add_op(g, "Mul", pair(r.y, gamma), p + "y1");
  if (beta != ir::kNoValue) r.y = add_op(g, "Add", pair(r.y, beta), p + "y");
  return r;
}

// The runtime's type inference knows ReduceMean in its opset-13..17 form only (axes an
// attribute), so graphs are inferred in that form and then turned into the opset-18 form: the
// ReduceMeans whose output `o` has a Const `o_axes` take it as input 1 instead of the attribute.
void to_opset18(ir::Graph& g) {
  for (ir::Node& n : g.nodes) {
    if (n.op != "ReduceMean") continue;
    ir::ValueId axes = g.find_value(g.value(n.outputs[0]).name + "_axes");
    if (axes == ir::kNoValue) continue;
    n.inputs.push_back(axes);
    n.attrs.erase("axes");
  }
}

// The decomposition in double precision over rows of `c`; empty gamma/beta mean 1 and 0.
std::vector<float> reference(const std::vector<float>& x, int64_t c, float eps, const std::vector<float>& gamma,
                             const std::vector<float>& beta) {
  std::vector<float> y(x.size());
  const size_t cols = static_cast<size_t>(c);
  for (size_t row = 0; row < x.size() / cols; ++row) {
    const float* xp = x.data() + row * cols;
    double mean = 0;
    for (size_t k = 0; k < cols; ++k) mean += xp[k];
    mean /= static_cast<double>(cols);
    double var = 0;
    for (size_t k = 0; k < cols; ++k) var += (xp[k] - mean) * (xp[k] - mean);
    var /= static_cast<double>(cols);
    const double sd = std::sqrt(var + static_cast<double>(eps));
    for (size_t k = 0; k < cols; ++k) {
      double v = (xp[k] - mean) / sd;
      if (!gamma.empty()) v *= gamma[k];
      if (!beta.empty()) v += beta[k];
      y[row * cols + k] = static_cast<float>(v);
    }
  }
  return y;
}

std::vector<float> run(const ir::Graph& g, const VariableStore& store, const std::vector<float>& x) {
  auto plan = Plan::create(g, store, 2);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  if (!plan.is_ok()) return {};
  std::vector<float> y(x.size());
  Status s = (*plan)->run(*store.current(), {x.data()}, {y.data()}, nullptr);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return y;
}

// The node that produces v.
const ir::Node& producer(const ir::Graph& g, ir::ValueId v) {
  return g.nodes[static_cast<size_t>(g.value(v).producer)];
}

int count_op(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == op;
  return n;
}

// Checks what the pass left: one LayerNormalization writing `out`, reading {x, gamma[, beta]}
// with axis -1 and `eps`, the `gone` other nodes of the chain fused away, and a graph that
// still verifies.
void expect_fused(const ir::Graph& g, ir::ValueId out, ir::ValueId x, float eps, size_t inputs, int gone) {
  const ir::Node& ln = producer(g, out);
  ASSERT_EQ(ln.op, "LayerNormalization");
  ASSERT_EQ(ln.outputs, std::vector<ir::ValueId>{out});
  ASSERT_EQ(ln.inputs.size(), inputs);
  EXPECT_EQ(ln.inputs[0], x);
  EXPECT_EQ(ln.attr_int("axis", 0), -1);
  EXPECT_EQ(ln.attr_float("epsilon", 0.0f), eps);
  EXPECT_EQ(count_op(g, passes::kOpFusedAway), gone);
  for (const char* op : {"ReduceMean", "Sub", "Pow", "Sqrt", "Div"}) EXPECT_EQ(count_op(g, op), 0) << op;
  Status s = g.verify();
  EXPECT_TRUE(s.is_ok()) << s.message();
}

// Everything the pass could change, as text.
std::string describe(const ir::Graph& g) {
  std::ostringstream os;
  os << g.values.size() << " values;";
  for (const ir::Value& v : g.values) os << " " << v.name << "@" << v.producer;
  for (const ir::Node& n : g.nodes) {
    os << "\n" << n.op << " " << n.name << " (";
    for (ir::ValueId i : n.inputs) os << i << ",";
    os << ") -> (";
    for (ir::ValueId o : n.outputs) os << o << ",";
    os << ")";
    for (const auto& [k, a] : n.attrs) {
      os << " " << k << "=";
      if (attr_kind(a) == ir::AttrKind::kInt) os << std::get<int64_t>(a);
      else if (attr_kind(a) == ir::AttrKind::kFloat) os << std::get<float>(a);
      else if (attr_kind(a) == ir::AttrKind::kInts) for (int64_t i : std::get<std::vector<int64_t>>(a)) os << i << ",";
      else if (attr_kind(a) == ir::AttrKind::kTensor) os << std::get<ir::TensorData>(a).numel();
    }
  }
  for (ir::ValueId o : g.outputs) os << " out " << o;
  return os.str();
}

constexpr int64_t kRows = 10, kC = 8;
const Dims kXDims = {2, 5, kC};
constexpr float kEps = 1e-5f;

// 1. gamma and beta as Consts.
TEST(LayerNormFusion, ConstAffineMatchesDoubleReference) {
  auto gamma = random_vec(kC, 2), beta = random_vec(kC, 3);
  ir::Graph g;
  g.name = "ln";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(kXDims));
  ir::ValueId gv = g.add_const("gamma", tensor(gamma, {kC})), bv = g.add_const("beta", tensor(beta, {kC}));
  ir::ValueId y = add_decomposed_layernorm(g, x, "", kEps, gv, bv).y;
  g.outputs = {y};
  {
    Status st = ir::infer_graph_types(g);
    ASSERT_TRUE(st.is_ok()) << st.message();
  }
  ir::Graph fused = g;
  ASSERT_EQ(passes::fuse_layernorms(fused), 1);
  expect_fused(fused, y, x, kEps, 3, 8);
  const ir::Node& ln = producer(fused, y);
  EXPECT_EQ(ln.inputs[1], gv);
  EXPECT_EQ(ln.inputs[2], bv);
  EXPECT_EQ(fused.value(g.find_value("d")).producer, -1);
  EXPECT_EQ(passes::fuse_layernorms(fused), 0) << "nothing left to fuse";

  // Mean 3 and spread 0.5: a wrong mean, variance or epsilon would show at 1e-5.
  VariableStore store({});
  auto xv = random_vec(static_cast<size_t>(kRows * kC), 1, 0.5f, 3.0f);
  auto want = reference(xv, kC, kEps, gamma, beta);
  EXPECT_LT(max_diff(run(fused, store, xv), want), 1e-5f);
  EXPECT_LT(max_diff(run(g, store, xv), want), 1e-4f) << "the reference must be the decomposition's";
}

// 2. gamma and beta as Variables (refreshable weights), operands swapped, opset-18 axes input.
TEST(LayerNormFusion, VariableAffineMatchesDoubleReferenceAcrossRefresh) {
  const float eps = 1e-3f;
  VariableStore store({{"gamma", DType::kFloat32, {kC}, kC * 4}, {"beta", DType::kFloat32, {kC}, kC * 4}});
  ir::Graph g;
  g.name = "ln_vars";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(kXDims));
  ir::ValueId gv = g.add_variable("gamma", DType::kFloat32, {kC});
  ir::ValueId bv = g.add_variable("beta", DType::kFloat32, {kC});
  Form form;
  form.swapped = true;
  form.axes_as_input = true;
  ir::ValueId y = add_decomposed_layernorm(g, x, "", eps, gv, bv, form).y;
  g.outputs = {y};
  {
    Status st = ir::infer_graph_types(g);
    ASSERT_TRUE(st.is_ok()) << st.message();
  }
  to_opset18(g);
  ASSERT_EQ(g.nodes[static_cast<size_t>(g.value(g.find_value("m")).producer)].inputs.size(), 2u);
  ASSERT_TRUE(g.verify().is_ok());
  ASSERT_EQ(passes::fuse_layernorms(g), 1);
  expect_fused(g, y, x, eps, 3, 8);
  EXPECT_EQ(producer(g, y).inputs[1], gv);
  EXPECT_EQ(producer(g, y).inputs[2], bv);

  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  auto write = [&](const std::vector<float>& gamma, const std::vector<float>& beta) {
    auto update = store.begin_update();
    auto gb = update->stage(store.find("gamma"));
    auto bb = update->stage(store.find("beta"));
    ASSERT_TRUE(gb.is_ok() && bb.is_ok());
    std::memcpy((*gb)->data(), gamma.data(), gamma.size() * 4);
    std::memcpy((*bb)->data(), beta.data(), beta.size() * 4);
    store.commit(std::move(update));
  };
  auto xv = random_vec(static_cast<size_t>(kRows * kC), 11, 0.5f, 3.0f);
  auto run_it = [&] {
    std::vector<float> out(xv.size());
    Status s = (*plan)->run(*store.current(), {xv.data()}, {out.data()}, nullptr);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return out;
  };
  auto g1 = random_vec(kC, 12), b1 = random_vec(kC, 13);
  write(g1, b1);
  EXPECT_LT(max_diff(run_it(), reference(xv, kC, eps, g1, b1)), 1e-5f);
  auto g2 = random_vec(kC, 14, 2.0f), b2 = random_vec(kC, 15, 2.0f);
  write(g2, b2);
  EXPECT_LT(max_diff(run_it(), reference(xv, kC, eps, g2, b2)), 1e-5f);
}

// 3. No Mul or Add: the scale is a new Const of ones, placed before the fused node.
TEST(LayerNormFusion, BareNormalisationGetsOnesScale) {
  ir::Graph g;
  g.name = "ln_bare";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(kXDims));
  ir::ValueId y = add_decomposed_layernorm(g, x, "", kEps, ir::kNoValue, ir::kNoValue).y;
  g.outputs = {y};
  {
    Status st = ir::infer_graph_types(g);
    ASSERT_TRUE(st.is_ok()) << st.message();
  }
  ASSERT_EQ(passes::fuse_layernorms(g), 1);
  expect_fused(g, y, x, kEps, 2, 5);  // 7 nodes: one LayerNormalization, one Const of ones
  const ir::Node& ln = producer(g, y);
  ASSERT_EQ(ln.inputs.size(), 2u);
  const ir::Node& scale = producer(g, ln.inputs[1]);
  ASSERT_EQ(scale.op, ir::kOpConst);
  EXPECT_LT(g.value(ln.inputs[1]).producer, g.value(y).producer);
  const ir::TensorData* t = scale.attr_tensor("value");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->dims, Dims{kC});
  for (int64_t k = 0; k < kC; ++k) EXPECT_EQ(t->as<float>()[k], 1.0f);

  VariableStore store({});
  auto xv = random_vec(static_cast<size_t>(kRows * kC), 21, 0.5f, 3.0f);
  EXPECT_LT(max_diff(run(g, store, xv), reference(xv, kC, kEps, {}, {})), 1e-5f);
}

// 4. Look-alikes the pass must leave exactly as they are.
TEST(LayerNormFusion, LeavesLookAlikesUnchanged) {
  struct Case {
    const char* what;
    Form form;
    Dims x_dims = kXDims;
    bool d_is_output = false;
    bool eps_is_input = false;
  };
  std::vector<Case> cases(6);
  cases[0].what = "Pow exponent 3";
  cases[0].form.exponent = 3.0f;
  cases[1].what = "ReduceMean over a non-last axis";
  cases[1].form.axis = 1;
  cases[2].what = "keepdims=0";  // [8,8] so that Sub(x, m) still broadcasts
  cases[2].form.keepdims = 0;
  cases[2].x_dims = {kC, kC};
  cases[3].what = "d is also a graph output";
  cases[3].d_is_output = true;
  cases[4].what = "eps is a graph input";
  cases[4].eps_is_input = true;
  cases[5].what = "ReduceMean over a non-last axis given as input 1";
  cases[5].form.axis = 1;
  cases[5].form.axes_as_input = true;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ir::Graph g;
    g.name = "look_alike";
    ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(c.x_dims));
    Form form = c.form;
    if (c.eps_is_input) form.eps_value = g.add_data("eps", DType::kFloat32, Shape(Dims{}));
    ir::ValueId gv = g.add_const("gamma", tensor(random_vec(kC, 31), {kC}));
    ir::ValueId bv = g.add_const("beta", tensor(random_vec(kC, 32), {kC}));
    LayerNormValues ln = add_decomposed_layernorm(g, x, "", kEps, gv, bv, form);
    g.outputs = {ln.y};
    if (c.d_is_output) g.outputs.push_back(ln.d);
    Status s = ir::infer_graph_types(g);
    ASSERT_TRUE(s.is_ok()) << s.message();
    if (form.axes_as_input) to_opset18(g);
    const std::string before = describe(g);
    EXPECT_EQ(passes::fuse_layernorms(g), 0);
    EXPECT_EQ(describe(g), before);
  }
}

// 5. Two LayerNorms in a row (the second bare, axes written as rank-1 through an input).
TEST(LayerNormFusion, TwoInSequenceBothFuse) {
  auto gamma = random_vec(kC, 41), beta = random_vec(kC, 42);
  const float eps2 = 1e-2f;
  ir::Graph g;
  g.name = "ln_twice";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(kXDims));
  ir::ValueId gv = g.add_const("gamma", tensor(gamma, {kC})), bv = g.add_const("beta", tensor(beta, {kC}));
  ir::ValueId y1 = add_decomposed_layernorm(g, x, "a_", kEps, gv, bv).y;
  Form second;
  second.axis = 2;
  second.axes_as_input = true;
  ir::ValueId y2 = add_decomposed_layernorm(g, y1, "b_", eps2, ir::kNoValue, ir::kNoValue, second).y;
  g.outputs = {y2};
  {
    Status st = ir::infer_graph_types(g);
    ASSERT_TRUE(st.is_ok()) << st.message();
  }
  to_opset18(g);
  ASSERT_EQ(passes::fuse_layernorms(g), 2);
  EXPECT_EQ(count_op(g, "LayerNormalization"), 2);
  expect_fused(g, y2, y1, eps2, 2, 8 + 5);
  EXPECT_EQ(producer(g, y1).op, "LayerNormalization");
  EXPECT_EQ(producer(g, y1).inputs[0], x);

  VariableStore store({});
  auto xv = random_vec(static_cast<size_t>(kRows * kC), 43, 0.5f, 3.0f);
  auto want = reference(reference(xv, kC, kEps, gamma, beta), kC, eps2, {}, {});
  EXPECT_LT(max_diff(run(g, store, xv), want), 1e-5f);
}

// The residual Add before a LayerNormalization folds into it (kAttrSkip): with and without B,
// against the double reference of LayerNorm(a + b); an Add whose sum is read elsewhere, or
// that broadcasts, stays.
TEST(LayerNormSkip, ResidualAddFoldsIntoTheLayerNorm) {
  for (bool with_beta : {true, false}) {
    SCOPED_TRACE(with_beta);
    auto gamma = random_vec(kC, 5), beta = random_vec(kC, 6);
    ir::Graph g;
    g.name = "skip";
    ir::ValueId a = g.add_data("a", DType::kFloat32, Shape(kXDims));
    ir::ValueId b = g.add_data("b", DType::kFloat32, Shape(kXDims));
    ir::ValueId x = add_op(g, "Add", {a, b}, "x");
    std::vector<ir::ValueId> ln_in = {x, g.add_const("gamma", tensor(gamma, {kC}))};
    if (with_beta) ln_in.push_back(g.add_const("beta", tensor(beta, {kC})));
    ir::ValueId y = add_op(g, "LayerNormalization", ln_in, "y", {{"axis", int64_t{-1}}, {"epsilon", kEps}});
    g.outputs = {y};
    {
      Status st = ir::infer_graph_types(g);
      ASSERT_TRUE(st.is_ok()) << st.message();
    }
    ir::Graph fused = g;
    ASSERT_EQ(passes::fuse_layernorm_skips(fused), 1);
    EXPECT_EQ(passes::fuse_layernorm_skips(fused), 0) << "nothing left to fold";
    const ir::Node& ln = producer(fused, y);
    ASSERT_EQ(ln.inputs.size(), 4u);
    EXPECT_EQ(ln.inputs[0], a);
    EXPECT_EQ(ln.inputs[2] == ir::kNoValue, !with_beta);
    EXPECT_EQ(ln.inputs[3], b);
    EXPECT_EQ(ln.attr_int(passes::kAttrSkip, 0), 1);
    EXPECT_EQ(count_op(fused, "Add"), 0);
    EXPECT_EQ(fused.value(x).producer, -1);

    VariableStore store({});
    auto plan = Plan::create(g, store, 2);
    ASSERT_TRUE(plan.is_ok()) << plan.status().message();
    auto av = random_vec(static_cast<size_t>(kRows * kC), 7, 0.5f, 3.0f), bv = random_vec(av.size(), 8, 1.0f, -1.0f);
    std::vector<float> sum(av.size()), out(av.size(), -1.0f);
    for (size_t i = 0; i < av.size(); ++i) sum[i] = av[i] + bv[i];
    ASSERT_TRUE((*plan)->run(*store.current(), {av.data(), bv.data()}, {out.data()}, nullptr).is_ok());
    EXPECT_LT(max_diff(out, reference(sum, kC, kEps, gamma, with_beta ? beta : std::vector<float>{})), 1e-5f);
  }

  enum Case { kSumReadElsewhere, kBroadcast };
  for (Case c : {kSumReadElsewhere, kBroadcast}) {
    SCOPED_TRACE(static_cast<int>(c));
    ir::Graph g;
    g.name = "no_skip";
    ir::ValueId a = g.add_data("a", DType::kFloat32, Shape(kXDims));
    ir::ValueId b = c == kBroadcast ? g.add_const("b", tensor(random_vec(kC, 9), {kC}))
                                    : g.add_data("b", DType::kFloat32, Shape(kXDims));
    ir::ValueId x = add_op(g, "Add", {a, b}, "x");
    ir::ValueId y = add_op(g, "LayerNormalization", {x, g.add_const("gamma", tensor(random_vec(kC, 10), {kC}))}, "y");
    g.outputs = {y};
    if (c == kSumReadElsewhere) g.outputs.push_back(x);
    ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
    EXPECT_EQ(passes::fuse_layernorm_skips(g), 0);
    EXPECT_EQ(count_op(g, "Add"), 1);
  }
}

}  // namespace
}  // namespace lw::rt
