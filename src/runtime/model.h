// Model: one graph of a bundle (or a plain model) prepared for the CPU or the CUDA backend. Owns a cache of
// Plans keyed by input dims (one Plan for a static graph; graphs with dynamic or unknown-rank
// inputs get one per distinct input-dims signature). Thread-safe: several threads may execute
// the same Model at once; each execution pins the weights current when it starts.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "graph/bundle_model.h"
#include "runtime/plan.h"
#include "runtime/runtime.h"
#include "runtime/variable_store.h"

namespace lw::rt {

class Model {
 public:
  // `bundle_id` is 0 for a plain model. Checks that every op has a CPU kernel (one error
  // listing all that do not) and prepares the Plan at once when the inputs are static.
  static Result<std::shared_ptr<Model>> create(uint32_t id, uint32_t bundle_id, ir::GraphEntry entry,
                                               std::shared_ptr<VariableStore> store, const DeviceOptions& device,
                                               MappedRange mapped = {});

  uint32_t id() const { return id_; }
  uint32_t bundle_id() const { return bundle_id_; }
  std::shared_ptr<const ModelInfo> info() const { return info_; }

  // The output dims an execution with these inputs produces (validates the inputs and prepares
  // the plan for their dims, as execute does).
  Result<std::vector<Dims>> output_dims(const std::vector<IoTensor>& inputs);

  // Validates every input and output, then runs. See Runtime::execute. In the store's in-place
  // mode an inference holds the store's gate shared and an update holds it exclusive.
  Status execute(const std::vector<IoTensor>& inputs, const std::vector<IoTensor>& outputs, std::vector<Dims>* out_dims,
                 uint64_t* weight_version = nullptr);

 private:
  Model() = default;
  // Validates the inputs and writes their dims into `dims` (resized to the input count; its
  // vectors' capacity is reused, so a caller that keeps `dims` allocates nothing here).
  Status input_dims(const std::vector<IoTensor>& inputs, std::vector<Dims>* dims) const;
  Result<std::shared_ptr<const ExecutionPlan>> plan_for(const std::vector<Dims>& dims);
  // Plans `g` (a copy of graph_, or graph_ itself when it is not needed afterwards) for `dims`
  // and caches the plan.
  Result<std::shared_ptr<const ExecutionPlan>> make_plan(ir::Graph g, const std::vector<Dims>& dims);

  uint32_t id_ = 0;
  uint32_t bundle_id_ = 0;
  DeviceOptions device_;
  MappedRange mapped_;  // the read-only file mapping Const data may live in
  // As loaded, types inferred from the declared input dims; for a graph whose inputs are all
  // static, only its input and output values once its plan is made (see create).
  ir::Graph graph_;
  std::shared_ptr<VariableStore> store_;
  std::shared_ptr<const ModelInfo> info_;
  // For each input: the Variable slot of the Assign it feeds directly (update graphs), or -1.
  std::vector<int32_t> input_assign_slot_;
  std::vector<bool> input_assign_skippable_;

  std::mutex plans_mu_;
  std::map<std::vector<Dims>, std::shared_ptr<const ExecutionPlan>> plans_;
  std::list<std::vector<Dims>> plan_order_;  // oldest first, for eviction
};

}  // namespace lw::rt
