#include "format/sample_bundle.h"

#include <gtest/gtest.h>

#include <cstring>

namespace lw::test {

namespace {

ir::TensorData tensor(DType dtype, Dims dims, Blob bytes) {
  ir::TensorData t;
  t.dtype = dtype;
  t.dims = std::move(dims);
  t.bytes = std::move(bytes);
  return t;
}

ir::Graph make_inference_graph() {
  ir::Graph g;
  g.name = "infer";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape({-1, 4}));
  ir::ValueId w = g.add_variable("w_var", DType::kFloat32, {4, 3});
  ir::ValueId bias = g.add_const("bias", tensor(DType::kFloat32, {3}, blob_of<float>({0.5f, -1.25f, 3.0f})));
  Blob shape_bytes = blob_of<int64_t>({-1, 3});
  ir::ValueId shape = g.add_const("shape", tensor(DType::kInt64, {2}, shape_bytes));
  // Same Blob as "shape": the writer stores its bytes once.
  ir::ValueId shape2 = g.add_const("shape_again", tensor(DType::kInt64, {2}, shape_bytes));
  ir::ValueId i8 = g.add_const("q", tensor(DType::kInt8, {2, 2}, blob_of<int8_t>({-128, -1, 0, 127})));
  ir::ValueId flags = g.add_const("flags", tensor(DType::kBool, {3}, blob_of<uint8_t>({1, 0, 1})));
  ir::ValueId scalar = g.add_const("scale", tensor(DType::kFloat64, {}, blob_of<double>({2.5})));
  ir::ValueId empty = g.add_const("empty", tensor(DType::kUint8, {0, 5}, Blob{}));
  ir::ValueId half = g.add_const("half", tensor(DType::kFloat16, {2}, blob_of<uint16_t>({0x3C00, 0xC000})));

  ir::ValueId mm = g.add_value("mm", DType::kFloat32, Shape({-1, 3}));
  ir::ValueId y = g.add_value("y", DType::kFloat32, Shape({-1, 3}));
  ir::ValueId r = g.add_value("r", DType::kFloat32, Shape({-1, 3}));
  ir::ValueId z = g.add_value("z", DType::kFloat32, Shape::unknown_rank());
  ir::ValueId aux = g.add_value("aux", DType::kInt32, Shape({kDynamicDim}));

  ir::Node matmul;
  matmul.op = "MatMul";
  matmul.name = "matmul";
  matmul.inputs = {x, w};
  matmul.outputs = {mm};
  g.add_node(std::move(matmul));

  ir::Node add;
  add.op = "Add";
  add.name = "add";
  add.inputs = {mm, bias};
  add.outputs = {y};
  g.add_node(std::move(add));

  ir::Node reshape;
  reshape.op = "Reshape";
  reshape.name = "reshape";
  reshape.inputs = {y, shape};
  reshape.outputs = {r};
  reshape.attrs["allowzero"] = int64_t{0};
  g.add_node(std::move(reshape));

  ir::Node custom;
  custom.op = "lw.TestEverything";
  custom.name = "custom";
  custom.inputs = {r, ir::kNoValue, shape2, i8, flags, scalar, empty, half};
  custom.outputs = {z, aux};
  custom.attrs["i"] = int64_t{-1234567890123};
  custom.attrs["f"] = 3.5f;
  custom.attrs["s"] = std::string("hello\0world", 11);
  custom.attrs["ints"] = std::vector<int64_t>{1, -2, int64_t{1} << 40};
  custom.attrs["floats"] = std::vector<float>{0.25f, -0.0f, 1e30f};
  custom.attrs["strings"] = std::vector<std::string>{"a", "", "ccc"};
  custom.attrs["empty_ints"] = std::vector<int64_t>{};
  custom.attrs["empty_strings"] = std::vector<std::string>{};
  // A tensor attribute on an ordinary op, sharing bytes with the "bias" Const.
  custom.attrs["t"] = *g.nodes[2].attr_tensor("value");
  custom.attrs["t_own"] = tensor(DType::kInt32, {2, 2}, blob_of<int32_t>({1, 2, 3, 4}));
  g.add_node(std::move(custom));

  g.outputs = {y, z};
  return g;
}

ir::Graph make_update_graph() {
  ir::Graph g;
  g.name = "update";
  ir::ValueId data = g.add_data("w_var_data", DType::kFloat32, Shape({4, 3}));
  ir::ValueId w = g.add_variable("w_var", DType::kFloat32, {4, 3});
  g.add_assign(w, data, true, "assign_w");
  ir::ValueId steps = g.add_variable("steps_var", DType::kInt64, {});
  ir::ValueId one = g.add_const("one", tensor(DType::kInt64, {}, blob_of<int64_t>({1})));
  ir::ValueId next = g.add_value("steps_next", DType::kInt64, Shape(Dims{}));
  ir::Node add;
  add.op = "Add";
  add.name = "count";
  add.inputs = {steps, one};
  add.outputs = {next};
  g.add_node(std::move(add));
  g.add_assign(steps, next, false, "assign_steps");
  return g;
}

ir::Graph make_init_graph() {
  ir::Graph g;
  g.name = "init";
  std::vector<float> init(12);
  for (size_t i = 0; i < init.size(); ++i) init[i] = static_cast<float>(i) * 0.5f - 2.0f;
  ir::ValueId c = g.add_const("w", tensor(DType::kFloat32, {4, 3}, blob_of(init)));
  ir::ValueId w = g.add_variable("w_var", DType::kFloat32, {4, 3});
  g.add_assign(w, c, false, "assign_w_init");
  return g;
}

void expect_tensor_equal(const ir::TensorData& a, const ir::TensorData& b, const std::string& where) {
  EXPECT_EQ(a.dtype, b.dtype) << where;
  EXPECT_EQ(a.dims, b.dims) << where;
  ASSERT_EQ(a.bytes.size, b.bytes.size) << where;
  if (a.bytes.size) {
    EXPECT_EQ(std::memcmp(a.bytes.data, b.bytes.data, a.bytes.size), 0) << where;
  }
}

void expect_attr_equal(const ir::Attribute& a, const ir::Attribute& b, const std::string& where) {
  ASSERT_EQ(a.index(), b.index()) << where;
  if (const auto* ta = std::get_if<ir::TensorData>(&a)) {
    expect_tensor_equal(*ta, std::get<ir::TensorData>(b), where);
  } else if (const auto* fa = std::get_if<float>(&a)) {
    // Bitwise, so -0.0 and NaN payloads count.
    float fb = std::get<float>(b);
    EXPECT_EQ(std::memcmp(fa, &fb, sizeof fb), 0) << where;
  } else if (const auto* fva = std::get_if<std::vector<float>>(&a)) {
    const auto& fvb = std::get<std::vector<float>>(b);
    ASSERT_EQ(fva->size(), fvb.size()) << where;
    if (!fva->empty()) {
      EXPECT_EQ(std::memcmp(fva->data(), fvb.data(), fvb.size() * sizeof(float)), 0) << where;
    }
  } else if (const auto* ia = std::get_if<int64_t>(&a)) {
    EXPECT_EQ(*ia, std::get<int64_t>(b)) << where;
  } else if (const auto* sa = std::get_if<std::string>(&a)) {
    EXPECT_EQ(*sa, std::get<std::string>(b)) << where;
  } else if (const auto* iva = std::get_if<std::vector<int64_t>>(&a)) {
    EXPECT_EQ(*iva, std::get<std::vector<int64_t>>(b)) << where;
  } else if (const auto* sva = std::get_if<std::vector<std::string>>(&a)) {
    EXPECT_EQ(*sva, std::get<std::vector<std::string>>(b)) << where;
  } else {
    ADD_FAILURE() << where << ": attribute kind not compared";
  }
}

}  // namespace

ir::BundleModel make_sample_bundle() {
  ir::BundleModel m;
  m.is_bundle = true;
  m.producer = "liveweight format test";
  m.graphs.push_back({ir::GraphRole::kInference, make_inference_graph()});
  m.graphs.push_back({ir::GraphRole::kWeightUpdate, make_update_graph()});
  m.graphs.push_back({ir::GraphRole::kWeightInit, make_init_graph()});
  m.variables.push_back({"w_var", DType::kFloat32, {4, 3}, "w", 0});
  m.variables.push_back({"steps_var", DType::kInt64, {}, "", -1});
  return m;
}

void expect_models_equal(const ir::BundleModel& a, const ir::BundleModel& b) {
  EXPECT_EQ(a.is_bundle, b.is_bundle);
  EXPECT_EQ(a.producer, b.producer);
  EXPECT_EQ(a.weights_version, b.weights_version);
  ASSERT_EQ(a.variables.size(), b.variables.size());
  for (size_t i = 0; i < a.variables.size(); ++i) {
    const auto& va = a.variables[i];
    const auto& vb = b.variables[i];
    EXPECT_EQ(va.name, vb.name) << "variable " << i;
    EXPECT_EQ(va.dtype, vb.dtype) << "variable " << i;
    EXPECT_EQ(va.dims, vb.dims) << "variable " << i;
    EXPECT_EQ(va.source, vb.source) << "variable " << i;
    EXPECT_EQ(va.update_input, vb.update_input) << "variable " << i;
  }
  ASSERT_EQ(a.graphs.size(), b.graphs.size());
  for (size_t gi = 0; gi < a.graphs.size(); ++gi) {
    const ir::Graph& ga = a.graphs[gi].graph;
    const ir::Graph& gb = b.graphs[gi].graph;
    std::string gw = "graph " + std::to_string(gi);
    EXPECT_EQ(a.graphs[gi].role, b.graphs[gi].role) << gw;
    EXPECT_EQ(ga.name, gb.name) << gw;
    EXPECT_EQ(ga.inputs, gb.inputs) << gw;
    EXPECT_EQ(ga.outputs, gb.outputs) << gw;
    ASSERT_EQ(ga.values.size(), gb.values.size()) << gw;
    for (size_t vi = 0; vi < ga.values.size(); ++vi) {
      std::string vw = gw + " value " + std::to_string(vi);
      EXPECT_EQ(ga.values[vi].name, gb.values[vi].name) << vw;
      EXPECT_EQ(ga.values[vi].dtype, gb.values[vi].dtype) << vw;
      EXPECT_EQ(ga.values[vi].shape, gb.values[vi].shape) << vw;
      EXPECT_EQ(ga.values[vi].producer, gb.values[vi].producer) << vw;
    }
    ASSERT_EQ(ga.nodes.size(), gb.nodes.size()) << gw;
    for (size_t ni = 0; ni < ga.nodes.size(); ++ni) {
      const ir::Node& na = ga.nodes[ni];
      const ir::Node& nb = gb.nodes[ni];
      std::string nw = gw + " node " + std::to_string(ni);
      EXPECT_EQ(na.op, nb.op) << nw;
      EXPECT_EQ(na.name, nb.name) << nw;
      EXPECT_EQ(na.inputs, nb.inputs) << nw;
      EXPECT_EQ(na.outputs, nb.outputs) << nw;
      ASSERT_EQ(na.attrs.size(), nb.attrs.size()) << nw;
      for (const auto& [key, attr] : na.attrs) {
        auto it = nb.attrs.find(key);
        ASSERT_NE(it, nb.attrs.end()) << nw << " attribute " << key;
        expect_attr_equal(attr, it->second, nw + " attribute " + key);
      }
    }
  }
}

}  // namespace lw::test
