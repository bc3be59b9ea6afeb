// What the importer makes of tensors, attributes, types, names and older-opset operators.
// These tests stop before type inference (build_graph) unless they say otherwise.
#include <gtest/gtest.h>

#include <cstring>

#include "frontends/onnx/onnx_graph_builder.h"
#include "frontends/onnx/onnx_importer.h"
#include "frontends/onnx_test_util.h"

namespace lw::test {
namespace {

ir::Graph build_ok(const OnnxMaker& m, const onnx_import::ImportOptions& opt = {}) {
  auto r = onnx_import::build_graph(m.model(), opt);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  if (!r.is_ok()) return {};
  EXPECT_TRUE(r->graph.verify().is_ok()) << r->graph.verify().message();
  return std::move(r->graph);
}

Status build_status(const OnnxMaker& m) {
  auto r = onnx_import::build_graph(m.model(), {});
  return r.is_ok() ? Status::ok() : r.status();
}

const ir::TensorData* const_of(const ir::Graph& g, const std::string& name) {
  const ir::Node* n = producer_of(g, name);
  if (!n || n->op != ir::kOpConst) return nullptr;
  return n->attr_tensor("value");
}

template <typename T>
std::vector<T> data_of(const ir::TensorData* t) {
  if (!t) return {};
  std::vector<T> out(t->bytes.size / sizeof(T));
  std::memcpy(out.data(), t->bytes.data, out.size() * sizeof(T));
  return out;
}

TEST(OnnxConvert, InitializerFieldsBecomeConsts) {
  OnnxMaker m(13);
  m.input("x", {2});
  m.init_raw("raw", {2}, {1.5f, -2.25f});
  auto* f = m.graph().add_initializer();
  f->set_name("typed_f");
  f->set_data_type(onnx::TensorProto::FLOAT);
  f->add_dims(1);
  f->add_dims(2);
  f->add_float_data(3.f);
  f->add_float_data(4.5f);
  m.init_int64("typed_i64", {3}, {-1, 0, int64_t{1} << 40});
  auto* i32 = m.graph().add_initializer();
  i32->set_name("typed_i32");
  i32->set_data_type(onnx::TensorProto::INT32);
  i32->add_dims(2);
  i32->add_int32_data(-7);
  i32->add_int32_data(9);
  auto* i8 = m.graph().add_initializer();
  i8->set_name("typed_i8");
  i8->set_data_type(onnx::TensorProto::INT8);
  i8->add_dims(2);
  i8->add_int32_data(-128);
  i8->add_int32_data(127);
  auto* d = m.graph().add_initializer();
  d->set_name("typed_f64");
  d->set_data_type(onnx::TensorProto::DOUBLE);
  d->add_double_data(0.125);  // a scalar
  auto* b = m.graph().add_initializer();
  b->set_name("typed_bool");
  b->set_data_type(onnx::TensorProto::BOOL);
  b->add_dims(3);
  b->add_int32_data(1);
  b->add_int32_data(0);
  b->add_int32_data(5);
  auto* empty = m.graph().add_initializer();
  empty->set_name("empty");
  empty->set_data_type(onnx::TensorProto::FLOAT);
  empty->add_dims(0);
  empty->add_dims(4);
  m.node("Sum", {"x", "raw", "typed_f"}, {"y"}, "sum");
  m.output("y");

  ir::Graph g = build_ok(m);
  EXPECT_EQ(data_of<float>(const_of(g, "raw")), (std::vector<float>{1.5f, -2.25f}));
  ASSERT_NE(const_of(g, "typed_f"), nullptr);
  EXPECT_EQ(const_of(g, "typed_f")->dims, (Dims{1, 2}));
  EXPECT_EQ(data_of<float>(const_of(g, "typed_f")), (std::vector<float>{3.f, 4.5f}));
  EXPECT_EQ(data_of<int64_t>(const_of(g, "typed_i64")), (std::vector<int64_t>{-1, 0, int64_t{1} << 40}));
  EXPECT_EQ(data_of<int32_t>(const_of(g, "typed_i32")), (std::vector<int32_t>{-7, 9}));
  EXPECT_EQ(data_of<int8_t>(const_of(g, "typed_i8")), (std::vector<int8_t>{-128, 127}));
  ASSERT_NE(const_of(g, "typed_f64"), nullptr);
  EXPECT_TRUE(const_of(g, "typed_f64")->dims.empty());
  EXPECT_EQ(data_of<double>(const_of(g, "typed_f64")), (std::vector<double>{0.125}));
  EXPECT_EQ(data_of<uint8_t>(const_of(g, "typed_bool")), (std::vector<uint8_t>{1, 0, 1}));
  ASSERT_NE(const_of(g, "empty"), nullptr);
  EXPECT_EQ(const_of(g, "empty")->bytes.size, 0u);
  EXPECT_EQ(g.value(g.find_value("typed_i32")).dtype, DType::kInt32);
  EXPECT_EQ(g.value(g.find_value("typed_f")).shape, Shape(Dims{1, 2}));
}

TEST(OnnxConvert, ConstantNodes) {
  OnnxMaker m(13);
  m.input("x", {2});
  auto* c1 = m.node("Constant", {}, {"c_tensor"}, "k1");
  auto* a = c1->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
  a->mutable_t()->add_dims(2);
  a->mutable_t()->add_float_data(7.f);
  a->mutable_t()->add_float_data(8.f);
  add_attr(m.node("Constant", {}, {"c_float"}, "k2"), "value_float", 0.5f);
  add_attr(m.node("Constant", {}, {"c_int"}, "k3"), "value_int", int64_t{42});
  add_attr(m.node("Constant", {}, {"c_ints"}, "k4"), "value_ints", std::vector<int64_t>{3, -4});
  auto* floats = m.node("Constant", {}, {"c_floats"}, "k5")->add_attribute();
  floats->set_name("value_floats");
  floats->set_type(onnx::AttributeProto::FLOATS);
  floats->add_floats(1.f);
  floats->add_floats(2.f);
  floats->add_floats(3.f);
  m.node("Add", {"x", "c_tensor"}, {"y"}, "add");
  m.output("y");

  ir::Graph g = build_ok(m);
  EXPECT_EQ(data_of<float>(const_of(g, "c_tensor")), (std::vector<float>{7.f, 8.f}));
  ASSERT_NE(const_of(g, "c_float"), nullptr);
  EXPECT_TRUE(const_of(g, "c_float")->dims.empty());
  EXPECT_EQ(data_of<float>(const_of(g, "c_float")), (std::vector<float>{0.5f}));
  EXPECT_EQ(const_of(g, "c_int")->dtype, DType::kInt64);
  EXPECT_EQ(data_of<int64_t>(const_of(g, "c_int")), (std::vector<int64_t>{42}));
  EXPECT_EQ(const_of(g, "c_ints")->dims, (Dims{2}));
  EXPECT_EQ(data_of<int64_t>(const_of(g, "c_ints")), (std::vector<int64_t>{3, -4}));
  EXPECT_EQ(data_of<float>(const_of(g, "c_floats")), (std::vector<float>{1.f, 2.f, 3.f}));
  EXPECT_EQ(op_sequence(g), (std::vector<std::string>{"Add"}));
}

TEST(OnnxConvert, AttributesOfEveryKind) {
  OnnxMaker m(13);
  m.input("x", {2});
  auto* n = m.node("CustomThing", {"x"}, {"y"}, "attrs");
  add_attr(n, "i", int64_t{-3});
  add_attr(n, "f", 2.5f);
  add_attr(n, "ints", std::vector<int64_t>{1, 2, 3});
  auto* s = n->add_attribute();
  s->set_name("s");
  s->set_type(onnx::AttributeProto::STRING);
  s->set_s("hello");
  auto* ss = n->add_attribute();
  ss->set_name("ss");
  ss->set_type(onnx::AttributeProto::STRINGS);
  ss->add_strings("a");
  ss->add_strings("bc");
  auto* fs = n->add_attribute();
  fs->set_name("fs");
  fs->set_type(onnx::AttributeProto::FLOATS);
  fs->add_floats(0.25f);
  auto* t = n->add_attribute();
  t->set_name("t");
  t->set_type(onnx::AttributeProto::TENSOR);
  t->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  t->mutable_t()->add_int64_data(11);
  auto* untyped = n->add_attribute();  // IR version 1 style: no type, the field says it
  untyped->set_name("old");
  untyped->set_i(5);
  m.output("y");

  ir::Graph g = build_ok(m);
  const ir::Node* node = producer_of(g, "y");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->name, "attrs");
  EXPECT_EQ(node->attr_int("i", 0), -3);
  EXPECT_EQ(node->attr_float("f", 0), 2.5f);
  EXPECT_EQ(node->attr_ints("ints"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(node->attr_string("s", ""), "hello");
  EXPECT_EQ(std::get<std::vector<std::string>>(node->attrs.at("ss")), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(node->attr_floats("fs"), (std::vector<float>{0.25f}));
  ASSERT_NE(node->attr_tensor("t"), nullptr);
  EXPECT_EQ(data_of<int64_t>(node->attr_tensor("t")), (std::vector<int64_t>{11}));
  EXPECT_EQ(node->attr_int("old", 0), 5);
}

TEST(OnnxConvert, GeneratedNodeNamesAreUnique) {
  OnnxMaker m(13);
  m.input("x", {2});
  m.node("Relu", {"x"}, {"a"});
  m.node("Relu", {"a"}, {"b"}, "Relu_2");  // collides with the name node 2 would get
  m.node("Relu", {"b"}, {"y"});
  m.output("y");
  ir::Graph g = build_ok(m);
  EXPECT_EQ(producer_of(g, "a")->name, "Relu_0");
  EXPECT_EQ(producer_of(g, "b")->name, "Relu_2");
  EXPECT_NE(producer_of(g, "y")->name, "Relu_2");
  EXPECT_EQ(producer_of(g, "y")->name.rfind("Relu_2", 0), 0u);
}

TEST(OnnxConvert, InputTypesDynamicDimsAndOverrides) {
  OnnxMaker m(13);
  m.input("x", {-1, 3});  // dim_param
  auto* in = m.input("z", {}, onnx::TensorProto::INT64);
  in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim();  // a dim with neither field
  m.node("Relu", {"x"}, {"r"}, "relu");
  m.node("Cast", {"z"}, {"zc"}, "cast");
  auto* vi = m.graph().add_value_info();
  vi->set_name("r");
  vi->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  vi->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(5);
  vi->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(3);
  m.output("r");
  m.output("zc", onnx::TensorProto::DOUBLE);

  ir::Graph g = build_ok(m);
  ASSERT_EQ(g.inputs.size(), 2u);
  EXPECT_EQ(g.value(g.inputs[0]).shape, Shape(Dims{-1, 3}));
  EXPECT_EQ(g.value(g.inputs[1]).dtype, DType::kInt64);
  EXPECT_EQ(g.value(g.inputs[1]).shape, Shape(Dims{-1}));
  EXPECT_EQ(g.value(g.find_value("r")).shape, Shape(Dims{5, 3}));
  EXPECT_EQ(g.value(g.find_value("r")).dtype, DType::kFloat32);
  EXPECT_EQ(g.value(g.find_value("zc")).dtype, DType::kFloat64);
  EXPECT_FALSE(g.value(g.find_value("zc")).shape.rank_known());
  ASSERT_EQ(g.outputs.size(), 2u);
  EXPECT_EQ(g.value(g.outputs[1]).name, "zc");

  onnx_import::ImportOptions opt;
  opt.input_shapes["x"] = {8, 3};
  ir::Graph g2 = build_ok(m, opt);
  EXPECT_EQ(g2.value(g2.inputs[0]).shape, Shape(Dims{8, 3}));
}

TEST(OnnxConvert, InitializersListedAsInputsAreConsts) {
  OnnxMaker m(11);
  m.input("x", {2});
  m.input("w", {2});
  m.init_raw("w", {2}, {1.f, 2.f});
  m.node("Add", {"x", "w"}, {"y"}, "add");
  m.output("y");
  ir::Graph g = build_ok(m);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
  EXPECT_EQ(producer_of(g, "w")->op, ir::kOpConst);
}

TEST(OnnxConvert, OmittedOptionalInputsAndOutputs) {
  OnnxMaker m(13);
  m.input("x", {4});
  m.init_raw("lo", {}, {0.f});
  m.node("Clip", {"x", "", ""}, {"c"}, "clip_trailing");   // both bounds omitted
  m.node("Clip", {"c", "", "lo"}, {"y", ""}, "clip_mid");  // min omitted, max given
  m.output("y");
  ir::Graph g = build_ok(m);
  const ir::Node* a = producer_of(g, "c");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->inputs.size(), 1u);
  const ir::Node* b = producer_of(g, "y");
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->inputs.size(), 3u);
  EXPECT_EQ(b->inputs[1], ir::kNoValue);
  EXPECT_EQ(b->outputs.size(), 1u);
}

// ---- older-opset rewrites ----

TEST(OnnxLegacy, SqueezeUnsqueezeReduceSumSplitAxesBecomeInputs) {
  OnnxMaker m(11);
  m.input("x", {1, 4, 1, 6});
  add_attr(m.node("Squeeze", {"x"}, {"sq"}, "sq"), "axes", std::vector<int64_t>{0, 2});
  add_attr(m.node("Unsqueeze", {"sq"}, {"un"}, "un"), "axes", std::vector<int64_t>{1});
  auto* rs = m.node("ReduceSum", {"un"}, {"rs"}, "rs");
  add_attr(rs, "axes", std::vector<int64_t>{-1});
  add_attr(rs, "keepdims", int64_t{0});
  auto* sp = m.node("Split", {"rs"}, {"s0", "s1"}, "sp");
  add_attr(sp, "axis", int64_t{0});
  add_attr(sp, "split", std::vector<int64_t>{1, 3});
  m.node("Squeeze", {"s1"}, {"all"}, "sq_all");  // no axes: squeeze every 1
  m.output("s0");
  m.output("all");

  ir::Graph g = build_ok(m);
  auto check = [&](const char* out, std::vector<int64_t> axes, const char* attr) {
    const ir::Node* n = producer_of(g, out);
    ASSERT_NE(n, nullptr) << out;
    EXPECT_FALSE(n->has_attr(attr)) << out;
    ASSERT_EQ(n->inputs.size(), 2u) << out;
    EXPECT_EQ(const_ints(g, n->inputs[1]), axes) << out;
    EXPECT_EQ(g.value(n->inputs[1]).dtype, DType::kInt64);
  };
  check("sq", {0, 2}, "axes");
  check("un", {1}, "axes");
  check("rs", {-1}, "axes");
  check("s0", {1, 3}, "split");
  EXPECT_EQ(producer_of(g, "rs")->attr_int("keepdims", 1), 0);
  EXPECT_EQ(producer_of(g, "all")->inputs.size(), 1u);

  // The same ops at opset 13 already take inputs and stay as they are.
  OnnxMaker m13(13);
  m13.input("x", {1, 4});
  m13.init_int64("ax", {1}, {0});
  m13.node("Squeeze", {"x", "ax"}, {"y"}, "sq");
  m13.output("y");
  ir::Graph g13 = build_ok(m13);
  EXPECT_EQ(producer_of(g13, "y")->inputs[1], g13.find_value("ax"));

  OnnxMaker bad(11);
  bad.input("x", {4});
  bad.node("Unsqueeze", {"x"}, {"y"}, "no_axes");
  bad.output("y");
  Status s = build_status(bad);
  EXPECT_EQ(s.code(), StatusCode::kParseModel);
  EXPECT_NE(s.message().find("no_axes"), std::string::npos) << s.message();
}

TEST(OnnxLegacy, DropoutRatioAttributeIsDropped) {
  OnnxMaker m(11);
  m.input("x", {2, 3});
  add_attr(m.node("Dropout", {"x"}, {"y", "mask"}, "drop"), "ratio", 0.3f);
  m.output("y");
  ir::Graph g = build_ok(m);
  const ir::Node* n = producer_of(g, "y");
  ASSERT_NE(n, nullptr);
  EXPECT_FALSE(n->has_attr("ratio"));
  EXPECT_EQ(n->inputs.size(), 1u);

  OnnxMaker m12(12);  // opset 12 has no ratio attribute to drop; the node is kept as is
  m12.input("x", {2, 3});
  m12.node("Dropout", {"x"}, {"y"}, "drop");
  m12.output("y");
  EXPECT_EQ(producer_of(build_ok(m12), "y")->op, "Dropout");
}

OnnxMaker batch_norm_model(int64_t opset, const std::vector<std::string>& outputs) {
  OnnxMaker m(opset);
  m.input("x", {1, 2, 3, 3});
  m.init_raw("s", {2}, {1.f, 2.f});
  m.init_raw("b", {2}, {0.f, 1.f});
  m.init_raw("mean", {2}, {0.5f, 0.f});
  m.init_raw("var", {2}, {1.f, 4.f});
  m.node("BatchNormalization", {"x", "s", "b", "mean", "var"}, outputs, "bn");
  m.output("y");
  return m;
}

TEST(OnnxLegacy, BatchNormTrainingOutputs) {
  // Unused training outputs (old exports list them) are dropped, with their values.
  ir::Graph g = build_ok(batch_norm_model(11, {"y", "m_out", "v_out", "saved_m", "saved_v"}));
  const ir::Node* bn = producer_of(g, "y");
  ASSERT_NE(bn, nullptr);
  EXPECT_EQ(bn->outputs.size(), 1u);
  EXPECT_EQ(g.find_value("m_out"), ir::kNoValue);
  EXPECT_EQ(g.find_value("saved_v"), ir::kNoValue);

  // Used, they are an error naming the node.
  OnnxMaker used = batch_norm_model(11, {"y", "m_out"});
  used.output("m_out");
  Status s = build_status(used);
  EXPECT_EQ(s.code(), StatusCode::kFeatureUnsupported);
  EXPECT_NE(s.message().find("'bn'"), std::string::npos) << s.message();

  // training_mode=1 (opset 14+) is refused.
  OnnxMaker training = batch_norm_model(15, {"y"});
  add_attr(training.graph().mutable_node(0), "training_mode", int64_t{1});
  s = build_status(training);
  EXPECT_EQ(s.code(), StatusCode::kFeatureUnsupported);
  EXPECT_NE(s.message().find("training_mode"), std::string::npos) << s.message();
}

TEST(OnnxLegacy, SoftmaxOnLastAxisOnlyNormalisesTheAxis) {
  OnnxMaker m(11);
  m.input("x", {4, 10});
  m.node("Softmax", {"x"}, {"y"}, "sm");  // old default axis 1 == rank-1
  m.output("y");
  ir::Graph g = build_ok(m);
  EXPECT_EQ(op_sequence(g), (std::vector<std::string>{"Softmax"}));
  EXPECT_EQ(producer_of(g, "y")->attr_int("axis", 0), -1);
}

TEST(OnnxLegacy, SoftmaxOnInnerAxisFlattensTheTail) {
  for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) {
    OnnxMaker m(12);
    m.input("x", {-1, 3, 4, 5});
    add_attr(m.node(op, {"x"}, {"y"}, "sm"), "axis", int64_t{1});
    m.output("y");
    ir::Graph g = build_ok(m);
    ASSERT_EQ(op_sequence(g), (std::vector<std::string>{"Reshape", op, "Reshape"})) << op;
    const ir::Node* restore = producer_of(g, "y");
    ASSERT_EQ(restore->op, "Reshape");
    EXPECT_EQ(const_ints(g, restore->inputs[1]), (std::vector<int64_t>{0, 3, 4, 5}));
    const ir::Node* sm = producer_of(g, g.value(restore->inputs[0]).name);
    ASSERT_EQ(sm->op, op);
    EXPECT_EQ(sm->attr_int("axis", 0), -1);
    const ir::Node* flatten = producer_of(g, g.value(sm->inputs[0]).name);
    ASSERT_EQ(flatten->op, "Reshape");
    EXPECT_EQ(flatten->inputs[0], g.inputs[0]);
    EXPECT_EQ(const_ints(g, flatten->inputs[1]), (std::vector<int64_t>{0, -1}));
  }
  // axis 0 with a dynamic batch: everything flattens; the one dynamic dim restores as -1.
  OnnxMaker m(11);
  m.input("x", {-1, 6});
  add_attr(m.node("Softmax", {"x"}, {"y"}, "sm"), "axis", int64_t{0});
  m.output("y");
  ir::Graph g = build_ok(m);
  const ir::Node* restore = producer_of(g, "y");
  ASSERT_EQ(restore->op, "Reshape");
  EXPECT_EQ(const_ints(g, restore->inputs[1]), (std::vector<int64_t>{-1, 6}));

  // Two dynamic dims in the flattened tail cannot be restored.
  OnnxMaker two(11);
  two.input("x", {2, -1, -1});
  add_attr(two.node("Softmax", {"x"}, {"y"}, "sm2"), "axis", int64_t{1});
  two.output("y");
  Status s = build_status(two);
  EXPECT_EQ(s.code(), StatusCode::kFeatureUnsupported);
  EXPECT_NE(s.message().find("sm2"), std::string::npos) << s.message();
}

TEST(OnnxLegacy, SoftmaxWithUnknownRankWaitsForInference) {
  OnnxMaker m(11);
  m.input("x", {2, 3, 4});
  m.node("Relu", {"x"}, {"r"}, "relu");  // no declared type for r
  m.node("Softmax", {"r"}, {"y"}, "sm");
  m.output("y");
  auto r = onnx_import::build_graph(m.model(), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->pending_rewrites.size(), 1u);
  EXPECT_EQ(r->graph.value(r->pending_rewrites[0]).name, "y");
  EXPECT_EQ(producer_of(r->graph, "y")->attr_int("axis", 0), 1);  // old default made explicit

  // With inference (needs op schemas) the rewrite completes.
  auto full = import_maker(m);
  ASSERT_TRUE(full.is_ok()) << full.status().message();
  EXPECT_EQ(op_sequence(*full), (std::vector<std::string>{"Relu", "Reshape", "Softmax", "Reshape"}));
  const ir::Value& y = full->value(full->outputs[0]);
  EXPECT_EQ(y.shape, Shape(Dims{2, 3, 4}));
  EXPECT_EQ(const_ints(*full, producer_of(*full, "y")->inputs[1]), (std::vector<int64_t>{0, 3, 4}));
}

TEST(OnnxLegacy, Opset13SoftmaxIsUntouched) {
  OnnxMaker m(13);
  m.input("x", {2, 3, 4});
  add_attr(m.node("Softmax", {"x"}, {"y"}, "sm"), "axis", int64_t{1});
  m.output("y");
  ir::Graph g = build_ok(m);
  EXPECT_EQ(op_sequence(g), (std::vector<std::string>{"Softmax"}));
  EXPECT_EQ(producer_of(g, "y")->attr_int("axis", 0), 1);
}

}  // namespace
}  // namespace lw::test
