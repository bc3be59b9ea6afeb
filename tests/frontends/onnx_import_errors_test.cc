// Failures of the ONNX importer: every one is a Status naming the problem, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <climits>
#include <random>

#include "frontends/onnx/onnx_importer.h"
#include "frontends/onnx_test_util.h"
#include "support/test_support.h"

namespace lw::test {
namespace {

using onnx_import::import_onnx_bytes;
using onnx_import::import_onnx_file;

// x[2,3] -> Relu -> y
OnnxMaker relu_model(int64_t opset = 13) {
  OnnxMaker m(opset);
  m.input("x", {2, 3});
  m.node("Relu", {"x"}, {"y"}, "relu");
  m.output("y");
  return m;
}

void expect_error(const Result<ir::Graph>& r, StatusCode code, const std::vector<std::string>& parts) {
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), code) << status_code_name(r.status().code()) << ": " << r.status().message();
  for (const auto& p : parts) EXPECT_NE(r.status().message().find(p), std::string::npos) << "'" << p << "' not in: " << r.status().message();
}

TEST(OnnxErrors, MissingFileNamesThePath) {
  std::string path = temp_path("no_such_model.onnx");
  expect_error(import_onnx_file(path), StatusCode::kInvalidFile, {path});
}

TEST(OnnxErrors, DirectoryIsNotAFile) {
  std::string dir = temp_path("a_dir");
  std::filesystem::create_directories(dir);
  expect_error(import_onnx_file(dir), StatusCode::kInvalidFile, {dir});
}

TEST(OnnxErrors, GarbageAndEmptyBytes) {
  const char garbage[] = "\xff\xff\xff\xff this is not a protobuf \x01\x02";
  expect_error(import_onnx_bytes(garbage, sizeof(garbage)), StatusCode::kParseModel, {"ModelProto"});
  expect_error(import_onnx_bytes("", 0), StatusCode::kParseModel, {"ir_version"});
  expect_error(import_onnx_bytes(nullptr, 10), StatusCode::kInvalidArgument, {"NULL"});
  std::string path = temp_path("garbage.onnx");
  {
    std::ofstream f(path, std::ios::binary);
    f.write(garbage, sizeof(garbage));
  }
  expect_error(import_onnx_file(path), StatusCode::kParseModel, {path, "ModelProto"});
}

TEST(OnnxErrors, UnsupportedOpsets) {
  expect_error(import_maker(relu_model(10)), StatusCode::kFeatureUnsupported, {"opset 10"});
  expect_error(import_maker(relu_model(18)), StatusCode::kFeatureUnsupported, {"opset 18"});
  OnnxMaker none = relu_model();
  none.model().clear_opset_import();
  expect_error(import_maker(none), StatusCode::kParseModel, {"opset"});
}

TEST(OnnxErrors, UnsupportedOpsAreListedByName) {
  OnnxMaker m(13);
  m.input("x", {2, 3});
  m.node("FancyNewOp", {"x"}, {"a"}, "f1");
  m.node("AnotherMadeUpOp", {"a"}, {"b"}, "f2");
  m.node("FancyNewOp", {"b"}, {"y"}, "f3");
  m.output("y");
  expect_error(import_maker(m), StatusCode::kOpNotFound,
               {"FancyNewOp (node 'f1')", "AnotherMadeUpOp (node 'f2')"});
}

// Inconsistent shapes in the ops added for CNNs and encoders fail the import with an error
// naming the node.
TEST(OnnxErrors, InconsistentShapesOfNewOpsNameTheNode) {
  {
    OnnxMaker m(13);
    m.input("x", {2, 3});
    m.init_int64("shape", {1}, {4});
    m.node("Expand", {"x", "shape"}, {"y"}, "bad_expand");
    m.output("y");
    expect_error(import_maker(m), StatusCode::kParseModel, {"bad_expand", "broadcast"});
  }
  {
    OnnxMaker m(13);
    m.input("x", {2, 3});
    m.init_int64("starts", {1}, {0});
    m.init_int64("ends", {1}, {1});
    m.init_int64("axes", {1}, {5});
    m.node("Slice", {"x", "starts", "ends", "axes"}, {"y"}, "bad_slice");
    m.output("y");
    expect_error(import_maker(m), StatusCode::kParseModel, {"bad_slice", "axis 5"});
  }
  {
    OnnxMaker m(13);
    m.input("x", {2, 3});
    m.init_int64("pads", {4}, {0, -3, 0, -1});
    m.node("Pad", {"x", "pads"}, {"y"}, "bad_pad");
    m.output("y");
    expect_error(import_maker(m), StatusCode::kParseModel, {"bad_pad", "below zero"});
  }
  {
    OnnxMaker m(13);
    m.input("x", {2, 6});
    m.init_int64("split", {2}, {2, 3});
    auto* n = m.node("Split", {"x", "split"}, {"a", "b"}, "bad_split");
    add_attr(n, "axis", int64_t{1});
    m.output("a");
    expect_error(import_maker(m), StatusCode::kParseModel, {"bad_split", "sums to 5"});
  }
  {
    OnnxMaker m(17);
    m.input("x", {2, 8});
    m.init_raw("scale", {4}, {1, 1, 1, 1});
    m.node("LayerNormalization", {"x", "scale"}, {"y"}, "bad_ln");
    m.output("y");
    expect_error(import_maker(m), StatusCode::kParseModel, {"bad_ln"});
  }
  {  // absurd Conv attributes (UBSan once found signed overflow here)
    OnnxMaker m(13);
    m.input("x", {1, 1, 4, 4});
    m.init_raw("w", {1, 1, 1, 1}, {1});
    auto* n = m.node("Conv", {"x", "w"}, {"y"}, "huge_pads");
    add_attr(n, "pads", std::vector<int64_t>{INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX});
    m.output("y");
    expect_error(import_maker(m), StatusCode::kParseModel, {"huge_pads", "pads"});
    OnnxMaker m2(13);
    m2.input("x", {1, 1, 4, 4});
    auto* p = m2.node("MaxPool", {"x"}, {"y"}, "huge_kernel");
    add_attr(p, "kernel_shape", std::vector<int64_t>{INT64_MAX, 2});
    add_attr(p, "dilations", std::vector<int64_t>{INT64_MAX, 1});
    m2.output("y");
    expect_error(import_maker(m2), StatusCode::kParseModel, {"huge_kernel"});
  }
}

TEST(OnnxErrors, OtherDomainNamesNodeAndDomain) {
  OnnxMaker m = relu_model();
  auto* o = m.model().add_opset_import();
  o->set_domain("com.microsoft");
  o->set_version(1);
  m.node("FusedGemm", {"y"}, {"z"}, "fused")->set_domain("com.microsoft");
  expect_error(import_maker(m), StatusCode::kFeatureUnsupported, {"fused", "com.microsoft"});
}

TEST(OnnxErrors, SubgraphAttributeNamesTheNode) {
  OnnxMaker m(13);
  m.input("c", {}, onnx::TensorProto::BOOL);
  auto* n = m.node("If", {"c"}, {"y"}, "branchy");
  auto* a = n->add_attribute();
  a->set_name("then_branch");
  a->set_type(onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name("then");
  m.output("y");
  expect_error(import_maker(m), StatusCode::kFeatureUnsupported, {"branchy", "then_branch", "subgraph"});
}

TEST(OnnxErrors, ExternalDataNamesTheTensor) {
  OnnxMaker m(13);
  m.input("x", {2, 3});
  auto* t = m.graph().add_initializer();
  t->set_name("big_weight");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(2);
  t->add_dims(3);
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* e = t->add_external_data();
  e->set_key("location");
  e->set_value("weights.bin");
  m.node("Add", {"x", "big_weight"}, {"y"}, "add");
  m.output("y");
  expect_error(import_maker(m), StatusCode::kFeatureUnsupported, {"big_weight", "external"});
}

TEST(OnnxErrors, InitializerSizeMismatchNamesTheTensor) {
  OnnxMaker m(13);
  m.input("x", {2, 3});
  m.init_raw("w", {2, 3}, {1, 2, 3, 4, 5});  // 5 floats for 6 elements
  m.node("Add", {"x", "w"}, {"y"}, "add");
  m.output("y");
  expect_error(import_maker(m), StatusCode::kParseModel, {"'w'", "24", "20"});

  OnnxMaker typed(13);
  typed.input("x", {3});
  typed.init_int64("k", {4}, {1, 2, 3});
  typed.node("Add", {"x", "k"}, {"y"}, "add");
  typed.output("y");
  expect_error(import_maker(typed), StatusCode::kParseModel, {"'k'", "int64_data"});

  OnnxMaker negative(13);
  negative.input("x", {3});
  negative.init_raw("n", {-3}, {});
  negative.node("Add", {"x", "n"}, {"y"}, "add");
  negative.output("y");
  expect_error(import_maker(negative), StatusCode::kParseModel, {"'n'", "negative"});
}

TEST(OnnxErrors, InconsistentGraphsNameTheNode) {
  {  // reads a value nobody makes
    OnnxMaker m = relu_model();
    m.node("Add", {"y", "ghost"}, {"z"}, "adder");
    expect_error(import_maker(m), StatusCode::kParseModel, {"adder", "ghost"});
  }
  {  // two producers of one value
    OnnxMaker m = relu_model();
    m.node("Neg", {"x"}, {"y"}, "again");
    expect_error(import_maker(m), StatusCode::kParseModel, {"again", "'y'", "unique"});
  }
  {  // initializer named like an input of another node's output
    OnnxMaker m = relu_model();
    m.init_raw("y", {1}, {1.f});
    expect_error(import_maker(m), StatusCode::kParseModel, {"'y'"});
  }
  {  // a cycle
    OnnxMaker m(13);
    m.input("x", {2});
    m.node("Add", {"x", "b"}, {"a"}, "first");
    m.node("Neg", {"a"}, {"b"}, "second");
    m.output("b");
    expect_error(import_maker(m), StatusCode::kParseModel, {"cycle"});
  }
  {  // an output nobody makes
    OnnxMaker m = relu_model();
    m.output("nowhere");
    expect_error(import_maker(m), StatusCode::kParseModel, {"nowhere"});
  }
  {  // no outputs
    OnnxMaker m = relu_model();
    m.graph().clear_output();
    expect_error(import_maker(m), StatusCode::kParseModel, {"no outputs"});
  }
  {  // no graph
    OnnxMaker m = relu_model();
    m.model().clear_graph();
    expect_error(import_maker(m), StatusCode::kParseModel, {"graph"});
  }
  {  // Constant without a value
    OnnxMaker m = relu_model();
    m.node("Constant", {}, {"c"}, "empty_const");
    expect_error(import_maker(m), StatusCode::kParseModel, {"empty_const"});
  }
  {  // sequence-typed input
    OnnxMaker m(13);
    auto* in = m.graph().add_input();
    in->set_name("seq");
    in->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(1);
    m.node("Identity", {"seq"}, {"y"});
    m.output("y");
    expect_error(import_maker(m), StatusCode::kFeatureUnsupported, {"seq"});
  }
}

TEST(OnnxErrors, InputShapesMustNameAnInput) {
  OnnxMaker m = relu_model();
  m.init_raw("w", {1}, {1.f});
  std::string b = m.bytes();
  onnx_import::ImportOptions opt;
  opt.input_shapes["nope"] = {1, 3};
  expect_error(import_onnx_bytes(b.data(), b.size(), opt), StatusCode::kInvalidArgument, {"nope"});
  onnx_import::ImportOptions on_init;
  on_init.input_shapes["w"] = {1};
  expect_error(import_onnx_bytes(b.data(), b.size(), on_init), StatusCode::kInvalidArgument, {"'w'"});
}

// Truncations and random byte flips of real models never crash; failures carry a message.
TEST(OnnxErrors, TruncatedAndCorruptedModelsNeverCrash) {
  for (const char* model : {"mlp", "cnn_bn", "mlp_opset11"}) {
    std::vector<uint8_t> bytes = read_file_bytes(test_model_dir(model) + "/model.onnx");
    ASSERT_GT(bytes.size(), 1000u);
    size_t failures = 0;
    auto check = [&](const std::vector<uint8_t>& b) {
      auto r = import_onnx_bytes(b.data(), b.size());
      if (!r.is_ok()) {
        ++failures;
        EXPECT_FALSE(r.status().message().empty());
      } else {
        EXPECT_TRUE(r->verify().is_ok());
      }
    };
    for (size_t len = 0; len < bytes.size(); len += (len < 256 ? 1 : 7))
      check(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(len)));
    std::mt19937 rng(12345);
    for (int iter = 0; iter < 2000; ++iter) {
      std::vector<uint8_t> b = bytes;
      int flips = 1 + static_cast<int>(rng() % 8);
      for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
      check(b);
    }
    EXPECT_GT(failures, 0u) << model;
  }
}

// Field-level damage that still parses as a ModelProto: wrong dims, attribute values, op
// types and wiring reach the graph builder and type inference, which must answer with a Status.
TEST(OnnxErrors, StructurallyDamagedModelsNeverCrash) {
  std::vector<uint8_t> bytes = read_file_bytes(test_model_dir("cnn_bn") + "/model.onnx");
  onnx::ModelProto base;
  ASSERT_TRUE(base.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  const int64_t kValues[] = {0, 1, -1, 2, 3, -7, 1000, int64_t{1} << 33, INT64_MAX, INT64_MIN};
  const char* kOps[] = {"Relu", "Conv", "Gemm", "MaxPool", "Flatten", "BatchNormalization", "Reshape", "Add"};
  std::mt19937 rng(777);
  auto pick_value = [&] { return kValues[rng() % (sizeof(kValues) / sizeof(kValues[0]))]; };
  size_t ok = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    onnx::ModelProto m = base;
    auto* g = m.mutable_graph();
    for (int k = 0, edits = 1 + static_cast<int>(rng() % 3); k < edits; ++k) {
      auto* node = g->mutable_node(static_cast<int>(rng() % static_cast<unsigned>(g->node_size())));
      switch (rng() % 7) {
        case 0:  // an attribute int or ints entry
          for (auto& a : *node->mutable_attribute()) {
            if (a.type() == onnx::AttributeProto::INT) a.set_i(pick_value());
            if (a.type() == onnx::AttributeProto::INTS && a.ints_size() > 0)
              a.set_ints(static_cast<int>(rng() % static_cast<unsigned>(a.ints_size())), pick_value());
          }
          break;
        case 1:  // drop the last input
          if (node->input_size() > 0) node->mutable_input()->RemoveLast();
          break;
        case 2:  // another op type
          node->set_op_type(kOps[rng() % (sizeof(kOps) / sizeof(kOps[0]))]);
          break;
        case 3: {  // an initializer's dims
          auto* t = g->mutable_initializer(static_cast<int>(rng() % static_cast<unsigned>(g->initializer_size())));
          if (t->dims_size() > 0) t->set_dims(static_cast<int>(rng() % static_cast<unsigned>(t->dims_size())), pick_value());
          else t->add_dims(pick_value());
          break;
        }
        case 4: {  // the graph input's dims
          auto* shape = g->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
          shape->mutable_dim(static_cast<int>(rng() % static_cast<unsigned>(shape->dim_size())))->set_dim_value(pick_value());
          break;
        }
        case 5:  // feed the node from the graph input instead
          if (node->input_size() > 0) node->set_input(static_cast<int>(rng() % static_cast<unsigned>(node->input_size())), "input");
          break;
        default:  // an extra, empty or duplicated input
          node->add_input(rng() % 2 ? "" : node->input_size() > 0 ? node->input(0) : "input");
          break;
      }
    }
    std::string b = m.SerializeAsString();
    auto r = import_onnx_bytes(b.data(), b.size());
    if (r.is_ok()) {
      ++ok;
      EXPECT_TRUE(r->verify().is_ok());
    } else {
      EXPECT_FALSE(r.status().message().empty());
    }
  }
  EXPECT_LT(ok, 1500u);
}

}  // namespace
}  // namespace lw::test
