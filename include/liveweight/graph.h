// lw::Graph: liveweight's graph type for building models in C++ (the graph the ge:: build API
// takes). A graph is a list of operators over named tensors, with ONNX operator names and
// semantics, plus the weight-update node kinds: Variables (weights stored in a bundle) and
// Assign (writes a tensor into a Variable).
//
// Ownership: a Graph owns its nodes; constant data is copied in when added. Copying a Graph is
// cheap and independent (constant bytes are shared, read-only). Not thread-safe: build a graph
// from one thread at a time.
//
// Builder calls never throw; a mistake (an unknown tensor, a repeated name) is recorded and
// returned by validate() and by every API that consumes the graph.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "liveweight/dtype.h"
#include "liveweight/export.h"
#include "liveweight/status.h"

namespace lw {

namespace ir {
class Graph;
}

// A tensor of one graph; valid only with the graph that made it.
struct Tensor {
  int32_t id = -1;
};

using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                               std::vector<std::string>>;
using Attrs = std::map<std::string, AttrValue>;

class LW_API Graph {
 public:
  explicit Graph(const std::string& name = "graph");
  Graph(const Graph& other);
  Graph& operator=(const Graph& other);
  Graph(Graph&&) noexcept;
  Graph& operator=(Graph&&) noexcept;
  ~Graph();

  // Imports an ONNX model file (opset 11-17). Errors name the file and the node.
  static Result<Graph> from_onnx(const std::string& path);

  const std::string& name() const;

  // A graph input; its index is the number of inputs added before it. dims may hold -1.
  Tensor add_input(const std::string& name, DType dtype, const std::vector<int64_t>& dims);
  // Constant data, copied from `data` (exactly byte_size(dtype, dims) bytes).
  Tensor add_constant(const std::string& name, DType dtype, const std::vector<int64_t>& dims, const void* data,
                      size_t bytes);
  // A weight stored in the bundle, shared with the bundle's other graphs by name.
  Tensor add_variable(const std::string& name, DType dtype, const std::vector<int64_t>& dims);
  // An ONNX operator. Output tensors are named "<name>:<i>" (name defaults to "<op>_<n>").
  std::vector<Tensor> add_op(const std::string& op, const std::vector<Tensor>& inputs, const Attrs& attrs = {},
                             size_t num_outputs = 1, const std::string& name = "");
  // Writes `value` into `variable` when the graph runs; with skip_if_empty an empty value (any
  // dim 0) leaves the variable unchanged.
  void add_assign(Tensor variable, Tensor value, bool skip_if_empty);
  void set_outputs(const std::vector<Tensor>& outputs);

  // Checks the graph: structure, and the types and shapes every operator computes.
  Status validate() const;

  // For liveweight's own implementation (the IR is not a public type).
  const ir::Graph& ir() const;
  explicit Graph(std::shared_ptr<ir::Graph> ir);

 private:
  ir::Graph& mutable_ir();
  std::shared_ptr<ir::Graph> impl_;
  std::shared_ptr<Status> error_;  // first builder mistake
};

}  // namespace lw
