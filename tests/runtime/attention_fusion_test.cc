// Attention fusion: MatMul -> [scale] -> Softmax -> MatMul chains, with the Transposes that
// split heads apart and back, become one node whose kernel reads the operands through strides.
// Fused graphs run through a Plan and are compared with a double-precision loop over logical
// q, k and v (built by explicit transposes here); graphs that only look like the pattern must
// come out of the pass unfused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "compiler/passes/attention_fusion.h"
#include "compiler/passes/epilogue_fusion.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "graph/op_registry.h"
#include "runtime/plan.h"
#include "support/float_data.h"
#include "support/graph_builder.h"

namespace lw::rt {
namespace {

using test::add_op;
using test::max_diff;
using test::random_vec;
using test::tensor;

// x (row-major over `dims`) transposed by an ONNX perm: result dim i is dim perm[i] of x.
std::vector<float> permute(const std::vector<float>& x, const Dims& dims, const std::vector<int64_t>& perm) {
  const size_t rank = dims.size();
  Dims out_dims(rank);
  for (size_t i = 0; i < rank; ++i) out_dims[i] = dims[static_cast<size_t>(perm[i])];
  std::vector<int64_t> in_strides(rank, 1);
  for (size_t i = rank; i-- > 1;) in_strides[i - 1] = in_strides[i] * dims[i];
  std::vector<float> y(x.size());
  std::vector<int64_t> idx(rank, 0);
  for (size_t flat = 0; flat < y.size(); ++flat) {
    int64_t off = 0;
    for (size_t i = 0; i < rank; ++i) off += idx[i] * in_strides[static_cast<size_t>(perm[i])];
    y[flat] = x[static_cast<size_t>(off)];
    for (size_t i = rank; i-- > 0;) {
      if (++idx[i] < out_dims[i]) break;
      idx[i] = 0;
    }
  }
  return y;
}

// softmax(scale * q k^T [+ mask(b, i, j)]) v per batch entry in double: q [B, M, D], k [B, N, D],
// v [B, N, Dv].
using MaskFn = std::function<double(int64_t b, int64_t i, int64_t j)>;
std::vector<float> reference(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                             int64_t batch, int64_t m, int64_t n, int64_t d, int64_t dv, double scale,
                             const MaskFn& mask = nullptr) {
  std::vector<float> o(static_cast<size_t>(batch * m * dv));
  std::vector<double> s(static_cast<size_t>(n));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < m; ++i) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < d; ++c)
          dot += static_cast<double>(q[static_cast<size_t>((b * m + i) * d + c)]) * k[static_cast<size_t>((b * n + j) * d + c)];
        s[static_cast<size_t>(j)] = scale * dot + (mask ? mask(b, i, j) : 0.0);
        mx = std::max(mx, s[static_cast<size_t>(j)]);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int64_t c = 0; c < dv; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < n; ++j) acc += s[static_cast<size_t>(j)] * v[static_cast<size_t>((b * n + j) * dv + c)];
        o[static_cast<size_t>((b * m + i) * dv + c)] = static_cast<float>(acc / sum);
      }
    }
  return o;
}

std::vector<std::vector<float>> run(const ir::Graph& g, const std::vector<std::vector<float>>& inputs,
                                    const std::vector<size_t>& output_sizes) {
  VariableStore store({});
  auto plan = Plan::create(g, store, 2);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  if (!plan.is_ok()) return {};
  std::vector<std::vector<float>> outs;
  std::vector<const void*> in;
  std::vector<void*> out;
  for (const auto& x : inputs) in.push_back(x.data());
  for (size_t n : output_sizes) outs.emplace_back(n, -1.0f);
  for (auto& o : outs) out.push_back(o.data());
  Status s = (*plan)->run(*store.current(), in, out, nullptr);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return outs;
}

int count_op(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == op;
  return n;
}

const ir::Node& node_of(const ir::Graph& g, const std::string& op) {
  for (const ir::Node& n : g.nodes)
    if (n.op == op) return n;
  ADD_FAILURE() << "no " << op << " node";
  return g.nodes.front();
}

// `g` after the pass, which must have formed exactly one attention node.
ir::Graph fused_once(const ir::Graph& g) {
  ir::Graph fused = g;
  EXPECT_EQ(passes::fuse_attention(fused), 1);
  return fused;
}

void infer(ir::Graph& g) {
  Status st = ir::infer_graph_types(g);
  ASSERT_TRUE(st.is_ok()) << st.message();
}

// Runs `g` fused (the default) and with LW_CPU_ATTENTION=unfused; both against `want`.
void expect_matches(const ir::Graph& g, const std::vector<std::vector<float>>& inputs, const std::vector<float>& want,
                    float tolerance = 2e-6f) {
  if (!cpu::packed_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  auto fused = run(g, inputs, {want.size()});
  ASSERT_EQ(fused.size(), 1u);
  EXPECT_LT(max_diff(fused[0], want), tolerance) << "fused";
  setenv("LW_CPU_ATTENTION", "unfused", 1);
  auto unfused = run(g, inputs, {want.size()});
  unsetenv("LW_CPU_ATTENTION");
  ASSERT_EQ(unfused.size(), 1u);
  EXPECT_LT(max_diff(unfused[0], want), 1e-5f) << "the reference must be the unfused graph's";
}

// 1. nn.MultiheadAttention as torch.onnx.export writes it: heads split from [S, H, D] by
//    Transposes, q scaled by Div, k^T straight from [S, H, D] by perm (1, 2, 0), the result put
//    back to [S, H, Dv]. Odd sizes: 37 positions (two panels of keys, the second partial), 10
//    features per head.
TEST(AttentionFusion, TorchMultiheadFormMatchesDoubleReference) {
  const int64_t s = 37, h = 3, d = 10;
  ir::Graph g;
  g.name = "mha";
  ir::ValueId xq = g.add_data("xq", DType::kFloat32, Shape(Dims{s, h, d}));
  ir::ValueId xk = g.add_data("xk", DType::kFloat32, Shape(Dims{s, h, d}));
  ir::ValueId xv = g.add_data("xv", DType::kFloat32, Shape(Dims{s, h, d}));
  const std::vector<int64_t> heads_first = {1, 0, 2};
  ir::ValueId q = add_op(g, "Transpose", {xq}, "q", {{"perm", heads_first}});
  ir::ValueId qs = add_op(g, "Div", {q, g.add_const("root_d", tensor({std::sqrt(10.0f)}, {}))}, "qs");
  ir::ValueId kt = add_op(g, "Transpose", {xk}, "kt", {{"perm", std::vector<int64_t>{1, 2, 0}}});
  ir::ValueId v = add_op(g, "Transpose", {xv}, "v", {{"perm", heads_first}});
  ir::ValueId sc = add_op(g, "MatMul", {qs, kt}, "scores");
  ir::ValueId p = add_op(g, "Softmax", {sc}, "p", {{"axis", int64_t{-1}}});
  ir::ValueId o = add_op(g, "MatMul", {p, v}, "o");
  ir::ValueId y = add_op(g, "Transpose", {o}, "y", {{"perm", heads_first}});
  g.outputs = {y};
  infer(g);

  ir::Graph fused = fused_once(g);
  EXPECT_EQ(passes::fuse_attention(fused), 0) << "nothing left to fuse";
  const ir::Node& att = node_of(fused, passes::kOpAttention);
  EXPECT_EQ(att.inputs, (std::vector<ir::ValueId>{xq, xk, xv}));
  EXPECT_EQ(att.outputs, std::vector<ir::ValueId>{y});
  EXPECT_EQ(att.name, "o_node");
  EXPECT_EQ(att.attr_ints(passes::kAttrQPerm), heads_first);
  EXPECT_EQ(att.attr_ints(passes::kAttrKPerm), heads_first) << "k [S, H, D] read as [H, S, D]";
  EXPECT_EQ(att.attr_ints(passes::kAttrVPerm), heads_first);
  EXPECT_EQ(att.attr_ints(passes::kAttrOutPerm), heads_first);
  EXPECT_FLOAT_EQ(att.attr_float(passes::kAttrScale, 0), 1.0f / std::sqrt(10.0f));
  EXPECT_EQ(count_op(fused, passes::kOpFusedAway), 7);
  EXPECT_EQ(count_op(fused, "Transpose") + count_op(fused, "MatMul") + count_op(fused, "Softmax"), 0);
  EXPECT_EQ(fused.value(o).producer, -1);
  Status st = fused.verify();
  EXPECT_TRUE(st.is_ok()) << st.message();

  auto aq = random_vec(static_cast<size_t>(s * h * d), 1, 2.0f), ak = random_vec(aq.size(), 2, 2.0f),
       av = random_vec(aq.size(), 3);
  const Dims sd = {s, h, d};
  auto want = permute(reference(permute(aq, sd, heads_first), permute(ak, sd, heads_first), permute(av, sd, heads_first),
                                h, s, s, d, d, 1.0 / std::sqrt(10.0)),
                      {h, s, d}, heads_first);
  expect_matches(g, {aq, ak, av}, want);
}

// 2. Rank 4 [B, H, M, D] with no Transposes: k^T given as a graph input, the scores scaled by
//    Mul(c, s) after the MatMul, 24 value features (a full and a partial panel), M != N.
TEST(AttentionFusion, Rank4ScaledScoresAndGivenKeyTranspose) {
  const int64_t b = 2, h = 2, m = 19, n = 21, d = 8, dv = 24;
  ir::Graph g;
  g.name = "rank4";
  ir::ValueId q = g.add_data("q", DType::kFloat32, Shape(Dims{b, h, m, d}));
  ir::ValueId kt = g.add_data("kt", DType::kFloat32, Shape(Dims{b, h, d, n}));
  ir::ValueId v = g.add_data("v", DType::kFloat32, Shape(Dims{b, h, n, dv}));
  ir::ValueId sc = add_op(g, "MatMul", {q, kt}, "scores");
  ir::ValueId scaled = add_op(g, "Mul", {g.add_const("c", tensor({0.3f}, {})), sc}, "scaled");
  ir::ValueId p = add_op(g, "Softmax", {scaled}, "p", {{"axis", int64_t{3}}});
  ir::ValueId o = add_op(g, "MatMul", {p, v}, "o");
  g.outputs = {o};
  infer(g);

  ir::Graph fused = fused_once(g);
  const ir::Node& att = node_of(fused, passes::kOpAttention);
  EXPECT_EQ(att.inputs, (std::vector<ir::ValueId>{q, kt, v}));
  EXPECT_EQ(att.attr_ints(passes::kAttrQPerm), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(att.attr_ints(passes::kAttrKPerm), (std::vector<int64_t>{0, 1, 3, 2}));
  EXPECT_FLOAT_EQ(att.attr_float(passes::kAttrScale, 0), 0.3f);
  EXPECT_EQ(count_op(fused, passes::kOpFusedAway), 3);

  auto aq = random_vec(static_cast<size_t>(b * h * m * d), 4, 3.0f), akt = random_vec(static_cast<size_t>(b * h * d * n), 5, 3.0f),
       av = random_vec(static_cast<size_t>(b * h * n * dv), 6);
  auto k = permute(akt, {b, h, d, n}, {0, 1, 3, 2});
  expect_matches(g, {aq, akt, av}, reference(aq, k, av, b * h, m, n, d, dv, 0.3));
}

// 3. One matrix (rank 2), one batch entry split into row blocks over the threads, a negative
//    scale (the row maximum of scale * s is then at the smallest score), large scores whose
//    exponentials underflow, 200 keys (12 full panels and a partial one, a tail of 8-lane
//    loops), depth 3.
TEST(AttentionFusion, Rank2NegativeScaleLargeScores) {
  const int64_t m = 100, n = 200, d = 3, dv = 5;
  ir::Graph g;
  g.name = "rank2";
  ir::ValueId q = g.add_data("q", DType::kFloat32, Shape(Dims{m, d}));
  ir::ValueId k = g.add_data("k", DType::kFloat32, Shape(Dims{n, d}));
  ir::ValueId v = g.add_data("v", DType::kFloat32, Shape(Dims{n, dv}));
  ir::ValueId kt = add_op(g, "Transpose", {k}, "kt");  // the default perm reverses: [d, n]
  ir::ValueId qs = add_op(g, "Div", {q, g.add_const("c", tensor({-2.0f}, {}))}, "qs");
  ir::ValueId sc = add_op(g, "MatMul", {qs, kt}, "scores");
  ir::ValueId p = add_op(g, "Softmax", {sc}, "p");
  ir::ValueId o = add_op(g, "MatMul", {p, v}, "o");
  g.outputs = {o};
  infer(g);

  ir::Graph fused = fused_once(g);
  const ir::Node& att = node_of(fused, passes::kOpAttention);
  EXPECT_EQ(att.inputs, (std::vector<ir::ValueId>{q, k, v}));
  EXPECT_EQ(att.attr_ints(passes::kAttrKPerm), (std::vector<int64_t>{0, 1}));
  EXPECT_FLOAT_EQ(att.attr_float(passes::kAttrScale, 0), -0.5f);

  auto aq = random_vec(static_cast<size_t>(m * d), 7, 12.0f), ak = random_vec(static_cast<size_t>(n * d), 8, 12.0f),
       av = random_vec(static_cast<size_t>(n * dv), 9);
  expect_matches(g, {aq, ak, av}, reference(aq, ak, av, 1, m, n, d, dv, -0.5), 1e-5f);
}

// 4. Values read elsewhere stay where they are: q's scaled value and k^T are also graph
//    outputs, so the Div and the Transpose stay, the fused node reads their results (scale 1,
//    k^T turned back by its perm), and the other outputs still come out.
TEST(AttentionFusion, ValuesReadElsewhereStay) {
  const int64_t b = 2, m = 9, n = 17, d = 16;
  ir::Graph g;
  g.name = "shared";
  ir::ValueId q = g.add_data("q", DType::kFloat32, Shape(Dims{b, m, d}));
  ir::ValueId k = g.add_data("k", DType::kFloat32, Shape(Dims{b, n, d}));
  ir::ValueId v = g.add_data("v", DType::kFloat32, Shape(Dims{b, n, d}));
  ir::ValueId qs = add_op(g, "Mul", {q, g.add_const("c", tensor({0.25f}, {}))}, "qs");
  ir::ValueId kt = add_op(g, "Transpose", {k}, "kt", {{"perm", std::vector<int64_t>{0, 2, 1}}});
  ir::ValueId sc = add_op(g, "MatMul", {qs, kt}, "scores");
  ir::ValueId p = add_op(g, "Softmax", {sc}, "p", {{"axis", int64_t{-1}}});
  ir::ValueId o = add_op(g, "MatMul", {p, v}, "o");
  g.outputs = {o, qs, kt};
  infer(g);

  ir::Graph fused = fused_once(g);
  const ir::Node& att = node_of(fused, passes::kOpAttention);
  EXPECT_EQ(att.inputs, (std::vector<ir::ValueId>{qs, kt, v}));
  EXPECT_EQ(att.attr_ints(passes::kAttrKPerm), (std::vector<int64_t>{0, 2, 1}));
  EXPECT_FLOAT_EQ(att.attr_float(passes::kAttrScale, 0), 1.0f);
  EXPECT_EQ(count_op(fused, "Mul"), 1);
  EXPECT_EQ(count_op(fused, "Transpose"), 1);

  if (!cpu::packed_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  auto aq = random_vec(static_cast<size_t>(b * m * d), 10, 2.0f), ak = random_vec(static_cast<size_t>(b * n * d), 11, 2.0f),
       av = random_vec(static_cast<size_t>(b * n * d), 12);
  std::vector<float> want_qs(aq);
  for (float& x : want_qs) x *= 0.25f;
  auto outs = run(g, {aq, ak, av}, {static_cast<size_t>(b * m * d), aq.size(), ak.size()});
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_LT(max_diff(outs[0], reference(aq, ak, av, b, m, n, d, d, 0.25)), 2e-6f);
  EXPECT_EQ(outs[1], want_qs);
  EXPECT_EQ(outs[2], permute(ak, {b, n, d}, {0, 2, 1}));
}

// 5. Lookalikes stay unfused: a mask added to the scores before their scaling, a softmax over another axis, the
//    scores read elsewhere, batch dims that broadcast, a Transpose of o that moves the last axis.
TEST(AttentionFusion, LookalikesStayUnfused) {
  const int64_t b = 2, m = 4, n = 6, d = 8;
  enum Case { kMaskBeforeScale, kOtherAxis, kScoresOut, kBroadcast, kLastAxisMoved };
  for (Case c : {kMaskBeforeScale, kOtherAxis, kScoresOut, kBroadcast, kLastAxisMoved}) {
    SCOPED_TRACE(static_cast<int>(c));
    ir::Graph g;
    g.name = "lookalike";
    ir::ValueId q = g.add_data("q", DType::kFloat32, Shape(Dims{b, m, d}));
    ir::ValueId kt = g.add_data("kt", DType::kFloat32, Shape(Dims{c == kBroadcast ? 1 : b, d, n}));
    ir::ValueId v = g.add_data("v", DType::kFloat32, Shape(Dims{b, n, d}));
    ir::ValueId sc = add_op(g, "MatMul", {q, kt}, "scores");
    if (c == kMaskBeforeScale) {
      sc = add_op(g, "Add", {sc, g.add_const("mask", tensor(std::vector<float>(n, -1.0f), {n}))}, "masked");
      sc = add_op(g, "Div", {sc, g.add_const("c", tensor({2.0f}, {}))}, "scaled");
    }
    ir::ValueId p = add_op(g, "Softmax", {sc}, "p", {{"axis", int64_t{c == kOtherAxis ? 1 : -1}}});
    ir::ValueId o = add_op(g, "MatMul", {p, v}, "o");
    if (c == kLastAxisMoved) o = add_op(g, "Transpose", {o}, "y", {{"perm", std::vector<int64_t>{0, 2, 1}}});
    g.outputs = {o};
    if (c == kScoresOut) g.outputs.push_back(sc);
    infer(g);
    ir::Graph fused = g;
    if (c == kLastAxisMoved) {
      // The attention itself fuses; the Transpose after it stays.
      EXPECT_EQ(passes::fuse_attention(fused), 1);
      EXPECT_EQ(count_op(fused, "Transpose"), 1);
      EXPECT_EQ(node_of(fused, passes::kOpAttention).attr_ints(passes::kAttrOutPerm), (std::vector<int64_t>{0, 1, 2}));
    } else {
      EXPECT_EQ(passes::fuse_attention(fused), 0);
      EXPECT_EQ(count_op(fused, passes::kOpFusedAway), 0);
      EXPECT_EQ(count_op(fused, "Softmax"), 1);
    }
  }
}

// int64 constant [values.size()].
ir::ValueId int_const(ir::Graph& g, const std::string& name, const std::vector<int64_t>& values) {
  return g.add_const(name, ir::TensorData{DType::kInt64, Dims{static_cast<int64_t>(values.size())},
                                          Blob::copy_of(values.data(), values.size() * sizeof(int64_t))});
}

// 7. torch's packed projection: one [S, 1, 3E] tensor cut into q, k and v by Slices of its last
//    axis, each split into heads by a Reshape to [S, H, D]. The Slices and Reshapes fold into
//    views of that one tensor (row stride 3E), so the fused node reads it three times. Lookalikes
//    keep their Slice (and its Reshape) and still fuse the rest: a Slice read elsewhere, one with
//    step 2, one of the first axis.
TEST(AttentionFusion, SlicedProjectionBecomesViews) {
  const int64_t s = 37, h = 3, d = 10, e = h * d;
  enum Case { kFolded, kSliceReadElsewhere, kStep2, kFirstAxis };
  for (Case c : {kFolded, kSliceReadElsewhere, kStep2, kFirstAxis}) {
    SCOPED_TRACE(static_cast<int>(c));
    ir::Graph g;
    g.name = "packed";
    ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{s, 1, 3 * e}));
    const ir::ValueId last_axis = int_const(g, "axis2", {2});
    // q from x, or from a second input that the lookalike's Slice cuts differently.
    ir::ValueId xq = x, q_cut;
    if (c == kStep2) {
      xq = g.add_data("xq", DType::kFloat32, Shape(Dims{s, 1, 2 * e}));
      q_cut = add_op(g, "Slice", {xq, int_const(g, "q0", {0}), int_const(g, "q1", {2 * e}), last_axis,
                                  int_const(g, "two", {2})}, "q_cut");
    } else if (c == kFirstAxis) {
      xq = g.add_data("xq", DType::kFloat32, Shape(Dims{2 * s, 1, e}));
      q_cut = add_op(g, "Slice", {xq, int_const(g, "q0", {s}), int_const(g, "q1", {2 * s}), int_const(g, "axis0", {0})},
                     "q_cut");
    } else {
      q_cut = add_op(g, "Slice", {x, int_const(g, "q0", {0}), int_const(g, "q1", {e}), last_axis}, "q_cut");
    }
    ir::ValueId k_cut = add_op(g, "Slice", {x, int_const(g, "k0", {e}), int_const(g, "k1", {2 * e}),
                                            int_const(g, "minus1", {-1}), int_const(g, "one", {1})}, "k_cut");
    ir::ValueId v_cut = add_op(g, "Slice", {x, int_const(g, "v0", {2 * e}), int_const(g, "v1", {INT64_MAX}), last_axis},
                               "v_cut");
    const ir::ValueId heads = int_const(g, "heads", {s, h, d});
    ir::ValueId qr = add_op(g, "Reshape", {q_cut, heads}, "qr"), kr = add_op(g, "Reshape", {k_cut, heads}, "kr"),
                vr = add_op(g, "Reshape", {v_cut, heads}, "vr");
    const std::vector<int64_t> heads_first = {1, 0, 2};
    ir::ValueId q = add_op(g, "Transpose", {qr}, "q", {{"perm", heads_first}});
    ir::ValueId qs = add_op(g, "Div", {q, g.add_const("root_d", tensor({std::sqrt(10.0f)}, {}))}, "qs");
    ir::ValueId kt = add_op(g, "Transpose", {kr}, "kt", {{"perm", std::vector<int64_t>{1, 2, 0}}});
    ir::ValueId v = add_op(g, "Transpose", {vr}, "v", {{"perm", heads_first}});
    ir::ValueId sc = add_op(g, "MatMul", {qs, kt}, "scores");
    ir::ValueId p = add_op(g, "Softmax", {sc}, "p", {{"axis", int64_t{-1}}});
    ir::ValueId o = add_op(g, "MatMul", {p, v}, "o");
    ir::ValueId y = add_op(g, "Transpose", {o}, "y", {{"perm", heads_first}});
    g.outputs = {y};
    if (c == kSliceReadElsewhere) g.outputs.push_back(k_cut);
    infer(g);

    ir::Graph fused = fused_once(g);
    const ir::Node& att = node_of(fused, passes::kOpAttention);
    auto view = [&](int64_t offset) { return std::vector<int64_t>{offset, s, h, d, 3 * e, d, 1}; };
    const bool q_folded = c == kFolded || c == kSliceReadElsewhere, k_folded = c != kSliceReadElsewhere;
    EXPECT_EQ(att.inputs[0], q_folded ? x : qr);
    EXPECT_EQ(att.inputs[1], k_folded ? x : kr);
    EXPECT_EQ(att.inputs[2], x);
    EXPECT_EQ(att.attr_ints(passes::kAttrQView), q_folded ? view(0) : std::vector<int64_t>{});
    EXPECT_EQ(att.attr_ints(passes::kAttrKView), k_folded ? view(e) : std::vector<int64_t>{});
    EXPECT_EQ(att.attr_ints(passes::kAttrVView), view(2 * e));
    EXPECT_EQ(att.attr_ints(passes::kAttrQPerm), heads_first);
    EXPECT_EQ(count_op(fused, "Slice"), c == kFolded ? 0 : 1);
    EXPECT_EQ(count_op(fused, "Reshape"), c == kFolded ? 0 : 1);
    Status st = fused.verify();
    EXPECT_TRUE(st.is_ok()) << st.message();

    auto ax = random_vec(static_cast<size_t>(s * 3 * e), 21, 2.0f);
    std::vector<std::vector<float>> inputs = {ax};
    // Rows r < S of `from` (rows row_len apart), e columns from `first`, `step` apart; and the
    // same as the logical [H, S, D] operand.
    auto cut = [&](const std::vector<float>& from, int64_t row_len, int64_t first, int64_t step) {
      std::vector<float> out(static_cast<size_t>(s * e));
      for (int64_t r = 0; r < s; ++r)
        for (int64_t col = 0; col < e; ++col)
          out[static_cast<size_t>(r * e + col)] = from[static_cast<size_t>(r * row_len + first + col * step)];
      return out;
    };
    auto heads_of = [&](const std::vector<float>& rows) { return permute(rows, {s, h, d}, heads_first); };
    std::vector<float> lq = heads_of(cut(ax, 3 * e, 0, 1));
    if (c == kStep2) {
      inputs.push_back(random_vec(static_cast<size_t>(s * 2 * e), 22, 2.0f));
      lq = heads_of(cut(inputs[1], 2 * e, 0, 2));
    } else if (c == kFirstAxis) {
      inputs.push_back(random_vec(static_cast<size_t>(2 * s * e), 23, 2.0f));
      lq = heads_of(cut(inputs[1], e, s * e, 1));
    }
    auto want = permute(reference(lq, heads_of(cut(ax, 3 * e, e, 1)), heads_of(cut(ax, 3 * e, 2 * e, 1)), h, s, s, d, d,
                                  1.0 / std::sqrt(10.0)),
                        {h, s, d}, heads_first);
    if (c == kSliceReadElsewhere) {
      if (!cpu::packed_gemm_supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
      auto outs = run(g, inputs, {want.size(), static_cast<size_t>(s * e)});
      ASSERT_EQ(outs.size(), 2u);
      EXPECT_LT(max_diff(outs[0], want), 2e-6f);
      EXPECT_EQ(outs[1], cut(ax, 3 * e, e, 1));
    } else {
      expect_matches(g, inputs, want);
    }
  }
}

// 8. BERT's additive mask, added to the scaled scores: [B, 1, 1, N] as BERT builds it (a graph
//    input here), also added the other way round, a rank-1 [N] constant, a full [B, H, M, N]
//    one, [1, H, M, 1] (one value per row: its column stride is 0), and a full one that a Mul
//    makes, first in the Add. The Add joins the fused node, the mask as its fourth input; 21
//    keys take the kernel's tail paths.
TEST(AttentionFusion, AdditiveMaskAfterTheScale) {
  const int64_t b = 2, h = 3, m = 13, n = 21, d = 8;
  enum Case { kBert, kMaskFirst, kRank1Const, kFull, kPerRow, kComputedFirst };
  for (Case c : {kBert, kMaskFirst, kRank1Const, kFull, kPerRow, kComputedFirst}) {
    SCOPED_TRACE(static_cast<int>(c));
    const Dims mask_dims = c == kBert || c == kMaskFirst ? Dims{b, 1, 1, n}
                           : c == kRank1Const            ? Dims{n}
                           : c == kFull || c == kComputedFirst ? Dims{b, h, m, n}
                                                         : Dims{1, h, m, 1};
    int64_t mask_size = 1;
    for (int64_t x : mask_dims) mask_size *= x;
    // -10000 as BERT's (1 - attention_mask) * -10000 at every third value, random ones between.
    // Not where one value covers a whole row: that shifts every score of the row alike, which
    // leaves the softmax as it was, but the float sums of -10000 and a score keep only about
    // three decimals of the score, against the double reference.
    std::vector<float> mask_values = random_vec(static_cast<size_t>(mask_size), 31, 3.0f);
    for (size_t i = 0; c != kPerRow && i < mask_values.size(); i += 3) mask_values[i] = -10000.0f;
    ir::Graph g;
    g.name = "masked";
    ir::ValueId q = g.add_data("q", DType::kFloat32, Shape(Dims{b, h, m, d}));
    ir::ValueId k = g.add_data("k", DType::kFloat32, Shape(Dims{b, h, n, d}));
    ir::ValueId v = g.add_data("v", DType::kFloat32, Shape(Dims{b, h, n, d}));
    ir::ValueId mask = c == kRank1Const ? g.add_const("mask", tensor(mask_values, mask_dims))
                                        : g.add_data("mask", DType::kFloat32, Shape(mask_dims));
    // A full-size mask that a Mul of its own makes, first in the Add: the scores are told from
    // it by the MatMul behind them, not by position or shape.
    if (c == kComputedFirst) mask = add_op(g, "Mul", {mask, g.add_const("one", tensor({1.0f}, {}))}, "mask_made");
    ir::ValueId kt = add_op(g, "Transpose", {k}, "kt", {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
    ir::ValueId sc = add_op(g, "MatMul", {q, kt}, "scores");
    ir::ValueId scaled = add_op(g, "Div", {sc, g.add_const("root_d", tensor({std::sqrt(8.0f)}, {}))}, "scaled");
    const bool mask_first = c == kMaskFirst || c == kComputedFirst;
    ir::ValueId masked = add_op(g, "Add", mask_first ? std::vector<ir::ValueId>{mask, scaled}
                                                     : std::vector<ir::ValueId>{scaled, mask}, "masked");
    ir::ValueId p = add_op(g, "Softmax", {masked}, "p", {{"axis", int64_t{-1}}});
    ir::ValueId o = add_op(g, "MatMul", {p, v}, "o");
    g.outputs = {o};
    infer(g);

    ir::Graph fused = fused_once(g);
    const ir::Node& att = node_of(fused, passes::kOpAttention);
    EXPECT_EQ(att.inputs, (std::vector<ir::ValueId>{q, k, v, mask}));
    EXPECT_EQ(count_op(fused, "Add") + count_op(fused, "Div") + count_op(fused, "Softmax"), 0);
    EXPECT_EQ(count_op(fused, "Mul"), c == kComputedFirst ? 1 : 0);
    EXPECT_FLOAT_EQ(att.attr_float(passes::kAttrScale, 0), 1.0f / std::sqrt(8.0f));

    auto aq = random_vec(static_cast<size_t>(b * h * m * d), 32, 2.0f);
    auto ak = random_vec(static_cast<size_t>(b * h * n * d), 33, 2.0f), av = random_vec(ak.size(), 34);
    // The mask's value for score (batch entry e = (bi, hi), row i, column j), broadcast by hand.
    const MaskFn mask_of = [&](int64_t e, int64_t i, int64_t j) {
      const int64_t index[4] = {e / h, e % h, i, j};
      int64_t at = 0;
      for (size_t x = 0; x < mask_dims.size(); ++x) {
        const size_t dim = 4 - mask_dims.size() + x;
        at = at * mask_dims[x] + (mask_dims[x] == 1 ? 0 : index[dim]);
      }
      return static_cast<double>(mask_values[static_cast<size_t>(at)]);
    };
    auto want = reference(aq, ak, av, b * h, m, n, d, d, 1.0 / std::sqrt(8.0), mask_of);
    std::vector<std::vector<float>> inputs = {aq, ak, av};
    if (c != kRank1Const) inputs.push_back(mask_values);
    expect_matches(g, inputs, want);
  }
}

// 6. A choice that is not one names the variable.
TEST(AttentionFusion, UnknownChoiceIsAnError) {
  ir::Graph g;
  g.name = "choice";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{2, 2}));
  g.outputs = {add_op(g, "Softmax", {x}, "p")};
  infer(g);
  VariableStore store({});
  setenv("LW_CPU_ATTENTION", "sometimes", 1);
  auto plan = Plan::create(g, store, 1);
  unsetenv("LW_CPU_ATTENTION");
  ASSERT_FALSE(plan.is_ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("LW_CPU_ATTENTION"), std::string::npos) << plan.status().message();
}

}  // namespace
}  // namespace lw::rt
