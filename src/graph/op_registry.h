// The op registry: per operator, its arity, which inputs carry shapes rather than data, and
// its type and shape inference. Kernels live with the backends (src/backends/*/kernel_registry).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "graph/ir.h"

namespace lw::ir {

struct TensorType {
  DType dtype = DType::kUndefined;
  Shape shape = Shape::unknown_rank();
};

// What an op's inference sees: the node, the types of its inputs (dtype kUndefined for an
// omitted optional input), the data of inputs that are constants, and the outputs to fill.
struct InferContext {
  const Node& node;
  std::vector<TensorType> inputs;
  std::vector<const TensorData*> const_inputs;  // same length as inputs; null when not constant
  std::vector<TensorType> outputs;              // sized to node.outputs; fill every entry

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].dtype != DType::kUndefined; }
  // An error that names the node: "node 'conv1' (Conv): <parts>".
  template <typename... Parts>
  Status error(const Parts&... parts) const {
    return make_error(StatusCode::kParseModel, "node '", node.name, "' (", node.op, "): ", parts...);
  }
};

using InferFn = std::function<Status(InferContext&)>;

struct OpSchema {
  std::string op;
  int min_inputs = 0;
  int max_inputs = 0;
  int min_outputs = 1;
  int max_outputs = 1;
  // Input slots that carry shapes, axes, sizes or scales (Reshape's `shape`, Resize's
  // `scales`...). An initializer that feeds only such slots is not a weight, and these inputs
  // must be constant when the graph is prepared.
  std::vector<int> shape_inputs;
  InferFn infer;
};

// Thread-safe after the first call (the registry is filled once, then read-only).
const OpSchema* find_op_schema(const std::string& op);
std::vector<std::string> registered_ops();

// True when `slot` of `op` is one of its shape inputs.
bool is_shape_input(const std::string& op, int slot);

// Runs inference over every node in order, setting each output value's dtype and shape.
// Values that already carry a static shape (graph inputs, Consts, Variables) are kept; a
// conflict between a declared and an inferred output type is an error naming the node.
// Unknown ops fail with one error that lists every unsupported op type.
Status infer_graph_types(Graph& graph);

// Filled in by src/graph/ops/*.cc (see ops/ops.h); called once by the registry.
void register_all_ops(std::vector<OpSchema>& registry);

}  // namespace lw::ir
