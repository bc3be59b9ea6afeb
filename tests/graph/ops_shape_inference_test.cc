// Shape and type inference of the op schemas: static, dynamic and unknown-rank inputs, and
// the errors for inconsistent shapes and bad attributes (each naming the node).
#include <gtest/gtest.h>

#include <cstring>

#include "graph/op_registry.h"

namespace lw::ir {
namespace {

struct In {
  DType dtype = DType::kFloat32;
  Shape shape;
  std::vector<int64_t> const_ints;  // non-empty: a Const int64 input with these values
  bool is_const = false;
  bool omitted = false;
};

In data(Dims dims, DType t = DType::kFloat32) { return In{t, Shape(std::move(dims)), {}, false, false}; }
In unknown(DType t = DType::kFloat32) { return In{t, Shape::unknown_rank(), {}, false, false}; }
In ints(std::vector<int64_t> v) { return In{DType::kInt64, Shape(Dims{static_cast<int64_t>(v.size())}), v, true, false}; }
In none() { return In{DType::kUndefined, Shape(), {}, false, true}; }

struct Inferred {
  Status status;
  std::vector<TensorType> outputs;
};

Inferred infer(const std::string& op, const std::vector<In>& inputs, std::map<std::string, Attribute> attrs = {},
               int n_outputs = 1) {
  Graph g;
  g.name = "g";
  Node n;
  n.op = op;
  n.name = "node_x";
  n.attrs = std::move(attrs);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const In& in = inputs[i];
    if (in.omitted) {
      n.inputs.push_back(kNoValue);
    } else if (in.is_const) {
      TensorData td;
      td.dtype = DType::kInt64;
      td.dims = {static_cast<int64_t>(in.const_ints.size())};
      td.bytes = Blob::copy_of(in.const_ints.data(), in.const_ints.size() * sizeof(int64_t));
      n.inputs.push_back(g.add_const(str_cat("c", i), std::move(td)));
    } else {
      n.inputs.push_back(g.add_data(str_cat("d", i), in.dtype, in.shape));
    }
  }
  for (int i = 0; i < n_outputs; ++i)
    n.outputs.push_back(g.add_value(str_cat("o", i), DType::kUndefined, Shape::unknown_rank()));
  int32_t idx = g.add_node(std::move(n));
  Inferred r;
  r.status = infer_graph_types(g);
  for (ValueId o : g.nodes[static_cast<size_t>(idx)].outputs) r.outputs.push_back({g.value(o).dtype, g.value(o).shape});
  return r;
}

Shape S(Dims d) { return Shape(std::move(d)); }
constexpr int64_t D = kDynamicDim;

#define EXPECT_SHAPE(result, expected)                                      \
  do {                                                                      \
    auto r_ = (result);                                                     \
    ASSERT_TRUE(r_.status.is_ok()) << r_.status.message();                  \
    EXPECT_EQ(r_.outputs[0].shape, (expected)) << r_.outputs[0].shape.to_string(); \
  } while (0)

// The error names the node and contains `fragment`.
#define EXPECT_INFER_ERROR(result, fragment)                                            \
  do {                                                                                  \
    auto r_ = (result);                                                                 \
    ASSERT_FALSE(r_.status.is_ok());                                                    \
    EXPECT_NE(r_.status.message().find("node_x"), std::string::npos) << r_.status.message(); \
    EXPECT_NE(r_.status.message().find(fragment), std::string::npos) << r_.status.message(); \
  } while (0)

TEST(OpsInference, Broadcasting) {
  EXPECT_SHAPE(infer("Add", {data({2, 3, 4}), data({4})}), S({2, 3, 4}));
  EXPECT_SHAPE(infer("Mul", {data({2, 1, 4}), data({3, 1})}), S({2, 3, 4}));
  EXPECT_SHAPE(infer("Sub", {data({}), data({5})}), S({5}));
  EXPECT_SHAPE(infer("Div", {data({D, 3}), data({4, 1})}), S({4, 3}));
  EXPECT_SHAPE(infer("Add", {data({D, 3}), data({1, 3})}), S({D, 3}));
  EXPECT_SHAPE(infer("Add", {data({D}), data({D})}), S({D}));
  EXPECT_SHAPE(infer("Add", {unknown(), data({3})}), Shape::unknown_rank());
  EXPECT_INFER_ERROR(infer("Add", {data({2, 3}), data({4})}), "shapes [2,3] and [4] do not broadcast");
  EXPECT_INFER_ERROR(infer("Add", {data({2}), data({2}, DType::kInt64)}), "float32");
  auto eq = infer("Equal", {data({2}, DType::kInt64), data({}, DType::kInt64)});
  ASSERT_TRUE(eq.status.is_ok());
  EXPECT_EQ(eq.outputs[0].dtype, DType::kBool);
  EXPECT_SHAPE(infer("Where", {data({2, 1}, DType::kBool), data({3}), data({})}), S({2, 3}));
  EXPECT_INFER_ERROR(infer("Where", {data({2}), data({2}), data({2})}), "condition");
  EXPECT_INFER_ERROR(infer("Where", {data({2}, DType::kBool), data({3}), data({2})}), "do not broadcast");
}

TEST(OpsInference, UnaryAndMisc) {
  EXPECT_SHAPE(infer("Relu", {data({D, 3})}), S({D, 3}));
  EXPECT_SHAPE(infer("Sigmoid", {unknown()}), Shape::unknown_rank());
  EXPECT_INFER_ERROR(infer("Sqrt", {data({2}, DType::kInt64)}), "unsupported type int64");
  EXPECT_SHAPE(infer("Clip", {data({2, 3}), none(), data({})}), S({2, 3}));
  EXPECT_INFER_ERROR(infer("Clip", {data({2, 3}), data({2})}), "scalar");
  auto dr = infer("Dropout", {data({4, 5})}, {}, 2);
  ASSERT_TRUE(dr.status.is_ok());
  EXPECT_EQ(dr.outputs[1].dtype, DType::kBool);
  EXPECT_EQ(dr.outputs[1].shape, S({4, 5}));
  auto cast = infer("Cast", {data({2})}, {{"to", int64_t{7}}});
  ASSERT_TRUE(cast.status.is_ok());
  EXPECT_EQ(cast.outputs[0].dtype, DType::kInt64);
  EXPECT_INFER_ERROR(infer("Cast", {data({2})}, {{"to", int64_t{42}}}), "'to'");
  EXPECT_INFER_ERROR(infer("Cast", {data({2})}), "'to' is required");
  EXPECT_INFER_ERROR(infer("LeakyRelu", {data({2})}, {{"alpha", std::string("x")}}), "'alpha' must be float");
  EXPECT_INFER_ERROR(infer("Relu", {data({2}), data({2})}), "has 2 inputs");
}

TEST(OpsInference, GemmAndMatMul) {
  EXPECT_SHAPE(infer("Gemm", {data({3, 4}), data({4, 5}), data({5})}), S({3, 5}));
  EXPECT_SHAPE(infer("Gemm", {data({4, 3}), data({5, 4})}, {{"transA", int64_t{1}}, {"transB", int64_t{1}}}), S({3, 5}));
  EXPECT_SHAPE(infer("Gemm", {data({D, 4}), data({4, 5}), data({1, 5})}), S({D, 5}));
  EXPECT_INFER_ERROR(infer("Gemm", {data({3, 4}), data({5, 6})}), "inner dims differ");
  EXPECT_INFER_ERROR(infer("Gemm", {data({3, 4}), data({4, 5}), data({3})}), "does not broadcast");
  EXPECT_INFER_ERROR(infer("Gemm", {data({2, 3, 4}), data({4, 5})}), "must be 2-D");
  EXPECT_INFER_ERROR(infer("Gemm", {data({3, 4}), data({4, 5})}, {{"transA", int64_t{2}}}), "transA");

  EXPECT_SHAPE(infer("MatMul", {data({2, 3, 4}), data({4, 5})}), S({2, 3, 5}));
  EXPECT_SHAPE(infer("MatMul", {data({2, 1, 3, 4}), data({5, 4, 6})}), S({2, 5, 3, 6}));
  EXPECT_SHAPE(infer("MatMul", {data({4}), data({2, 4, 5})}), S({2, 5}));
  EXPECT_SHAPE(infer("MatMul", {data({3, 4}), data({4})}), S({3}));
  EXPECT_SHAPE(infer("MatMul", {data({4}), data({4})}), S({}));
  EXPECT_SHAPE(infer("MatMul", {data({D, D, 4}), data({4, 8})}), S({D, D, 8}));
  EXPECT_SHAPE(infer("MatMul", {unknown(), data({4, 8})}), Shape::unknown_rank());
  EXPECT_INFER_ERROR(infer("MatMul", {data({3, 4}), data({5, 6})}), "inner dims differ");
  EXPECT_INFER_ERROR(infer("MatMul", {data({2, 3, 4}), data({3, 4, 5})}), "do not broadcast");
}

TEST(OpsInference, ConvAndPools) {
  std::map<std::string, Attribute> a = {{"pads", Dims{1, 1, 1, 1}}, {"strides", Dims{2, 2}}};
  EXPECT_SHAPE(infer("Conv", {data({1, 3, 224, 224}), data({64, 3, 7, 7})},
                     {{"pads", Dims{3, 3, 3, 3}}, {"strides", Dims{2, 2}}}),
               S({1, 64, 112, 112}));
  EXPECT_SHAPE(infer("Conv", {data({D, 3, D, 32}), data({8, 3, 3, 3}), data({8})}, a), S({D, 8, D, 16}));
  EXPECT_SHAPE(infer("Conv", {data({1, 8, 10, 10}), data({8, 1, 3, 3})}, {{"group", int64_t{8}}}), S({1, 8, 8, 8}));
  EXPECT_SHAPE(infer("Conv", {data({1, 2, 10, 10}), data({3, 2, 3, 3})}, {{"dilations", Dims{2, 2}}}), S({1, 3, 6, 6}));
  EXPECT_SHAPE(infer("Conv", {data({1, 3, 7, 9}), data({2, 3, 3, 3})},
                     {{"auto_pad", std::string("SAME_UPPER")}, {"strides", Dims{2, 2}}}),
               S({1, 2, 4, 5}));
  EXPECT_SHAPE(infer("Conv", {data({1, 3, 7, 9}), data({2, 3, 3, 3})}, {{"auto_pad", std::string("VALID")}}),
               S({1, 2, 5, 7}));
  EXPECT_SHAPE(infer("Conv", {unknown(), data({8, 3, 3, 3})}), S({D, 8, D, D}));
  EXPECT_INFER_ERROR(infer("Conv", {data({1, 4, 8, 8}), data({8, 3, 3, 3})}), "channels");
  EXPECT_INFER_ERROR(infer("Conv", {data({1, 4, 8, 8}), data({8, 2, 3, 3})}, {{"group", int64_t{3}}}), "group");
  EXPECT_INFER_ERROR(infer("Conv", {data({1, 3, 8, 8}), data({8, 3, 3, 3}), data({4})}), "bias");
  EXPECT_INFER_ERROR(infer("Conv", {data({1, 3, 8, 8}), data({8, 3, 3, 3})}, {{"strides", Dims{0, 1}}}), "strides");
  EXPECT_INFER_ERROR(infer("Conv", {data({1, 3, 8, 8}), data({8, 3, 3, 3})}, {{"pads", Dims{1, 1}}}), "pads");
  EXPECT_INFER_ERROR(infer("Conv", {data({1, 3, 2, 2}), data({8, 3, 3, 3})}), "larger than the padded input");
  EXPECT_INFER_ERROR(infer("Conv", {data({1, 3, 8, 8}), data({8, 3, 3, 3})}, {{"auto_pad", std::string("SAME")}}),
                     "auto_pad");

  EXPECT_SHAPE(infer("MaxPool", {data({1, 64, 112, 112})},
                     {{"kernel_shape", Dims{3, 3}}, {"strides", Dims{2, 2}}, {"pads", Dims{1, 1, 1, 1}}}),
               S({1, 64, 56, 56}));
  EXPECT_SHAPE(infer("MaxPool", {data({1, 2, 8, 8})},
                     {{"kernel_shape", Dims{3, 3}}, {"strides", Dims{2, 2}}, {"ceil_mode", int64_t{1}}}),
               S({1, 2, 4, 4}));
  // Ceil mode drops a last window that would start in the end padding.
  EXPECT_SHAPE(infer("AveragePool", {data({1, 1, 5, 5})},
                     {{"kernel_shape", Dims{2, 2}}, {"strides", Dims{2, 2}}, {"pads", Dims{0, 0, 1, 1}},
                      {"ceil_mode", int64_t{1}}}),
               S({1, 1, 3, 3}));
  auto mp = infer("MaxPool", {data({1, 2, 8, 8})}, {{"kernel_shape", Dims{2, 2}}}, 2);
  ASSERT_TRUE(mp.status.is_ok());
  EXPECT_EQ(mp.outputs[1].dtype, DType::kInt64);
  EXPECT_SHAPE(infer("AveragePool", {unknown()}, {{"kernel_shape", Dims{2, 2}}}), S({D, D, D, D}));
  EXPECT_INFER_ERROR(infer("MaxPool", {data({1, 2, 8, 8})}), "kernel_shape");
  EXPECT_INFER_ERROR(infer("MaxPool", {data({1, 2, 8, 8})}, {{"kernel_shape", Dims{-3, 3}}}), "positive");
  EXPECT_INFER_ERROR(infer("MaxPool", {data({1, 2, 8, 8})}, {{"kernel_shape", Dims{3}}}), "rank");
  EXPECT_SHAPE(infer("GlobalAveragePool", {data({2, 5, 7, 7})}), S({2, 5, 1, 1}));
  EXPECT_INFER_ERROR(infer("GlobalAveragePool", {data({2, 5})}), "rank >= 3");
}

TEST(OpsInference, BatchNormAndSoftmax) {
  EXPECT_SHAPE(infer("BatchNormalization", {data({2, 3, 4, 4}), data({3}), data({3}), data({3}), data({3})}),
               S({2, 3, 4, 4}));
  EXPECT_INFER_ERROR(infer("BatchNormalization", {data({2, 3, 4, 4}), data({4}), data({3}), data({3}), data({3})}),
                     "channel count");
  EXPECT_INFER_ERROR(infer("BatchNormalization", {data({2, 3}), data({3}), data({3}), data({3}), data({3})},
                           {{"training_mode", int64_t{1}}}),
                     "training_mode");
  EXPECT_SHAPE(infer("Softmax", {data({2, 5})}, {{"axis", int64_t{-2}}}), S({2, 5}));
  EXPECT_INFER_ERROR(infer("Softmax", {data({2, 5})}, {{"axis", int64_t{2}}}), "out of range");
}

TEST(OpsInference, Reshape) {
  EXPECT_SHAPE(infer("Reshape", {data({2, 3, 4}), ints({0, -1})}), S({2, 12}));
  EXPECT_SHAPE(infer("Reshape", {data({2, 3, 4}), ints({4, 0, 2})}), S({4, 3, 2}));
  EXPECT_SHAPE(infer("Reshape", {data({D, 3, 4}), ints({0, -1})}), S({D, 12}));
  EXPECT_SHAPE(infer("Reshape", {data({D, 3, 4}), ints({-1, 12})}), S({D, 12}));
  EXPECT_SHAPE(infer("Reshape", {data({0, 3}), ints({3, 0})}, {{"allowzero", int64_t{1}}}), S({3, 0}));
  EXPECT_SHAPE(infer("Reshape", {data({2, 3}), data({3}, DType::kInt64)}), S({D, D, D}));
  EXPECT_SHAPE(infer("Reshape", {data({2, 3}), unknown(DType::kInt64)}), Shape::unknown_rank());
  EXPECT_INFER_ERROR(infer("Reshape", {data({2, 3, 4}), ints({5, -1})}), "cannot reshape");
  EXPECT_INFER_ERROR(infer("Reshape", {data({2, 3, 4}), ints({-1, -1})}), "more than one -1");
  EXPECT_INFER_ERROR(infer("Reshape", {data({2, 3, 4}), ints({7, 2})}), "cannot reshape");
  EXPECT_INFER_ERROR(infer("Reshape", {data({2, 3, 4}), ints({2, -3, 4})}), "invalid dim");
  EXPECT_TRUE(is_shape_input("Reshape", 1));
  EXPECT_FALSE(is_shape_input("Reshape", 0));
}

TEST(OpsInference, FlattenTransposeConcat) {
  EXPECT_SHAPE(infer("Flatten", {data({2, 3, 4, 5})}), S({2, 60}));
  EXPECT_SHAPE(infer("Flatten", {data({2, 3, 4, 5})}, {{"axis", int64_t{0}}}), S({1, 120}));
  EXPECT_SHAPE(infer("Flatten", {data({2, 3, 4, 5})}, {{"axis", int64_t{-1}}}), S({24, 5}));
  EXPECT_SHAPE(infer("Flatten", {data({2, D, 4})}, {{"axis", int64_t{2}}}), S({D, 4}));
  EXPECT_INFER_ERROR(infer("Flatten", {data({2, 3})}, {{"axis", int64_t{3}}}), "out of range");

  EXPECT_SHAPE(infer("Transpose", {data({2, 3, 4})}), S({4, 3, 2}));
  EXPECT_SHAPE(infer("Transpose", {data({2, D, 4})}, {{"perm", Dims{0, 2, 1}}}), S({2, 4, D}));
  EXPECT_SHAPE(infer("Transpose", {unknown()}, {{"perm", Dims{1, 0}}}), S({D, D}));
  EXPECT_INFER_ERROR(infer("Transpose", {data({2, 3, 4})}, {{"perm", Dims{0, 0, 1}}}), "not a permutation");
  EXPECT_INFER_ERROR(infer("Transpose", {data({2, 3, 4})}, {{"perm", Dims{0, 1}}}), "perm");

  EXPECT_SHAPE(infer("Concat", {data({2, 3}), data({2, 5})}, {{"axis", int64_t{-1}}}), S({2, 8}));
  EXPECT_SHAPE(infer("Concat", {data({D, 3}), data({2, 3})}, {{"axis", int64_t{0}}}), S({D, 3}));
  EXPECT_SHAPE(infer("Concat", {data({D, 3}), data({2, D})}, {{"axis", int64_t{1}}}), S({2, D}));
  EXPECT_INFER_ERROR(infer("Concat", {data({2, 3}), data({4, 5})}, {{"axis", int64_t{1}}}), "differs");
  EXPECT_INFER_ERROR(infer("Concat", {data({2, 3}), data({2, 3, 1})}, {{"axis", int64_t{1}}}), "rank");
  EXPECT_INFER_ERROR(infer("Concat", {data({2, 3})}, {{"axis", int64_t{2}}}), "out of range");
  EXPECT_INFER_ERROR(infer("Concat", {data({2, 3})}), "'axis' is required");
}

TEST(OpsInference, SqueezeUnsqueezeShapeGather) {
  EXPECT_SHAPE(infer("Squeeze", {data({1, 3, 1, 4}), ints({0, -2})}), S({3, 4}));
  EXPECT_SHAPE(infer("Squeeze", {data({1, 3, 1, 4})}), S({3, 4}));
  EXPECT_SHAPE(infer("Squeeze", {data({1, 3, 1, 4}), ints({})}), S({3, 4}));
  EXPECT_SHAPE(infer("Squeeze", {data({1, D, 4})}), Shape::unknown_rank());
  EXPECT_SHAPE(infer("Squeeze", {data({1, D, 4}), ints({0})}), S({D, 4}));
  EXPECT_INFER_ERROR(infer("Squeeze", {data({1, 3}), ints({1})}), "not 1");
  EXPECT_INFER_ERROR(infer("Squeeze", {data({1, 3}), ints({2})}), "out of range");
  EXPECT_TRUE(is_shape_input("Squeeze", 1));

  EXPECT_SHAPE(infer("Unsqueeze", {data({3, 4}), ints({0, -1})}), S({1, 3, 4, 1}));
  EXPECT_SHAPE(infer("Unsqueeze", {data({3}), ints({1})}), S({3, 1}));
  EXPECT_INFER_ERROR(infer("Unsqueeze", {data({3}), ints({0, 0})}), "repeat");
  EXPECT_INFER_ERROR(infer("Unsqueeze", {data({3}), ints({3})}), "out of range");
  EXPECT_TRUE(is_shape_input("Unsqueeze", 1));

  auto sh = infer("Shape", {data({2, D, 4})});
  ASSERT_TRUE(sh.status.is_ok());
  EXPECT_EQ(sh.outputs[0].dtype, DType::kInt64);
  EXPECT_EQ(sh.outputs[0].shape, S({3}));
  EXPECT_SHAPE(infer("Shape", {data({2, 3, 4})}, {{"start", int64_t{-2}}}), S({2}));
  EXPECT_SHAPE(infer("Shape", {unknown()}), S({D}));

  EXPECT_SHAPE(infer("Gather", {data({5, 4}), data({2, 3}, DType::kInt64)}), S({2, 3, 4}));
  EXPECT_SHAPE(infer("Gather", {data({5, 4, 3}), data({}, DType::kInt64)}, {{"axis", int64_t{-2}}}), S({5, 3}));
  EXPECT_INFER_ERROR(infer("Gather", {data({5, 4}), data({2}, DType::kFloat32)}), "indices");
  EXPECT_INFER_ERROR(infer("Gather", {data({5, 4}), ints({7})}), "out of range");
  EXPECT_INFER_ERROR(infer("Gather", {data({5, 4}), ints({0})}, {{"axis", int64_t{2}}}), "out of range");
}

TEST(OpsInference, ReduceMean) {
  EXPECT_SHAPE(infer("ReduceMean", {data({2, 3, 4})}, {{"axes", Dims{-1}}}), S({2, 3, 1}));
  EXPECT_SHAPE(infer("ReduceMean", {data({2, 3, 4})}, {{"axes", Dims{0, 2}}, {"keepdims", int64_t{0}}}), S({3}));
  EXPECT_SHAPE(infer("ReduceMean", {data({2, D, 4})}), S({1, 1, 1}));
  EXPECT_INFER_ERROR(infer("ReduceMean", {data({2, 3})}, {{"axes", Dims{2}}}), "out of range");
  EXPECT_INFER_ERROR(infer("ReduceMean", {data({2, 3})}, {{"axes", Dims{1, -1}}}), "repeat");
}

TEST(OpsInference, EveryRequiredOpIsRegistered) {
  for (const char* op : {"Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Softmax", "Conv",
                         "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization", "Flatten", "Reshape",
                         "Transpose", "Concat", "Identity", "Dropout", "LeakyRelu", "Clip", "Exp", "Log", "Sqrt",
                         "Neg", "Abs", "Erf", "Pow", "Squeeze", "Unsqueeze", "Shape", "Gather", "Cast", "ReduceMean",
                         "Equal", "Where"})
    EXPECT_NE(find_op_schema(op), nullptr) << op;
}

}  // namespace
}  // namespace lw::ir
