// CUDA kernels against the CPU backend: small graphs (one op, or a chain the epilogue fusion
// rewrites) built with the public graph builder, run on random data by a CPU Model and a CUDA
// Model, outputs compared within a per-case tolerance on the output's scale. Sizes are chosen
// to cross tile boundaries (odd, non-multiple-of-16 dims). Skipped without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include "backends/cuda/device.h"
#include "graph/ir.h"
#include "graph/op_registry.h"
#include "liveweight/graph.h"
#include "runtime/model.h"
#include "support/test_support.h"

namespace lw {
namespace {

struct Input {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
};

int64_t count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

Input random_f32(std::vector<int64_t> dims, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Input in{DType::kFloat32, std::move(dims), {}};
  std::vector<float> v(static_cast<size_t>(count(in.dims)));
  for (float& x : v) x = dist(rng);
  in.bytes.resize(v.size() * 4);
  std::memcpy(in.bytes.data(), v.data(), in.bytes.size());
  return in;
}

Input int64s(std::vector<int64_t> dims, const std::vector<int64_t>& v) {
  Input in{DType::kInt64, std::move(dims), {}};
  in.bytes.resize(v.size() * 8);
  std::memcpy(in.bytes.data(), v.data(), in.bytes.size());
  return in;
}

struct Outputs {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<DType> dtypes;
};

// Runs `g` (inputs in order) on one backend through rt::Model with host buffers.
Result<Outputs> run_on(bool cuda, const Graph& g, const std::vector<Input>& inputs, bool tf32 = false) {
  ir::GraphEntry entry{ir::GraphRole::kOther, g.ir()};
  auto store = std::make_shared<rt::VariableStore>(std::vector<rt::VariableSlot>{},
                                                   rt::StoreOptions{false, 0, false,
                                                                    cuda ? rt::WeightMemory::kCudaDevice
                                                                         : rt::WeightMemory::kHost});
  rt::DeviceOptions device{2, cuda, 0, tf32};
  LW_ASSIGN_OR_RETURN(std::shared_ptr<rt::Model> model, rt::Model::create(1, 0, std::move(entry), store, device));
  std::vector<rt::IoTensor> ins;
  for (const Input& in : inputs) {
    rt::IoTensor io;
    io.data = const_cast<uint8_t*>(in.bytes.data());
    io.size = in.bytes.size();
    ins.push_back(io);
  }
  LW_ASSIGN_OR_RETURN(std::vector<Dims> dims, model->output_dims(ins));
  Outputs out;
  std::vector<rt::IoTensor> outs;
  out.bytes.resize(dims.size());
  for (size_t k = 0; k < dims.size(); ++k) {
    DType t = model->info()->outputs[k].dtype;
    LW_ASSIGN_OR_RETURN(uint64_t bytes, byte_size(t, dims[k]));
    out.bytes[k].assign(bytes + 1, 0);
    out.dtypes.push_back(t);
    rt::IoTensor io;
    io.data = out.bytes[k].data();
    io.size = bytes;
    outs.push_back(io);
  }
  LW_RETURN_IF_ERROR(model->execute(ins, outs, nullptr));
  for (auto& b : out.bytes) b.pop_back();
  return out;
}

std::vector<double> as_doubles(const std::vector<uint8_t>& b, DType t) {
  std::vector<double> v;
  if (t == DType::kFloat32) {
    for (size_t i = 0; i + 4 <= b.size(); i += 4) {
      float f;
      std::memcpy(&f, &b[i], 4);
      v.push_back(f);
    }
  } else if (t == DType::kInt64) {
    for (size_t i = 0; i + 8 <= b.size(); i += 8) {
      int64_t x;
      std::memcpy(&x, &b[i], 8);
      v.push_back(static_cast<double>(x));
    }
  } else if (t == DType::kInt32) {
    for (size_t i = 0; i + 4 <= b.size(); i += 4) {
      int32_t x;
      std::memcpy(&x, &b[i], 4);
      v.push_back(x);
    }
  } else {
    for (uint8_t x : b) v.push_back(x);
  }
  return v;
}

class CudaParity : public ::testing::Test {
 protected:
  // Without a GPU the CPU half still runs (every case's graph is valid and runs), then the
  // test reports itself skipped.
  void TearDown() override {
    Status available = cuda::check_available();
    if (!available.is_ok() && !HasFailure()) GTEST_SKIP() << "no CUDA GPU here: " << available.message();
  }


 public:
  // Builds with `build`, runs both backends, compares every output.
  void check(const std::string& what, const std::function<Graph()>& build, const std::vector<Input>& inputs,
             double tol = 1e-4) {
    check_pair(what, build, build, inputs, tol, false);
  }

  // `on_cuda` runs on CUDA (optionally with TF32), `on_cpu` on the CPU; same inputs and outputs.
  void check_pair(const std::string& what, const std::function<Graph()>& on_cuda, const std::function<Graph()>& on_cpu,
                  const std::vector<Input>& inputs, double tol, bool tf32) {
    SCOPED_TRACE(what);
    Graph g = on_cpu();
    ASSERT_TRUE(g.validate().is_ok()) << g.validate().message();
    auto want = run_on(false, g, inputs);
    ASSERT_TRUE(want.is_ok()) << "cpu: " << want.status().message();
    Graph gc = on_cuda();
    ASSERT_TRUE(gc.validate().is_ok()) << gc.validate().message();
    if (!cuda::check_available().is_ok()) return;
    auto got = run_on(true, gc, inputs, tf32);
    ASSERT_TRUE(got.is_ok()) << "cuda: " << got.status().message();
    ASSERT_EQ(want->bytes.size(), got->bytes.size());
    for (size_t k = 0; k < want->bytes.size(); ++k) {
      ASSERT_EQ(want->bytes[k].size(), got->bytes[k].size()) << "output " << k;
      std::vector<double> a = as_doubles(got->bytes[k], got->dtypes[k]);
      std::vector<double> b = as_doubles(want->bytes[k], want->dtypes[k]);
      double scale = 1e-6;
      for (double x : b) scale = std::max(scale, std::isfinite(x) ? std::fabs(x) : 0.0);
      double worst = 0;
      size_t at = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        if (std::isnan(a[i]) && std::isnan(b[i])) continue;
        if (std::isinf(b[i]) && a[i] == b[i]) continue;
        double e = std::fabs(a[i] - b[i]) / scale;
        if (!(e <= worst)) {
          worst = e;
          at = i;
        }
      }
      EXPECT_LE(worst, tol) << what << " output " << k << ": worst at " << at << ": cuda " << a[at] << " cpu " << b[at];
    }
  }
};

Graph single(const std::string& op, const std::vector<Input>& inputs, const Attrs& attrs = {}, size_t outputs = 1,
             const std::vector<size_t>& const_inputs = {}) {
  Graph g("t");
  std::vector<Tensor> ts;
  for (size_t i = 0; i < inputs.size(); ++i) {
    bool is_const = std::find(const_inputs.begin(), const_inputs.end(), i) != const_inputs.end();
    std::string name = "x";
    name += std::to_string(i);
    ts.push_back(is_const ? g.add_constant(name, inputs[i].dtype, inputs[i].dims, inputs[i].bytes.data(), inputs[i].bytes.size())
                          : g.add_input(name, inputs[i].dtype, inputs[i].dims));
  }
  g.set_outputs(g.add_op(op, ts, attrs, outputs));
  return g;
}

// The data inputs of `single` (the ones not made constants).
std::vector<Input> data_only(const std::vector<Input>& inputs, const std::vector<size_t>& const_inputs) {
  std::vector<Input> out;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (std::find(const_inputs.begin(), const_inputs.end(), i) == const_inputs.end()) out.push_back(inputs[i]);
  return out;
}

void op(CudaParity& t, const std::string& what, const std::string& name, const std::vector<Input>& inputs,
        const Attrs& attrs = {}, size_t outputs = 1, const std::vector<size_t>& consts = {}, double tol = 1e-4);

TEST_F(CudaParity, Convolutions) {
  using V = std::vector<int64_t>;
  struct C {
    const char* what;
    V x, w;
    Attrs attrs;
    bool bias;
  };
  std::vector<C> cases = {
      {"3x3 pad 1", {2, 16, 17, 19}, {32, 16, 3, 3}, {{"pads", V{1, 1, 1, 1}}}, true},
      {"3x3 stride 2", {1, 24, 33, 31}, {40, 24, 3, 3}, {{"pads", V{1, 1, 1, 1}}, {"strides", V{2, 2}}}, true},
      {"1x1", {3, 64, 14, 14}, {96, 64, 1, 1}, {}, false},
      {"depthwise", {2, 32, 15, 15}, {32, 1, 3, 3}, {{"group", int64_t{32}}, {"pads", V{1, 1, 1, 1}}}, true},
      {"groups 4", {1, 32, 12, 13}, {48, 8, 3, 3}, {{"group", int64_t{4}}}, true},
      {"dilation 2", {1, 8, 20, 20}, {16, 8, 3, 3}, {{"dilations", V{2, 2}}, {"pads", V{2, 2, 2, 2}}}, false},
      {"asymmetric pads", {1, 5, 9, 11}, {7, 5, 3, 2}, {{"pads", V{0, 1, 2, 0}}}, true},
      {"same upper", {1, 6, 10, 10}, {9, 6, 4, 4}, {{"auto_pad", std::string("SAME_UPPER")}, {"strides", V{2, 2}}}, true},
      {"7x7 stride 2", {1, 3, 64, 64}, {64, 3, 7, 7}, {{"pads", V{3, 3, 3, 3}}, {"strides", V{2, 2}}}, false},
      {"1-D", {2, 10, 37}, {12, 10, 5}, {{"pads", V{2, 2}}}, true},
      {"3-D", {1, 4, 6, 7, 8}, {6, 4, 3, 3, 3}, {{"pads", V{1, 1, 1, 1, 1, 1}}}, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const C& c = cases[i];
    std::vector<Input> in = {random_f32(c.x, 10 + i), random_f32(c.w, 20 + i, -0.3f, 0.3f)};
    if (c.bias) in.push_back(random_f32({c.w[0]}, 30 + i));
    op(*this, c.what, "Conv", in, c.attrs);
  }
}

TEST_F(CudaParity, FusedConvEpilogues) {
  // Conv -> Add(residual) -> Relu and Conv -> Clip become one fused node on both backends.
  Input x = random_f32({2, 16, 14, 14}, 1), w = random_f32({16, 16, 3, 3}, 2, -0.2f, 0.2f), b = random_f32({16}, 3);
  Input r = random_f32({2, 16, 14, 14}, 4);
  check("conv+add+relu",
        [&] {
          Graph g("t");
          Tensor tx = g.add_input("x", DType::kFloat32, x.dims), tw = g.add_input("w", DType::kFloat32, w.dims);
          Tensor tb = g.add_input("b", DType::kFloat32, b.dims), tr = g.add_input("r", DType::kFloat32, r.dims);
          Tensor c = g.add_op("Conv", {tx, tw, tb}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}})[0];
          Tensor s = g.add_op("Add", {c, tr})[0];
          g.set_outputs(g.add_op("Relu", {s}));
          return g;
        },
        {x, w, b, r});
  float lo = 0.f, hi = 0.5f;
  Input vlo{DType::kFloat32, {}, std::vector<uint8_t>(4)}, vhi{DType::kFloat32, {}, std::vector<uint8_t>(4)};
  std::memcpy(vlo.bytes.data(), &lo, 4);
  std::memcpy(vhi.bytes.data(), &hi, 4);
  check("conv+clip",
        [&] {
          Graph g("t");
          Tensor tx = g.add_input("x", DType::kFloat32, x.dims), tw = g.add_input("w", DType::kFloat32, w.dims);
          Tensor c = g.add_op("Conv", {tx, tw}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}})[0];
          Tensor l = g.add_constant("lo", DType::kFloat32, {}, vlo.bytes.data(), 4);
          Tensor h = g.add_constant("hi", DType::kFloat32, {}, vhi.bytes.data(), 4);
          g.set_outputs(g.add_op("Clip", {c, l, h}));
          return g;
        },
        {x, w});
}

TEST_F(CudaParity, GemmAndMatMul) {
  using V = std::vector<int64_t>;
  op(*this, "gemm plain", "Gemm", {random_f32({37, 53}, 1), random_f32({53, 29}, 2), random_f32({29}, 3)});
  op(*this, "gemm transB", "Gemm", {random_f32({8, 1024}, 4), random_f32({1000, 1024}, 5), random_f32({1000}, 6)},
     {{"transB", int64_t{1}}});
  op(*this, "gemm transA alpha beta C[M,N]", "Gemm",
     {random_f32({19, 33}, 7), random_f32({19, 21}, 8), random_f32({33, 21}, 9)},
     {{"transA", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}});
  op(*this, "gemm no C", "Gemm", {random_f32({5, 7}, 10), random_f32({9, 7}, 11)}, {{"transB", int64_t{1}}});
  op(*this, "matmul 2-D", "MatMul", {random_f32({257, 129}, 12), random_f32({129, 67}, 13)});
  op(*this, "matmul batched x 2-D", "MatMul", {random_f32({2, 3, 64, 48}, 14), random_f32({48, 80}, 15)});
  op(*this, "matmul broadcast batches", "MatMul", {random_f32({4, 1, 32, 16}, 16), random_f32({3, 16, 8}, 17)});
  op(*this, "matmul attention", "MatMul", {random_f32({1, 8, 128, 64}, 18), random_f32({1, 8, 64, 128}, 19)});
  op(*this, "matmul vector", "MatMul", {random_f32({33}, 20), random_f32({33, 7}, 21)});
  op(*this, "matmul vector right", "MatMul", {random_f32({2, 5, 33}, 22), random_f32({33}, 23)});
  op(*this, "matmul const weight", "MatMul", {random_f32({16, 64}, 24), random_f32({64, 48}, 25)}, {}, 1, {1});
  (void)V{};
}

TEST_F(CudaParity, FusedGemmRelu) {
  Input a = random_f32({8, 96}, 1), b = random_f32({96, 40}, 2), c = random_f32({40}, 3);
  check("gemm+relu",
        [&] {
          Graph g("t");
          Tensor ta = g.add_input("a", DType::kFloat32, a.dims), tb = g.add_input("b", DType::kFloat32, b.dims);
          Tensor tc = g.add_input("c", DType::kFloat32, c.dims);
          g.set_outputs(g.add_op("Relu", {g.add_op("Gemm", {ta, tb, tc})[0]}));
          return g;
        },
        {a, b, c});
}

TEST_F(CudaParity, Pools) {
  using V = std::vector<int64_t>;
  Input x = random_f32({2, 8, 17, 18}, 1);
  op(*this, "maxpool 3 s2 p1", "MaxPool", {x}, {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}, {"pads", V{1, 1, 1, 1}}});
  op(*this, "maxpool ceil", "MaxPool", {x}, {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}, {"ceil_mode", int64_t{1}}});
  op(*this, "maxpool indices", "MaxPool", {x}, {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}}, 2);
  op(*this, "avgpool include pad", "AveragePool", {x},
     {{"kernel_shape", V{3, 3}}, {"pads", V{1, 1, 1, 1}}, {"count_include_pad", int64_t{1}}});
  op(*this, "avgpool exclude pad", "AveragePool", {x}, {{"kernel_shape", V{3, 3}}, {"pads", V{1, 1, 1, 1}}, {"strides", V{2, 2}}});
  op(*this, "global avg", "GlobalAveragePool", {random_f32({2, 2048, 7, 7}, 2)});
  op(*this, "global max", "GlobalMaxPool", {x});
}

TEST_F(CudaParity, Normalizations) {
  using V = std::vector<int64_t>;
  op(*this, "batchnorm", "BatchNormalization",
     {random_f32({2, 12, 9, 9}, 1), random_f32({12}, 2), random_f32({12}, 3), random_f32({12}, 4),
      random_f32({12}, 5, 0.5f, 2.f)});
  op(*this, "softmax long rows", "Softmax", {random_f32({3, 3000}, 6, -10.f, 10.f)});
  op(*this, "softmax axis 1", "Softmax", {random_f32({2, 7, 5}, 7)}, {{"axis", int64_t{1}}});
  op(*this, "logsoftmax", "LogSoftmax", {random_f32({4, 1000}, 8, -5.f, 5.f)});
  op(*this, "layernorm", "LayerNormalization", {random_f32({2, 128, 512}, 9), random_f32({512}, 10), random_f32({512}, 11)},
     {{"epsilon", 1e-5f}});
  op(*this, "reduce mean", "ReduceMean", {random_f32({2, 64, 7, 7}, 12)}, {{"axes", V{2, 3}}});
  op(*this, "reduce max middle", "ReduceMax", {random_f32({4, 9, 6}, 13)}, {{"axes", V{1}}, {"keepdims", int64_t{0}}});
  op(*this, "reduce sum", "ReduceSum", {random_f32({3, 50, 4}, 14), int64s({1}, {1})}, {}, 1, {1});
  op(*this, "reduce l2 all", "ReduceL2", {random_f32({5, 6, 7}, 15)});
  op(*this, "argmax", "ArgMax", {random_f32({6, 1000}, 16)}, {{"axis", int64_t{1}}});
}

TEST_F(CudaParity, Elementwise) {
  Input a = random_f32({2, 3, 4, 5}, 1), b = random_f32({3, 1, 5}, 2), pos = random_f32({2, 3, 4, 5}, 3, 0.1f, 3.f);
  for (const char* name : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) op(*this, name, name, {a, b});
  op(*this, "Pow", "Pow", {pos, b});
  for (const char* name : {"Relu", "Sigmoid", "Tanh", "Exp", "Erf", "Neg", "Abs", "Floor", "Round", "Softplus",
                           "HardSwish", "Sin", "Sign"})
    op(*this, name, name, {a});
  for (const char* name : {"Log", "Sqrt", "Reciprocal"}) op(*this, name, name, {pos});
  op(*this, "LeakyRelu", "LeakyRelu", {a}, {{"alpha", 0.1f}});
  op(*this, "Elu", "Elu", {a}, {{"alpha", 1.5f}});
  op(*this, "Sum3", "Sum", {a, b, random_f32({5}, 4)});
  op(*this, "large add", "Add", {random_f32({1, 64, 112, 112}, 5), random_f32({1, 64, 112, 112}, 6)});
  op(*this, "bias add", "Add", {random_f32({8, 128, 768}, 7), random_f32({768}, 8)});
  op(*this, "Less", "Less", {a, b});
  op(*this, "Equal int64", "Equal", {int64s({4}, {1, 2, 3, 4}), int64s({4}, {1, 0, 3, 0})});
}

TEST_F(CudaParity, DataMovement) {
  using V = std::vector<int64_t>;
  Input x = random_f32({2, 3, 4, 5}, 1);
  op(*this, "transpose nhwc", "Transpose", {x}, {{"perm", V{0, 2, 3, 1}}});
  op(*this, "transpose last two", "Transpose", {random_f32({3, 67, 45}, 2)}, {{"perm", V{0, 2, 1}}});
  op(*this, "concat", "Concat", {x, random_f32({2, 5, 4, 5}, 3)}, {{"axis", int64_t{1}}});
  op(*this, "slice step -1", "Slice", {x, int64s({1}, {-1}), int64s({1}, {-100}), int64s({1}, {3}), int64s({1}, {-1})},
     {}, 1, {1, 2, 3, 4});
  op(*this, "slice", "Slice", {x, int64s({2}, {1, 0}), int64s({2}, {3, 4}), int64s({2}, {2, 3}), int64s({2}, {1, 2})},
     {}, 1, {1, 2, 3, 4});
  op(*this, "gather axis 1", "Gather", {x, int64s({2, 2}, {0, 2, -1, 1})}, {{"axis", int64_t{1}}});
  op(*this, "gather embedding", "Gather", {random_f32({1000, 64}, 4), int64s({2, 3}, {5, 999, 0, 17, 42, 5})});
  op(*this, "expand", "Expand", {random_f32({3, 1}, 5), int64s({3}, {2, 3, 6})}, {}, 1, {1});
  op(*this, "tile", "Tile", {random_f32({2, 3}, 6), int64s({2}, {3, 2})}, {}, 1, {1});
  op(*this, "pad reflect", "Pad", {random_f32({1, 2, 5, 6}, 7), int64s({8}, {0, 0, 2, 1, 0, 0, 1, 2})},
     {{"mode", std::string("reflect")}}, 1, {1});
  op(*this, "pad constant", "Pad", {random_f32({1, 2, 5, 6}, 8), int64s({8}, {0, 1, 2, 1, 0, 0, 1, 2})}, {}, 1, {1});
  op(*this, "split", "Split", {random_f32({4, 10}, 9), int64s({3}, {2, 3, 5})}, {{"axis", int64_t{1}}}, 3, {1});
  op(*this, "reshape", "Reshape", {x, int64s({2}, {6, -1})}, {}, 1, {1});
  op(*this, "flatten", "Flatten", {x}, {{"axis", int64_t{2}}});
}

TEST_F(CudaParity, LessCommonPaths) {
  using V = std::vector<int64_t>;
  // Split reductions (few outputs, long rows) and a column reduction over a huge axis.
  op(*this, "reduce sum all", "ReduceSum", {random_f32({100000}, 1)});
  op(*this, "reduce mean axis 0 long", "ReduceMean", {random_f32({200000, 4}, 2)}, {{"axes", V{0}}});
  op(*this, "logsumexp", "ReduceLogSumExp", {random_f32({7, 300}, 3, -20.f, 20.f)}, {{"axes", V{1}}});
  op(*this, "argmin last index", "ArgMin", {random_f32({5, 4000}, 4)},
     {{"axis", int64_t{1}}, {"select_last_index", int64_t{1}}});
  Input cond{DType::kBool, {3, 1, 5}, {}};
  for (int i = 0; i < 15; ++i) cond.bytes.push_back(static_cast<uint8_t>(i % 3 == 0));
  op(*this, "where 3-way", "Where", {cond, random_f32({1, 4, 1}, 5), random_f32({2, 1, 4, 5}, 6)});
  op(*this, "clip runtime bounds", "Clip", {random_f32({6, 7}, 7), random_f32({}, 8, -0.5f, -0.4f), random_f32({}, 9, 0.3f, 0.4f)});
  op(*this, "layernorm with stats", "LayerNormalization",
     {random_f32({3, 10, 96}, 10), random_f32({96}, 11)}, {{"axis", int64_t{-1}}}, 3);
  op(*this, "global max small plane", "GlobalMaxPool", {random_f32({2, 3, 5, 5}, 12)});
  op(*this, "global avg 7x7", "GlobalAveragePool", {random_f32({1, 100, 7, 7}, 13)});
  std::vector<Input> many;
  for (int i = 0; i < 40; ++i) many.push_back(random_f32({2, 1 + i % 3, 3}, 100 + static_cast<uint32_t>(i)));
  op(*this, "concat 40 inputs", "Concat", many, {{"axis", int64_t{1}}});
  op(*this, "transpose odd tile", "Transpose", {random_f32({2, 37, 45}, 14)}, {{"perm", V{0, 2, 1}}});
  op(*this, "transpose int64", "Transpose", {int64s({2, 3}, {1, 2, 3, 4, 5, 6})}, {{"perm", V{1, 0}}});
  // float32 -> float16 -> float32 rounds exactly as the CPU's Cast does.
  check("cast through f16",
        [] {
          Graph g("t");
          Tensor x = g.add_input("x", DType::kFloat32, {4, 33});
          Tensor h = g.add_op("Cast", {x}, {{"to", int64_t{10}}})[0];
          g.set_outputs(g.add_op("Cast", {h}, {{"to", int64_t{1}}}));
          return g;
        },
        {random_f32({4, 33}, 15, -100.f, 100.f)}, 0.0);
}

// float16 on the GPU against float32 on the CPU: the CUDA graph casts its inputs to half and
// its output back; tolerances are those of half precision over a few ops.
TEST_F(CudaParity, Float16Network) {
  Input x = random_f32({2, 8, 12, 12}, 1), w = random_f32({16, 8, 3, 3}, 2, -0.3f, 0.3f), b = random_f32({16}, 3);
  Input m = random_f32({16, 24}, 4, -0.3f, 0.3f), s = random_f32({24}, 5, 0.5f, 1.5f);
  auto build = [&](bool half) {
    return [&, half] {
      Graph g("t");
      std::vector<Tensor> in;
      int k = 0;
      for (const Input* i : {&x, &w, &b, &m, &s}) {
        std::string name = "in";
        name += std::to_string(k++);
        Tensor t = g.add_input(name, DType::kFloat32, i->dims);
        in.push_back(half ? g.add_op("Cast", {t}, {{"to", int64_t{10}}})[0] : t);
      }
      Tensor c = g.add_op("Conv", {in[0], in[1], in[2]}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}})[0];
      Tensor r = g.add_op("Relu", {c})[0];
      Tensor p = g.add_op("MaxPool", {r}, {{"kernel_shape", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}})[0];
      Tensor gp = g.add_op("GlobalAveragePool", {p})[0];
      Tensor f = g.add_op("Flatten", {gp})[0];
      Tensor mm = g.add_op("MatMul", {f, in[3]})[0];
      Tensor ln = g.add_op("LayerNormalization", {mm, in[4]}, {{"epsilon", 1e-5f}})[0];
      Tensor sm = g.add_op("Softmax", {g.add_op("Add", {ln, mm})[0]})[0];
      g.set_outputs({half ? g.add_op("Cast", {sm}, {{"to", int64_t{1}}})[0] : sm});
      return g;
    };
  };
  check_pair("f16 conv/pool/matmul/layernorm/softmax", build(true), build(false), {x, w, b, m, s}, 2e-2, false);
}

// TF32 (an option): products rounded to a 10-bit mantissa, so a looser tolerance.
TEST_F(CudaParity, Tf32ConvAndMatMul) {
  Input x = random_f32({1, 64, 28, 28}, 1), w = random_f32({64, 64, 3, 3}, 2, -0.1f, 0.1f);
  auto conv = [&] {
    Graph g("t");
    Tensor tx = g.add_input("x", DType::kFloat32, x.dims), tw = g.add_input("w", DType::kFloat32, w.dims);
    g.set_outputs(g.add_op("Conv", {tx, tw}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
    return g;
  };
  check_pair("tf32 conv", conv, conv, {x, w}, 1e-2, true);
  Input a = random_f32({64, 1024}, 3), bm = random_f32({1024, 256}, 4);
  auto mm = [&] {
    Graph g("t");
    Tensor ta = g.add_input("a", DType::kFloat32, a.dims), tb = g.add_input("b", DType::kFloat32, bm.dims);
    g.set_outputs(g.add_op("MatMul", {ta, tb}));
    return g;
  };
  check_pair("tf32 matmul", mm, mm, {a, bm}, 1e-2, true);
}

TEST_F(CudaParity, HostFallbackInsideAGraph) {
  // Resize has no CUDA kernel: it runs on the CPU between two CUDA kernels.
  Input x = random_f32({1, 3, 8, 8}, 1);
  std::vector<float> scales = {1.f, 1.f, 2.f, 2.f};
  check("relu -> resize -> sigmoid",
        [&] {
          Graph g("t");
          Tensor tx = g.add_input("x", DType::kFloat32, x.dims);
          Tensor r = g.add_op("Relu", {tx})[0];
          Tensor empty = g.add_constant("roi", DType::kFloat32, {0}, nullptr, 0);
          Tensor s = g.add_constant("scales", DType::kFloat32, {4}, scales.data(), 16);
          Tensor up = g.add_op("Resize", {r, empty, s}, {{"mode", std::string("linear")}})[0];
          g.set_outputs(g.add_op("Sigmoid", {up}));
          return g;
        },
        {x});
}

void op(CudaParity& t, const std::string& what, const std::string& name, const std::vector<Input>& inputs,
        const Attrs& attrs, size_t outputs, const std::vector<size_t>& consts, double tol) {
  t.check(
      what, [&] { return single(name, inputs, attrs, outputs, consts); }, data_only(inputs, consts), tol);
}

}  // namespace
}  // namespace lw
