// Failures of the ONNX importer: every one is a Status naming the problem, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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
  expect_error(import_maker(m), StatusCode::kOpNotFound, {"FancyNewOp", "AnotherMadeUpOp"});
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

// Truncations and random byte flips of a real model never crash; failures carry a message.
TEST(OnnxErrors, TruncatedAndCorruptedModelsNeverCrash) {
  std::vector<uint8_t> bytes = read_file_bytes(test_model_dir("mlp") + "/model.onnx");
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
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> b = bytes;
    int flips = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    check(b);
  }
  EXPECT_GT(failures, 0u);
}

}  // namespace
}  // namespace lw::test
