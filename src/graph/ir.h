// The graph IR: a list of nodes over SSA values.
//
// Every value has a dtype and a Shape (dims may be dynamic, rank may be unknown) and is
// produced by exactly one node. Node kinds:
//   "Data"      graph input; attr "index" (int) is its input index; no inputs, one output.
//   "Const"     attr "value" (tensor); no inputs, one output.
//   "Variable"  a weight whose storage lives in the bundle; the output value's name is the
//               Variable's name; no inputs, one output.
//   "Assign"    inputs [variable, source]; attr "skip_if_empty" (int, 0/1); no outputs.
//               Writes `source` into the Variable (a side effect on the bundle's weights).
//   anything else: an ONNX operator with ONNX semantics, or an internal "lw."-prefixed op.
// Nodes are kept in topological order (verify() checks it; sort() establishes it).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/blob.h"
#include "core/shape.h"
#include "liveweight/dtype.h"
#include "liveweight/status.h"

namespace lw::ir {

using ValueId = int32_t;
inline constexpr ValueId kNoValue = -1;  // an omitted optional input

inline constexpr const char* kOpData = "Data";
inline constexpr const char* kOpConst = "Const";
inline constexpr const char* kOpVariable = "Variable";
inline constexpr const char* kOpAssign = "Assign";

// Constant tensor data; `bytes.size` equals byte_size(dtype, dims).
struct TensorData {
  DType dtype = DType::kFloat32;
  Dims dims;
  Blob bytes;

  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(bytes.data); }
  // Element count (dims are always static here).
  uint64_t numel() const;
};

// A scalar int or float read from a constant, whatever its integer/float dtype.
Result<std::vector<int64_t>> tensor_to_ints(const TensorData& t);
Result<std::vector<double>> tensor_to_doubles(const TensorData& t);

using Attribute = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                               std::vector<std::string>, TensorData>;
enum class AttrKind { kInt = 0, kFloat, kString, kInts, kFloats, kStrings, kTensor };
inline AttrKind attr_kind(const Attribute& a) { return static_cast<AttrKind>(a.index()); }
const char* attr_kind_name(AttrKind k);

struct Value {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape = Shape::unknown_rank();
  int32_t producer = -1;  // node index, -1 while unset
};

struct Node {
  std::string op;
  std::string name;
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
  std::map<std::string, Attribute> attrs;

  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
  // Typed getters that return `fallback` when the attribute is absent; a present attribute of
  // the wrong kind is an error (check with verify_attrs in op schemas).
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, const std::vector<int64_t>& fallback = {}) const;
  std::vector<float> attr_floats(const std::string& key) const;
  const TensorData* attr_tensor(const std::string& key) const;
};

// Which nodes read each value: (node index, input slot) pairs, in node order. Built in one pass
// into two flat arrays (a handful of allocations, where a vector per value cost one each:
// 2,450 of MobileNet v2's 21,000 allocations per load). Read-only; rebuild after editing the
// graph.
class ConsumerIndex {
 public:
  using Use = std::pair<int32_t, int32_t>;
  // The uses of one value: a view into the index, valid while it lives.
  class Uses {
   public:
    Uses(const Use* begin, const Use* end) : begin_(begin), end_(end) {}
    const Use* begin() const { return begin_; }
    const Use* end() const { return end_; }
    size_t size() const { return static_cast<size_t>(end_ - begin_); }
    bool empty() const { return begin_ == end_; }
    const Use& operator[](size_t i) const { return begin_[i]; }

   private:
    const Use* begin_;
    const Use* end_;
  };
  // Value ids out of range have no uses.
  Uses operator[](size_t value) const {
    if (value + 1 >= start_.size()) return {nullptr, nullptr};
    return {uses_.data() + start_[value], uses_.data() + start_[value + 1]};
  }
  size_t size() const { return start_.empty() ? 0 : start_.size() - 1; }

 private:
  friend class Graph;
  std::vector<size_t> start_;  // uses of value v: uses_[start_[v], start_[v + 1])
  std::vector<Use> uses_;
};

class Graph {
 public:
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<ValueId> inputs;   // outputs of the Data nodes, in input-index order
  std::vector<ValueId> outputs;  // graph outputs, in order

  ValueId add_value(std::string value_name, DType dtype, Shape shape);
  // Appends a node and marks it the producer of its outputs. Returns the node index.
  int32_t add_node(Node node);

  // Convenience builders; each returns the new output value.
  ValueId add_data(const std::string& value_name, DType dtype, Shape shape);  // index = inputs.size()
  ValueId add_const(const std::string& value_name, TensorData data);
  ValueId add_variable(const std::string& var_name, DType dtype, const Dims& dims);
  void add_assign(ValueId variable, ValueId source, bool skip_if_empty, const std::string& node_name);

  const Value& value(ValueId id) const { return values[static_cast<size_t>(id)]; }
  Value& value(ValueId id) { return values[static_cast<size_t>(id)]; }
  bool valid_value(ValueId id) const { return id >= 0 && static_cast<size_t>(id) < values.size(); }
  // Finds a value by name; kNoValue when absent. Linear.
  ValueId find_value(const std::string& value_name) const;
  // Node index of the Variable named `var_name`, or -1.
  int32_t find_variable_node(const std::string& var_name) const;
  // Consumers of each value (see ConsumerIndex).
  ConsumerIndex consumers() const;

  // Checks structure: ids in range, one producer per value, unique value names, topological
  // order, Data indices 0..n-1 matching `inputs`, Assign targets are Variables, attribute
  // kinds of the special nodes. Does not check op semantics (see op_registry.h).
  Status verify() const;
  // Reorders nodes topologically (stable), failing on a cycle.
  Status sort();
  // Drops the values no node produces (left behind when a rewrite removes nodes or node
  // outputs) and renumbers the rest, in the nodes and in `inputs`/`outputs`.
  void remove_orphan_values();
};

}  // namespace lw::ir
