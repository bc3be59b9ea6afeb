// Import of the torch-exported models written by tests/models/make_test_models.py.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>

#include "frontends/onnx/onnx_graph_builder.h"
#include "frontends/onnx/onnx_importer.h"
#include "frontends/onnx_test_util.h"
#include "graph/op_registry.h"
#include "support/test_support.h"

namespace lw::test {
namespace {

struct ModelCase {
  std::string name;
  int64_t opset;
  std::vector<std::string> ops;
  Dims input_dims;
  int onnx_inputs;  // graph inputs the file lists (old exports list initializers too)
};

// Keeps CTest's test names readable (the default prints the bytes of the struct).
void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.name; }

const std::vector<std::string> kMlpOps = {"Gemm", "Relu", "Gemm", "Tanh", "Gemm"};

std::vector<ModelCase> cases() {
  return {
      {"mlp", 13, kMlpOps, {4, 20}, 1},
      {"cnn_bn", 17,
       {"Conv", "BatchNormalization", "Relu", "MaxPool", "Conv", "BatchNormalization", "Relu", "GlobalAveragePool",
        "Flatten", "Gemm"},
       {2, 3, 16, 16}, 1},
      {"mlp_opset11", 11, kMlpOps, {4, 20}, 7},
  };
}

struct WeightEntry {
  std::string name;
  Dims shape;
  std::string file;
};

std::vector<WeightEntry> read_weights(const std::string& dir) {
  std::ifstream f(dir + "/weights.json");
  EXPECT_TRUE(f.good()) << dir << "/weights.json";
  std::vector<WeightEntry> out;
  auto j = nlohmann::json::parse(f, nullptr, false);
  EXPECT_TRUE(j.is_array());
  if (!j.is_array()) return out;
  for (const auto& e : j) out.push_back({e["name"].get<std::string>(), e["shape"].get<Dims>(), e["file"].get<std::string>()});
  return out;
}

onnx::ModelProto read_proto(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) << path;
  return m;
}

// The Const named `name` holds exactly the floats of `npy`.
void expect_const_equals(const ir::Graph& g, const std::string& name, const NpyArray& npy, bool want_equal) {
  const ir::Node* n = producer_of(g, name);
  ASSERT_NE(n, nullptr) << name;
  ASSERT_EQ(n->op, ir::kOpConst) << name;
  const ir::TensorData* t = n->attr_tensor("value");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->dtype, DType::kFloat32) << name;
  ASSERT_EQ(npy.dtype, "f4");
  ASSERT_EQ(t->dims, npy.shape) << name;
  ASSERT_EQ(t->bytes.size, npy.bytes.size()) << name;
  bool equal = std::memcmp(t->bytes.data, npy.bytes.data(), npy.bytes.size()) == 0;
  EXPECT_EQ(equal, want_equal) << name << (want_equal ? " differs from" : " equals") << " the reference weights";
}

class TorchModels : public ::testing::TestWithParam<ModelCase> {};

// Structure before type inference: passes without op schemas.
TEST_P(TorchModels, StructureAndWeights) {
  const ModelCase& c = GetParam();
  const std::string dir = test_model_dir(c.name);
  onnx::ModelProto proto = read_proto(dir + "/model.onnx");
  ASSERT_EQ(proto.graph().input_size(), c.onnx_inputs);

  auto built = onnx_import::build_graph(proto, {});
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  const ir::Graph& g = built->graph;
  EXPECT_EQ(built->opset, c.opset);
  EXPECT_TRUE(built->pending_rewrites.empty());
  ASSERT_TRUE(g.verify().is_ok()) << g.verify().message();
  EXPECT_EQ(op_sequence(g), c.ops);

  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "input");
  EXPECT_EQ(g.value(g.inputs[0]).dtype, DType::kFloat32);
  EXPECT_EQ(g.value(g.inputs[0]).shape, Shape(c.input_dims));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.value(g.outputs[0]).name, "output");
  const ir::Node* last = producer_of(g, "output");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->op, "Gemm");

  // Every float initializer is a Const with A's data (differs from B), and there are no others.
  auto weights = read_weights(dir);
  ASSERT_FALSE(weights.empty());
  size_t float_consts = 0;
  for (const auto& n : g.nodes)
    if (n.op == ir::kOpConst && n.attr_tensor("value")->dtype == DType::kFloat32) ++float_consts;
  EXPECT_EQ(float_consts, weights.size());
  for (const auto& w : weights) expect_const_equals(g, w.name, read_npy(dir + "/" + w.file), false);

  // model_b.onnx's Consts hold exactly the numbers PyTorch wrote for weights B.
  auto built_b = onnx_import::build_graph(read_proto(dir + "/model_b.onnx"), {});
  ASSERT_TRUE(built_b.is_ok()) << built_b.status().message();
  for (const auto& w : weights) {
    expect_const_equals(built_b->graph, w.name, read_npy(dir + "/" + w.file), true);
    EXPECT_EQ(built_b->graph.value(built_b->graph.find_value(w.name)).shape, Shape(w.shape)) << w.name;
  }
}

// The whole import, type inference included (needs the op schemas of src/graph/ops).
TEST_P(TorchModels, ImportInfersOutputType) {
  const ModelCase& c = GetParam();
  const std::string dir = test_model_dir(c.name);
  auto g = onnx_import::import_onnx_file(dir + "/model.onnx");
  ASSERT_TRUE(g.is_ok()) << g.status().message();
  ASSERT_TRUE(g->verify().is_ok());
  EXPECT_EQ(op_sequence(*g), c.ops);
  NpyArray out = read_npy(dir + "/out_a.npy");
  ASSERT_EQ(g->outputs.size(), 1u);
  const ir::Value& y = g->value(g->outputs[0]);
  EXPECT_EQ(y.dtype, DType::kFloat32);
  EXPECT_EQ(y.shape, Shape(out.shape));
  for (const auto& n : g->nodes)
    for (ir::ValueId v : n.outputs) EXPECT_NE(g->value(v).dtype, DType::kUndefined) << g->value(v).name;

  // A dynamic batch via input_shapes keeps the other dims.
  onnx_import::ImportOptions opt;
  Dims dyn = c.input_dims;
  dyn[0] = kDynamicDim;
  opt.input_shapes["input"] = dyn;
  auto gd = onnx_import::import_onnx_file(dir + "/model.onnx", opt);
  ASSERT_TRUE(gd.is_ok()) << gd.status().message();
  EXPECT_EQ(gd->value(gd->inputs[0]).shape, Shape(dyn));
  const Shape& yd = gd->value(gd->outputs[0]).shape;
  ASSERT_TRUE(yd.rank_known());
  ASSERT_EQ(yd.rank(), out.shape.size());
  EXPECT_EQ(yd.dim(1), out.shape[1]);
}

INSTANTIATE_TEST_SUITE_P(All, TorchModels, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(TorchModels, CnnAttributesAndBatchNormInputs) {
  const std::string dir = test_model_dir("cnn_bn");
  auto built = onnx_import::build_graph(read_proto(dir + "/model.onnx"), {});
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  const ir::Graph& g = built->graph;
  std::vector<const ir::Node*> convs, bns;
  for (const auto& n : g.nodes) {
    if (n.op == "Conv") convs.push_back(&n);
    if (n.op == "BatchNormalization") bns.push_back(&n);
  }
  ASSERT_EQ(convs.size(), 2u);
  EXPECT_EQ(convs[0]->attr_int("group", -1), 1);
  EXPECT_EQ(convs[0]->attr_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(convs[1]->attr_int("group", -1), 2);
  EXPECT_EQ(convs[1]->attr_ints("strides"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(convs[1]->attr_ints("kernel_shape"), (std::vector<int64_t>{3, 3}));
  ASSERT_EQ(bns.size(), 2u);
  const char* params[] = {"weight", "bias", "running_mean", "running_var"};
  for (size_t b = 0; b < 2; ++b) {
    ASSERT_EQ(bns[b]->inputs.size(), 5u);
    ASSERT_EQ(bns[b]->outputs.size(), 1u);
    EXPECT_GT(bns[b]->attr_float("epsilon", 0.f), 0.f);
    for (size_t i = 0; i < 4; ++i) {
      const ir::Value& v = g.value(bns[b]->inputs[i + 1]);
      EXPECT_EQ(v.name, "bn" + std::to_string(b + 1) + "." + params[i]);
      EXPECT_EQ(g.nodes[static_cast<size_t>(v.producer)].op, ir::kOpConst);
    }
  }
}

}  // namespace
}  // namespace lw::test
