#include "backends/kernel_harness.h"

#include <random>

#include "core/blob.h"
#include "graph/op_registry.h"

namespace lw::test {

namespace {
template <typename T>
TensorIn make(DType t, Dims dims, const std::vector<T>& v, bool is_const) {
  TensorIn in;
  in.dtype = t;
  in.dims = std::move(dims);
  in.bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(in.bytes.data(), v.data(), in.bytes.size());
  in.is_const = is_const;
  return in;
}
}  // namespace

TensorIn f32(Dims dims, const std::vector<float>& v, bool c) { return make(DType::kFloat32, std::move(dims), v, c); }
TensorIn i64(Dims dims, const std::vector<int64_t>& v, bool c) { return make(DType::kInt64, std::move(dims), v, c); }
TensorIn i32(Dims dims, const std::vector<int32_t>& v, bool c) { return make(DType::kInt32, std::move(dims), v, c); }
TensorIn boolean(Dims dims, const std::vector<uint8_t>& v, bool c) { return make(DType::kBool, std::move(dims), v, c); }
TensorIn omitted() {
  TensorIn in;
  in.omitted = true;
  return in;
}

namespace {

// prepare_op, or with `fused_output` set prepare_fused_op.
Result<PreparedOp> prepare(const std::string& op, const std::vector<TensorIn>& inputs, const Attrs& attrs,
                           int num_outputs, int threads, const TensorOut* fused_output,
                           const std::vector<cpu::Layout>& input_layouts = {},
                           const std::vector<cpu::Layout>& output_layouts = {}) {
  PreparedOp p;
  p.graph = std::make_unique<ir::Graph>();
  ir::Graph& g = *p.graph;
  g.name = "one_node";
  ir::Node node;
  node.op = op;
  node.name = "node_under_test";
  node.attrs = attrs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorIn& in = inputs[i];
    if (in.omitted) {
      node.inputs.push_back(ir::kNoValue);
    } else if (in.is_const) {
      ir::TensorData td;
      td.dtype = in.dtype;
      td.dims = in.dims;
      td.bytes = Blob::copy_of(in.bytes.data(), in.bytes.size());
      node.inputs.push_back(g.add_const(str_cat("in", i), std::move(td)));
    } else {
      node.inputs.push_back(g.add_data(str_cat("in", i), in.dtype, Shape(in.dims)));
    }
  }
  for (int i = 0; i < num_outputs; ++i)
    node.outputs.push_back(fused_output ? g.add_value(str_cat("out", i), fused_output->dtype, Shape(fused_output->dims))
                                        : g.add_value(str_cat("out", i), DType::kUndefined, Shape::unknown_rank()));
  int32_t node_index = g.add_node(std::move(node));
  if (!fused_output) LW_RETURN_IF_ERROR(ir::infer_graph_types(g));
  const ir::Node& n = g.nodes[static_cast<size_t>(node_index)];

  cpu::KernelFactory factory = cpu::find_cpu_kernel(op);
  if (!factory) return make_error(StatusCode::kOpNotFound, "no CPU kernel for ", op);
  cpu::KernelSpec spec{n, {}, {}, {}, threads, input_layouts, output_layouts, {}, {}};
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].omitted) {
      spec.inputs.push_back(ir::TensorType{});
      spec.const_inputs.push_back(nullptr);
      continue;
    }
    const ir::Value& v = g.value(n.inputs[i]);
    spec.inputs.push_back(ir::TensorType{v.dtype, v.shape});
    const ir::Node& producer = g.nodes[static_cast<size_t>(v.producer)];
    spec.const_inputs.push_back(producer.op == ir::kOpConst ? producer.attr_tensor("value") : nullptr);
  }
  for (ir::ValueId out : n.outputs) {
    const ir::Value& v = g.value(out);
    if (!v.shape.is_static()) return make_error(StatusCode::kInternal, "output shape not static: ", v.shape.to_string());
    spec.outputs.push_back(ir::TensorType{v.dtype, v.shape});
    TensorOut o;
    o.dtype = v.dtype;
    o.dims = v.shape.dims();
    p.outputs.push_back(std::move(o));
  }
  LW_ASSIGN_OR_RETURN(p.kernel, factory(spec));
  return p;
}

}  // namespace

Result<PreparedOp> prepare_op(const std::string& op, const std::vector<TensorIn>& inputs, const Attrs& attrs,
                              int num_outputs, int threads) {
  return prepare(op, inputs, attrs, num_outputs, threads, nullptr);
}

Result<PreparedOp> prepare_fused_op(const std::string& op, const std::vector<TensorIn>& inputs, const Attrs& attrs,
                                    DType dtype, const Dims& dims, int threads) {
  TensorOut out;
  out.dtype = dtype;
  out.dims = dims;
  return prepare(op, inputs, attrs, 1, threads, &out);
}

Result<PreparedOp> prepare_fused_op(const std::string& op, const std::vector<TensorIn>& inputs, const Attrs& attrs,
                                    DType dtype, const Dims& dims, int threads,
                                    const std::vector<cpu::Layout>& input_layouts, cpu::Layout output_layout) {
  TensorOut out;
  out.dtype = dtype;
  out.dims = dims;
  return prepare(op, inputs, attrs, 1, threads, &out, input_layouts, {output_layout});
}

Result<std::vector<TensorOut>> execute(const PreparedOp& p, const std::vector<TensorIn>& inputs) {
  std::vector<AlignedPtr> in_buffers, out_buffers;
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
  for (const TensorIn& in : inputs) {
    if (in.omitted) {
      in_ptrs.push_back(nullptr);
      continue;
    }
    in_buffers.emplace_back(static_cast<uint8_t*>(alloc_aligned(in.bytes.size())));
    if (!in.bytes.empty()) std::memcpy(in_buffers.back().get(), in.bytes.data(), in.bytes.size());
    in_ptrs.push_back(in_buffers.back().get());
  }
  std::vector<TensorOut> outs = p.outputs;
  for (TensorOut& o : outs) {
    o.bytes.resize(static_cast<size_t>(count(o.dims)) * dtype_size(o.dtype));
    out_buffers.emplace_back(static_cast<uint8_t*>(alloc_aligned(o.bytes.size())));
    std::memset(out_buffers.back().get(), 0xAB, o.bytes.size());  // garbage, so unwritten outputs show
    out_ptrs.push_back(out_buffers.back().get());
  }
  AlignedPtr scratch(static_cast<uint8_t*>(alloc_aligned(p.kernel->scratch_bytes())));
  cpu::KernelRun run{in_ptrs.data(), out_ptrs.data(), scratch.get()};
  LW_RETURN_IF_ERROR(p.kernel->run(run));
  for (size_t i = 0; i < outs.size(); ++i)
    if (!outs[i].bytes.empty()) std::memcpy(outs[i].bytes.data(), out_buffers[i].get(), outs[i].bytes.size());
  return outs;
}

Result<std::vector<TensorOut>> run_op(const std::string& op, const std::vector<TensorIn>& inputs, const Attrs& attrs,
                                      int num_outputs, int threads) {
  LW_ASSIGN_OR_RETURN(PreparedOp p, prepare_op(op, inputs, attrs, num_outputs, threads));
  return execute(p, inputs);
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

int64_t count(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t broadcast_offset(const Dims& idx, const Dims& in_dims) {
  size_t shift = idx.size() - in_dims.size();
  int64_t off = 0;
  for (size_t k = 0; k < in_dims.size(); ++k) off = off * in_dims[k] + (in_dims[k] == 1 ? 0 : idx[k + shift]);
  return off;
}

Dims unravel(int64_t i, const Dims& dims) {
  Dims idx(dims.size());
  for (size_t k = dims.size(); k-- > 0;) {
    idx[k] = i % dims[k];
    i /= dims[k];
  }
  return idx;
}

}  // namespace lw::test
