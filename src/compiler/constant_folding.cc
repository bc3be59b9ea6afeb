#include "compiler/constant_folding.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "backends/cpu/kernel.h"
#include "compiler/new_tensor.h"
#include "core/blob.h"
#include "graph/op_registry.h"

namespace lw::compiler {

namespace {

bool is_special(const std::string& op) {
  return op == ir::kOpData || op == ir::kOpConst || op == ir::kOpVariable || op == ir::kOpAssign;
}

const ir::TensorData* const_data(const ir::Graph& g, ir::ValueId v) {
  const ir::Value& val = g.value(v);
  if (val.producer < 0) return nullptr;
  const ir::Node& p = g.nodes[static_cast<size_t>(val.producer)];
  return p.op == ir::kOpConst ? p.attr_tensor("value") : nullptr;
}

// Shape (honoring start/end like the Shape kernel) or Size of a static-shaped value.
Result<ir::TensorData> fold_shape(const ir::Node& n, const Dims& x) {
  if (n.op == "Size") {
    int64_t count = 1;
    for (int64_t d : x) count *= d;  // static shapes were checked for overflow when inferred
    LW_ASSIGN_OR_RETURN(ir::TensorData t, new_tensor(DType::kInt64, Dims{}));
    std::memcpy(writable(t.bytes), &count, sizeof(count));
    return t;
  }
  int64_t r = static_cast<int64_t>(x.size());
  int64_t start = n.attr_int("start", 0), end = n.attr_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  Dims values;
  for (int64_t k = start; k < end; ++k) values.push_back(x[static_cast<size_t>(k)]);
  LW_ASSIGN_OR_RETURN(ir::TensorData t, new_tensor(DType::kInt64, Dims{static_cast<int64_t>(values.size())}));
  if (!values.empty()) std::memcpy(writable(t.bytes), values.data(), values.size() * sizeof(int64_t));
  return t;
}

// Runs the node's CPU kernel on its constant inputs. nullopt when the node cannot be folded
// (no kernel, too large); an error when the kernel rejects the data.
Result<std::optional<ir::TensorData>> evaluate(const ir::Graph& g, const ir::Node& n) {
  cpu::KernelFactory factory = cpu::find_cpu_kernel(n.op);
  if (!factory) return std::optional<ir::TensorData>();
  const ir::Value& out = g.value(n.outputs[0]);
  if (!out.shape.is_static() || dtype_size(out.dtype) == 0) return std::optional<ir::TensorData>();
  LW_ASSIGN_OR_RETURN(uint64_t out_bytes, byte_size(out.dtype, out.shape.dims()));
  if (out_bytes > kMaxFoldedBytes) return std::optional<ir::TensorData>();

  cpu::KernelSpec spec{n, {}, {}, {}, 1, {}, {}, {}, {}};
  std::vector<const void*> inputs;
  for (ir::ValueId v : n.inputs) {
    if (v == ir::kNoValue) {
      spec.inputs.push_back(ir::TensorType{});
      spec.const_inputs.push_back(nullptr);
      inputs.push_back(nullptr);
      continue;
    }
    const ir::TensorData* t = const_data(g, v);
    spec.inputs.push_back(ir::TensorType{t->dtype, Shape(t->dims)});
    spec.const_inputs.push_back(t);
    inputs.push_back(t->bytes.data);
  }
  spec.outputs.push_back(ir::TensorType{out.dtype, out.shape});
  LW_ASSIGN_OR_RETURN(std::unique_ptr<cpu::Kernel> kernel, factory(spec));
  LW_ASSIGN_OR_RETURN(ir::TensorData result, new_tensor(out.dtype, out.shape.dims()));
  LW_ASSIGN_OR_RETURN(Blob scratch, new_blob(kernel->scratch_bytes()));
  // Empty constants may have no address; kernels get a valid one.
  static const uint64_t kEmpty[2] = {0, 0};
  for (size_t i = 0; i < inputs.size(); ++i)
    if (n.inputs[i] != ir::kNoValue && !inputs[i]) inputs[i] = kEmpty;
  void* outputs[1] = {writable(result.bytes)};
  cpu::KernelRun run{inputs.data(), outputs, writable(scratch)};
  LW_RETURN_IF_ERROR(kernel->run(run));
  return std::optional<ir::TensorData>(std::move(result));
}

void make_const(ir::Node& n, ir::TensorData data) {
  n.op = ir::kOpConst;
  n.inputs.clear();
  n.attrs.clear();
  n.attrs["value"] = std::move(data);
}

}  // namespace

Result<int> fold_constants(ir::Graph& graph) {
  int total = 0;
  for (size_t pass = 0; pass <= graph.nodes.size(); ++pass) {
    int folded = 0;
    for (ir::Node& n : graph.nodes) {
      if (is_special(n.op) || n.outputs.size() != 1) continue;
      if ((n.op == "Shape" || n.op == "Size") && n.inputs.size() == 1 && n.inputs[0] != ir::kNoValue &&
          graph.value(n.inputs[0]).shape.is_static()) {
        LW_ASSIGN_OR_RETURN(ir::TensorData t, fold_shape(n, graph.value(n.inputs[0]).shape.dims()));
        make_const(n, std::move(t));
        ++folded;
        continue;
      }
      bool all_const = !n.inputs.empty();
      for (ir::ValueId v : n.inputs)
        if (v != ir::kNoValue && !const_data(graph, v)) all_const = false;
      if (!all_const) continue;
      LW_ASSIGN_OR_RETURN(std::optional<ir::TensorData> t, evaluate(graph, n));
      if (!t) continue;
      make_const(n, std::move(*t));
      ++folded;
    }
    total += folded;
    if (folded == 0) break;
    LW_RETURN_IF_ERROR(ir::infer_graph_types(graph));
  }
  return total;
}

}  // namespace lw::compiler
