// Test harness for the CPU kernels: builds a one-node ir::Graph, runs type inference,
// creates the node's kernel with find_cpu_kernel and runs it on the given data. Also small
// helpers for random data and index arithmetic used by the naive references.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/kernel.h"
#include "graph/ir.h"

namespace lw::test {

struct TensorIn {
  DType dtype = DType::kFloat32;
  Dims dims;
  std::vector<uint8_t> bytes;
  bool is_const = false;  // feed through a Const node instead of a Data input
  bool omitted = false;   // an absent optional input
};

TensorIn f32(Dims dims, const std::vector<float>& v, bool is_const = false);
TensorIn i64(Dims dims, const std::vector<int64_t>& v, bool is_const = false);
TensorIn i32(Dims dims, const std::vector<int32_t>& v, bool is_const = false);
TensorIn boolean(Dims dims, const std::vector<uint8_t>& v, bool is_const = false);
TensorIn omitted();

struct TensorOut {
  DType dtype = DType::kUndefined;
  Dims dims;
  std::vector<uint8_t> bytes;
  template <typename T>
  std::vector<T> as() const {
    std::vector<T> v(bytes.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
    return v;
  }
  std::vector<float> f() const { return as<float>(); }
};

using Attrs = std::map<std::string, ir::Attribute>;

// A kernel created for one node, ready to run several times (the graph it refers to is kept).
struct PreparedOp {
  std::unique_ptr<ir::Graph> graph;
  std::unique_ptr<cpu::Kernel> kernel;
  std::vector<TensorOut> outputs;  // dtype and dims of each output, bytes empty
};
Result<PreparedOp> prepare_op(const std::string& op, const std::vector<TensorIn>& inputs, const Attrs& attrs = {},
                              int num_outputs = 1, int threads = 2);
// prepare_op for a node as compiler/passes/epilogue_fusion.h leaves it (extra inputs and
// attributes that ONNX type inference refuses): no type inference, one output of `dims`.
Result<PreparedOp> prepare_fused_op(const std::string& op, const std::vector<TensorIn>& inputs, const Attrs& attrs,
                                    DType dtype, const Dims& dims, int threads = 2);
// The same with the activation layouts of the inputs and the output (KernelSpec::input_layouts,
// output_layouts): the data passed to execute() must then be in those layouts.
Result<PreparedOp> prepare_fused_op(const std::string& op, const std::vector<TensorIn>& inputs, const Attrs& attrs,
                                    DType dtype, const Dims& dims, int threads,
                                    const std::vector<cpu::Layout>& input_layouts, cpu::Layout output_layout);
// Runs a prepared kernel on `inputs` (same shapes as prepared) with fresh buffers. Thread-safe
// as far as the kernel is.
Result<std::vector<TensorOut>> execute(const PreparedOp& p, const std::vector<TensorIn>& inputs);

// Runs `op` once. Fails with the Status of inference, kernel lookup, creation or run.
Result<std::vector<TensorOut>> run_op(const std::string& op, const std::vector<TensorIn>& inputs,
                                      const Attrs& attrs = {}, int num_outputs = 1, int threads = 2);

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);
int64_t count(const Dims& dims);
// Offset into a tensor of `in_dims` for output multi-index `idx` under numpy broadcasting.
int64_t broadcast_offset(const Dims& idx, const Dims& in_dims);
// Row-major multi-index of flat offset `i` in `dims`.
Dims unravel(int64_t i, const Dims& dims);

}  // namespace lw::test
