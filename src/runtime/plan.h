// Plan: one graph prepared for one set of static input shapes on the CPU backend: every node
// resolved to a kernel, every activation placed in one arena, graph outputs written straight
// into the caller's buffers. Created once, run many times, from several threads at once
// (run() is const; each run brings its own arena).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/cpu/kernel.h"
#include "graph/ir.h"
#include "runtime/execution_plan.h"
#include "runtime/variable_store.h"

namespace lw::rt {

// Bytes of a read-only file mapping (begin null: none).
struct MappedRange {
  const uint8_t* begin = nullptr;
  size_t size = 0;
  bool contains(const void* p, size_t n) const {
    auto* q = static_cast<const uint8_t*>(p);
    return begin != nullptr && q >= begin && n <= size && static_cast<size_t>(q - begin) <= size - n;
  }
};

class Plan : public ExecutionPlan {
 public:
  // With LW_PROFILE=1 a Plan times every step of its runs and prints the time per op type to
  // stderr when it is destroyed (the CUDA plan's LW_CUDA_PROFILE, for the CPU); with
  // LW_PROFILE=steps, the time of each step (node) instead.
  ~Plan() override;

  // `graph` must have static shapes on every value after inference; the Plan keeps a copy.
  // `store` maps Variable names to slots and outlives the Plan.
  // `mapped`: a read-only file mapping that may hold Const data. An Assign from a Const inside
  // it drops the source pages once copied, so init does not hold the weights twice.
  static Result<std::unique_ptr<Plan>> create(ir::Graph graph, const VariableStore& store, int num_threads,
                                              MappedRange mapped = {});

  const std::vector<Dims>& output_dims() const override { return output_dims_; }
  const std::vector<uint64_t>& output_bytes() const override { return output_bytes_; }
  const std::vector<int32_t>& variables_read() const override { return variables_read_; }
  bool writes_variables() const override { return writes_variables_; }
  uint64_t arena_bytes() const { return arena_bytes_; }

  // Runs the graph. inputs/outputs: one pointer per graph input/output, already checked for
  // size. `weights` is the pinned snapshot; `update` receives Assign writes (required when
  // writes_variables()).
  Status run(const WeightSnapshot& weights, const std::vector<const void*>& inputs,
             const std::vector<void*>& outputs, VariableStore::Update* update) const override;

 private:
  enum class Where : uint8_t { kArena, kInput, kOutput, kConst, kVariable, kNone };
  struct Binding {
    Where where = Where::kNone;
    uint64_t index = 0;  // arena offset, input/output index, or variable slot
    const void* data = nullptr;  // kConst
  };
  struct Step {
    const ir::Node* node = nullptr;
    std::unique_ptr<cpu::Kernel> kernel;  // null for an Assign
    std::vector<Binding> inputs;
    std::vector<Binding> outputs;
    // A Reshape-like step whose output took its input's memory: nothing to run.
    bool renames_only = false;
    // Assign only:
    int32_t assign_slot = -1;
    uint64_t assign_bytes = 0;
    bool assign_skip = false;
  };
  struct Copy {
    Binding from;
    size_t output;
    uint64_t bytes;
  };

  Plan() = default;
  Status resolve(const Binding& b, const WeightSnapshot& weights, const std::vector<const void*>& inputs,
                 const std::vector<void*>& outputs, uint8_t* arena, const void** out) const;
  // What KernelRun::input_generations holds for an input bound to `b`.
  static uint64_t generation(const Binding& b, const WeightSnapshot& weights);
  uint8_t* acquire_arena() const;
  // Writes `src` (plain, plain_bytes long) into `dst` in the slot's physical layout.
  Status write_variable(int32_t slot, const void* src, uint64_t plain_bytes, WeightBuffer* dst, StoreMode mode) const;
  // The whole run of an init/update graph (assign_only_): every write, batched over the threads.
  Status run_assigns(const std::vector<const void*>& inputs, const std::vector<void*>& outputs,
                     VariableStore::Update* update) const;
  void release_arena(uint8_t* arena) const;

  ir::Graph graph_;
  const VariableStore* store_ = nullptr;
  std::vector<Step> steps_;
  std::vector<Copy> final_copies_;
  std::vector<Dims> output_dims_;
  std::vector<uint64_t> output_bytes_;
  std::vector<int32_t> variables_read_;
  bool writes_variables_ = false;
  bool assign_only_ = false;
  // assign_only_: the Assign steps that write (not skipped), in step order, and their slots;
  // fixed once the plan is made (a plan is made per set of input dims, skips included).
  std::vector<const Step*> assigns_;
  std::vector<int32_t> assign_slots_;
  MappedRange mapped_;
  uint64_t arena_bytes_ = 0;
  uint64_t scratch_offset_ = 0;  // scratch region at the end of the arena
  int num_threads_ = 1;

  mutable std::mutex pool_mu_;
  mutable std::vector<AlignedPtr> arena_pool_;

  struct ProfileEntry {
    double ms = 0;
    uint64_t calls = 0;
  };
  mutable std::mutex profile_mu_;
  mutable std::map<std::string, ProfileEntry> profile_;  // op type (+ fused epilogue) -> time
  mutable uint64_t profiled_runs_ = 0;
};

}  // namespace lw::rt
